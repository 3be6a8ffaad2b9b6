#include "libkb/sign/verifier.h"

#include <openssl/x509.h>

#include "libkb/metadata/digest.h"
#include "libkb/metadata/metadata.h"
#include "libkb/sign/certificate.h"
#include "libkb/sign/transparency_log.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::sign {

namespace fs = std::filesystem;

namespace {

void check_message_digest(const Bundle& bundle, const std::string& digest) {
  if (bundle.message_digest && (bundle.message_digest_algorithm != "SHA2_256" || *bundle.message_digest != digest))
    throw VerificationError("Bundle message digest mismatch");
}

Signer verify_key_signed(std::string_view artifact, const Bundle& bundle, const Policy& policy) {
  const PublicKeyPolicy& trusted = trusted_key(policy, *bundle.public_key_hint);
  Pkey key = public_key_from_der(trusted.public_key_der);
  check_message_digest(bundle, sha256_bytes(artifact));
  if (!verify_signature(key.get(), artifact, bundle.signature))
    throw VerificationError("Signature is invalid for input (key " + trusted.name + ")");
  return {"public key " + trusted.name, 0, std::nullopt, *bundle.public_key_hint};
}

}  // namespace

Signer verify_artifact(std::string_view artifact, const Bundle& bundle, const TrustRoot& root, const Policy& policy) {
  if (bundle.dsse_envelope) throw VerificationError("Missing bundle message signature (the bundle holds a DSSE envelope)");
  if (bundle.public_key_hint) return verify_key_signed(artifact, bundle, policy);
  Certificate cert = certificate_from_der(*bundle.certificate_der);
  const TlogEntry& entry = bundle.tlog_entries.at(0);

  // The signing time: only the log's integrated time under its inclusion
  // promise can be checked offline (RFC 3161 timestamps need a TSA chain).
  if (!entry.signed_entry_timestamp || entry.integrated_time == 0)
    throw VerificationError("not enough sources of verified time (kb verifies the transparency log's inclusion "
                            "promise; this bundle has none)");
  if (!((entry.kind == "hashedrekord" || entry.kind == "dsse") && entry.version == "0.0.1"))
    throw VerificationError("Integrated time only supported for dsse/hashedrekord 0.0.1 types");
  int64_t time = entry.integrated_time;

  std::vector<Certificate> chain = verify_certificate_chain(cert.get(), root, time);
  verify_embedded_sct(cert.get(), chain, root);
  CertificateIdentity identity = certificate_identity(cert.get());
  check_certificate(policy, identity);
  verify_log_entry(entry, root);

  std::string digest = sha256_bytes(artifact);
  check_message_digest(bundle, digest);
  Pkey key(X509_get_pubkey(cert.get()));
  if (!key || !verify_prehashed_sha256(key.get(), digest, bundle.signature))
    throw VerificationError("Signature is invalid for input");
  verify_hashedrekord_body(entry, digest, bundle.signature, certificate_pem(cert.get()));
  return {identity.subject(), time, identity, std::nullopt};
}

std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::SignatureBundleMissing: return "SignatureBundleMissing";
    case Outcome::SignatureBundleInvalid: return "SignatureBundleInvalid";
    case Outcome::MetadataMissing: return "MetadataMissing";
    case Outcome::SignatureVerificationFailure: return "SignatureVerificationFailure";
    case Outcome::MetadataInvalid: return "MetadataInvalid";
    case Outcome::DigestMissing: return "DigestMissing";
    case Outcome::DigestVerificationFailure: return "DigestVerificationFailure";
    case Outcome::Success: return "Success";
  }
  return "?";
}

VariantVerification verify_variant(const fs::path& dir, const TrustRoot& root, const Policy& policy, bool check_digest) {
  VariantVerification out;
  auto fail = [&](Outcome outcome, std::string reason = {}) {
    out.outcome = outcome;
    out.reason = std::move(reason);
    return out;
  };
  std::error_code ec;
  const fs::path bundle_path = dir / kBundleFileName;
  if (!fs::is_regular_file(bundle_path, ec)) return fail(Outcome::SignatureBundleMissing);
  Bundle bundle;
  try {
    auto size = fs::file_size(bundle_path, ec);
    if (!ec && size > kMaxBundleBytes)
      throw BundleError("the bundle is " + std::to_string(size) + " bytes (at most " + std::to_string(kMaxBundleBytes) + ")");
    bundle = parse_bundle(read_file(bundle_path));
  } catch (const std::exception& e) {
    return fail(Outcome::SignatureBundleInvalid, e.what());
  }
  const fs::path metadata_path = dir / "metadata.json";
  if (!fs::is_regular_file(metadata_path, ec)) return fail(Outcome::MetadataMissing);
  std::string metadata_bytes;
  try {
    metadata_bytes = read_file(metadata_path);
    // The signature is checked before the JSON is parsed: a tampered file
    // never reaches the parser.
    out.signer = verify_artifact(metadata_bytes, bundle, root, policy);
  } catch (const std::exception& e) {
    return fail(Outcome::SignatureVerificationFailure, e.what());
  }
  metadata::Metadata metadata;
  try {
    metadata = metadata::parse_metadata(metadata_bytes, metadata_path.string());
  } catch (const std::exception& e) {
    return fail(Outcome::MetadataInvalid, e.what());  // "Cannot parse metadata from `...`: ..."
  }
  if (!check_digest) return out;
  if (!metadata.digest) return fail(Outcome::DigestMissing);
  try {
    out.violations = metadata::digest_violations(*metadata.digest, metadata::compute_digest(dir, metadata.digest->algorithm));
  } catch (const std::exception& e) {
    out.violations = {e.what()};
  }
  if (!out.violations.empty()) out.outcome = Outcome::DigestVerificationFailure;
  return out;
}

std::string outcome_report(const std::string& v, const VariantVerification& result) {
  const std::string no = "\xe2\x9d\x8c " + v + ": ";  // ❌
  switch (result.outcome) {
    case Outcome::SignatureBundleMissing: return no + "cannot verify kernel integrity, signature not found";
    case Outcome::SignatureBundleInvalid: return no + "cannot verify kernel integrity, invalid signature bundle:\n" + result.reason;
    case Outcome::MetadataInvalid: return no + "cannot verify kernel integrity, invalid metadata:\n" + result.reason;
    case Outcome::MetadataMissing:
    case Outcome::DigestMissing: return no + "cannot verify kernel integrity, metadata does not have a digest";
    case Outcome::DigestVerificationFailure: return no + "kernel integrity check failed\n" + join(result.violations, "\n");
    case Outcome::SignatureVerificationFailure: return no + "metadata signature verification failed:\n" + result.reason;
    case Outcome::Success: return "\xe2\x9c\x85 " + v + ": kernel metadata is correctly signed";  // ✅
  }
  return no;
}

}  // namespace kb::sign
