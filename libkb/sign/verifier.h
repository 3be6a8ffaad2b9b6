#pragma once
// Verifying a kernel variant's signature offline (runtime spec 11.2): the
// sigstore bundle metadata.json.sigstore must sign the exact bytes of
// metadata.json with a certificate that chains to the trust root at a time
// the transparency log vouches for, whose identity the policy accepts (or
// with a key the policy trusts); then the files must match the digest the
// signed metadata records.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/sign/bundle.h"
#include "libkb/sign/policy.h"
#include "libkb/sign/trust_root.h"

namespace kb::sign {

inline constexpr const char* kBundleFileName = "metadata.json.sigstore";

// Who signed a verified artifact, and when the log (or nothing, for keys) says.
struct Signer {
  std::string description;  // the certificate's subject, or "public key <file>"
  int64_t signed_at = 0;    // 0 when no log vouches for a time (key-signed)
  // What a policy judges: the certificate's identity, or the key's hint.
  std::optional<CertificateIdentity> identity;
  std::optional<std::string> key_hint;
};

// Verifies `artifact` against `bundle`; throws VerificationError with the
// reason. No network: everything is checked against `root` and `policy`.
Signer verify_artifact(std::string_view artifact, const Bundle& bundle, const TrustRoot& root, const Policy& policy);

// The outcomes of runtime spec 11.2, plus the digest check after them.
enum class Outcome {
  SignatureBundleMissing,
  SignatureBundleInvalid,
  MetadataMissing,
  SignatureVerificationFailure,
  MetadataInvalid,
  DigestMissing,
  DigestVerificationFailure,
  Success,
};
std::string_view outcome_name(Outcome outcome);  // "SignatureBundleMissing", ...

struct VariantVerification {
  Outcome outcome = Outcome::Success;
  std::string reason;                   // Invalid/Failure outcomes
  std::vector<std::string> violations;  // DigestVerificationFailure
  Signer signer;                        // when the signature verified
  bool signature_verified() const {
    return outcome == Outcome::Success || outcome == Outcome::DigestMissing ||
           outcome == Outcome::DigestVerificationFailure;
  }
};

// Steps 1-7 of spec 11.2 for the variant directory `dir`; with
// check_digest=false it stops once the signed metadata parses (Success).
VariantVerification verify_variant(const std::filesystem::path& dir, const TrustRoot& root, const Policy& policy,
                                   bool check_digest = true);

// The line(s) `kernels verify-signature` prints for a variant (spec 9.4),
// without a trailing newline.
std::string outcome_report(const std::string& variant, const VariantVerification& result);

}  // namespace kb::sign
