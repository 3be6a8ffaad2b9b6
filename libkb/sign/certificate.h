#pragma once
// Fulcio signing certificates: who they name (the OIDC extensions policies
// judge), whether they chain to a trusted authority at the signing time, and
// their embedded certificate-transparency timestamp.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libkb/sign/crypto.h"
#include "libkb/sign/trust_root.h"

namespace kb::sign {

// The identity a Fulcio certificate records (OIDs 1.3.6.1.4.1.57264.1.*);
// an absent extension is nullopt.
struct CertificateIdentity {
  std::vector<std::string> san_uris;
  std::vector<std::string> san_emails;
  std::optional<std::string> issuer_v1;               // .1.1, raw string
  std::optional<std::string> issuer_v2;               // .1.8, UTF8String
  std::optional<std::string> build_signer_uri;        // .1.9
  std::optional<std::string> source_repository_uri;   // .1.12
  // The first SAN (URI or email): who signed, for messages.
  std::string subject() const;
};

CertificateIdentity certificate_identity(X509* cert);

// Checks the certificate chains to one of the root's authorities valid at
// `time`, is within its own validity then, and may sign code (key usage
// digitalSignature, extended key usage codeSigning). Returns the issuing
// chain (issuer first). Throws VerificationError with the reason.
std::vector<Certificate> verify_certificate_chain(X509* leaf, const TrustRoot& root, int64_t time);

// Checks the one embedded precertificate SCT against the root's CT logs
// (RFC 6962 3.2: the precertificate's TBS without the SCT list, with the
// issuer key hash of the chain's issuer). Throws VerificationError with the reason.
void verify_embedded_sct(X509* leaf, const std::vector<Certificate>& chain, const TrustRoot& root);

}  // namespace kb::sign
