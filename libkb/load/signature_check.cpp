#include "libkb/load/signature_check.h"

#include <sys/stat.h>

#include <cstdlib>

#include "libkb/sign/certificate.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/fs.h"
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

// What a receipt records of the files it vouches for: their identity on
// disk (device, inode, size, modification time), so that a replaced or
// rewritten file voids it without hashing anything on the warm path.
nlohmann::json file_stamp(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return nullptr;
  return {st.st_dev, st.st_ino, st.st_size, static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

nlohmann::json files_stamp(const fs::path& dir) {
  return {{"metadata", file_stamp(dir / "metadata.json")}, {"bundle", file_stamp(dir / sign::kBundleFileName)}};
}

// The receipt's kb part: the files' stamp and who signed (what a policy
// judges), so a later load re-checks the policy without parsing certificates.
nlohmann::json receipt_extra(const fs::path& dir, const sign::Signer& signer) {
  nlohmann::json who;
  if (signer.key_hint) who["key_hint"] = *signer.key_hint;
  if (const auto& id = signer.identity) {
    auto put = [&](const char* key, const std::optional<std::string>& v) { who[key] = v ? nlohmann::json(*v) : nullptr; };
    put("issuer_v1", id->issuer_v1);
    put("issuer_v2", id->issuer_v2);
    put("build_signer_uri", id->build_signer_uri);
    put("source_repository_uri", id->source_repository_uri);
    who["san_uris"] = id->san_uris;
    who["san_emails"] = id->san_emails;
  }
  return {{"kb", {{"files", files_stamp(dir)}, {"signer", who}}}};
}

// Whether a receipt still vouches for the files, under the current policy:
// the same files, and a signer the policy accepts (the policy may have
// changed since). Any doubt is a miss.
bool receipt_still_holds(const nlohmann::json& receipt, const fs::path& dir, const sign::Policy& policy) {
  try {
    const nlohmann::json& kb = receipt.at("kb");
    if (kb.at("files") != files_stamp(dir)) return false;
    const nlohmann::json& who = kb.at("signer");
    if (who.contains("key_hint")) {
      sign::trusted_key(policy, who.at("key_hint").get<std::string>());
      return true;
    }
    sign::CertificateIdentity id;
    auto get = [&](const char* key) {
      const nlohmann::json& v = who.at(key);
      return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
    };
    id.issuer_v1 = get("issuer_v1");
    id.issuer_v2 = get("issuer_v2");
    id.build_signer_uri = get("build_signer_uri");
    id.source_repository_uri = get("source_repository_uri");
    id.san_uris = who.at("san_uris").get<std::vector<std::string>>();
    id.san_emails = who.at("san_emails").get<std::vector<std::string>>();
    sign::check_certificate(policy, id);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

sign::Policy settings_policy(const SignatureSettings& settings) {
  return settings.policy_file ? sign::load_policy_file(*settings.policy_file) : sign::default_policy();
}

sign::TrustRoot settings_trust_root(const SignatureSettings& settings) {
  if (settings.trust_root)
    return sign::load_trust_root({*settings.trust_root, settings.trust_root->string() + " (KB_TRUST_ROOT)"});
  return sign::load_trust_root(sign::active_trust_root_source());
}

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
  std::error_code ec;
  if (!fs::is_regular_file(variant_dir / sign::kBundleFileName, ec))
    return report(kernel + ": " + describe({sign::Outcome::SignatureBundleMissing, {}, {}, {}}));
  // Parsed only as far as needed: a receipt needs the policy, a full
  // verification the trust root too.
  sign::Policy policy;
  try {
    policy = settings_policy(settings);
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
  sign::TrustRoot root;
  try {
    root = settings_trust_root(settings);
  } catch (const std::exception& e) {
    return report(kernel + ": cannot verify its signature: " + e.what());
  }
  sign::VariantVerification result = sign::verify_variant(variant_dir, root, policy, /*check_digest=*/false);
  if (result.outcome != Outcome::Success) return report(kernel + ": " + describe(result));
  out.verified = true;
  if (location) {
    try {
      write_file_atomic(receipt, receipt_json(*location, receipt_extra(variant_dir, result.signer)));
    } catch (const std::exception& e) {
      out.warnings.push_back(std::string("Cannot store kernel signature verification receipt: ") + e.what());
    }
  }
  return out;
}

}  // namespace kb::load
