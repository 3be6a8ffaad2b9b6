#include "libkb/load/signature_check.h"

#include <cstdlib>

#include "libkb/sign/certificate.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::load {

namespace fs = std::filesystem;
using sign::Outcome;

namespace {

// The kernels package's wording of each outcome (its SignatureVerificationResult).
std::string describe(const sign::VariantVerification& result) {
  switch (result.outcome) {
    case Outcome::SignatureBundleMissing: return "not signed, so its integrity cannot be verified";
    case Outcome::SignatureBundleInvalid:
      return "the signature bundle is invalid, so its integrity cannot be verified:\n" + result.reason;
    case Outcome::MetadataMissing: return "the metadata is missing, so its integrity cannot be verified";
    case Outcome::SignatureVerificationFailure:
      return "the metadata could not be verified against its signature:\n" + result.reason;
    case Outcome::MetadataInvalid: return "the metadata is invalid, so its integrity cannot be verified:\n" + result.reason;
    default: return "the metadata is correctly signed";
  }
}

// What a receipt records of the files it vouches for.
nlohmann::json fingerprint(const fs::path& dir) {
  nlohmann::json j;
  j["metadata_sha256"] = to_hex(sha256_file_bytes(dir / "metadata.json"));
  j["bundle_sha256"] = to_hex(sha256_file_bytes(dir / sign::kBundleFileName));
  return nlohmann::json{{"kb", j}};
}

sign::Policy settings_policy(const SignatureSettings& settings) {
  return settings.policy_file ? sign::load_policy_file(*settings.policy_file) : sign::default_policy();
}

sign::TrustRoot settings_trust_root(const SignatureSettings& settings) {
  if (settings.trust_root)
    return sign::load_trust_root({*settings.trust_root, settings.trust_root->string() + " (KB_TRUST_ROOT)"});
  return sign::load_trust_root(sign::active_trust_root_source());
}

// Whether a receipt still vouches for the files, under the current policy:
// the same bytes, and a signer the policy accepts (the policy may have
// changed since). Any doubt is a miss.
bool receipt_still_holds(const nlohmann::json& receipt, const fs::path& dir, const sign::Policy& policy) {
  try {
    if (receipt.value("kb", nlohmann::json()) != fingerprint(dir)["kb"]) return false;
    sign::Bundle bundle = sign::parse_bundle(read_file(dir / sign::kBundleFileName));
    if (bundle.public_key_hint) {
      sign::trusted_key(policy, *bundle.public_key_hint);
    } else {
      sign::Certificate cert = sign::certificate_from_der(*bundle.certificate_der);
      sign::check_certificate(policy, sign::certificate_identity(cert.get()));
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

SignatureSettings signature_settings_from_env() {
  SignatureSettings settings;
  if (const char* v = std::getenv("KERNELS_REQUIRE_SIGNATURE")) {
    std::string value = to_lower(v);
    settings.require = value == "1" || value == "true" || value == "yes" || value == "on";
  }
  if (const char* v = std::getenv("KB_SIGNATURE_POLICY"); v && *v) settings.policy_file = fs::path(v);
  if (const char* v = std::getenv("KB_TRUST_ROOT"); v && *v) settings.trust_root = fs::path(v);
  return settings;
}

SignatureCheck check_signature(const fs::path& variant_dir, const std::string& kernel,
                               const std::optional<KernelLocation>& location, const fs::path& cache_root,
                               const SignatureSettings& settings) {
  SignatureCheck out;
  // Local builds are for development and unsigned: checked only when required.
  if (!location && !settings.require) return out;
  auto report = [&](const std::string& message) {
    if (settings.require)
      out.failure = message + "\n(signatures are required: KERNELS_REQUIRE_SIGNATURE / require_signature)";
    else
      out.warnings.push_back(message);
    return out;
  };
  sign::Policy policy;
  sign::TrustRoot root;
  try {
    policy = settings_policy(settings);
    root = settings_trust_root(settings);
  } catch (const std::exception& e) {
    return report(kernel + ": cannot verify its signature: " + e.what());
  }
  fs::path receipt;
  if (location) {
    receipt = receipt_path(cache_root, ReceiptKind::Signature, *location);
    if (auto stored = read_receipt(receipt, *location, out.warnings);
        stored && receipt_still_holds(*stored, variant_dir, policy)) {
      out.verified = out.from_receipt = true;
      return out;
    }
  }
  sign::VariantVerification result = sign::verify_variant(variant_dir, root, policy, /*check_digest=*/false);
  if (result.outcome != Outcome::Success) return report(kernel + ": " + describe(result));
  out.verified = true;
  if (location) {
    try {
      write_file_atomic(receipt, receipt_json(*location, fingerprint(variant_dir)));
    } catch (const std::exception& e) {
      out.warnings.push_back(std::string("Cannot store kernel signature verification receipt: ") + e.what());
    }
  }
  return out;
}

}  // namespace kb::load
