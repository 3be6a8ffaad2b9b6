#pragma once
// Who may sign a kernel. A policy accepts a signature when any one of its
// entries does: a GitHub workflow (runtime spec 11.2: issuer, source
// repository and one of the signer workflows), an identity (the certificate's
// SAN and OIDC issuer), or a public key (key-signed bundles, for private and
// air-gapped hubs). The default is the kernels package's: the
// kernels-community build workflows.
#include <filesystem>
#include <string>
#include <vector>

#include "libkb/sign/certificate.h"

namespace kb::sign {

inline constexpr const char* kGitHubActionsIssuer = "https://token.actions.githubusercontent.com";

struct GitHubWorkflowPolicy {
  std::string repo_id;                   // "huggingface/kernels-community"
  std::vector<std::string> signer_uris;  // https://github.com/<repo>/.github/workflows/<file>@<ref>
};

struct IdentityPolicy {
  std::string identity;  // a SAN URI or email, exactly
  std::string issuer;    // the OIDC issuer, exactly
};

struct PublicKeyPolicy {
  std::string name;            // for messages: the file it came from
  std::string public_key_der;  // SubjectPublicKeyInfo
};

struct Policy {
  std::vector<GitHubWorkflowPolicy> workflows;
  std::vector<IdentityPolicy> identities;
  std::vector<PublicKeyPolicy> keys;
  std::string origin = "the default policy";  // for messages
  bool empty() const { return workflows.empty() && identities.empty() && keys.empty(); }
};

Policy default_policy();

// The hint a key-signed bundle names its key by: base64 SHA-256 of its DER
// SubjectPublicKeyInfo.
std::string public_key_hint(const std::string& public_key_der);

// A policy file (TOML):
//   [[github-workflow]]  repo = "org/repo"  signer-uris = ["https://github.com/org/repo/.github/workflows/build.yaml@refs/heads/main"]
//   [[identity]]         identity = "me@example.com"  issuer = "https://accounts.google.com"
//   [[public-key]]       path = "hub.pub.pem"   (relative to the policy file)
//   include-default = true   (at the top: also accept what the default policy accepts)
// Throws kb::Error naming the file and the entry.
Policy load_policy_file(const std::filesystem::path& path);

// Throws VerificationError saying why no entry accepts the certificate.
void check_certificate(const Policy& policy, const CertificateIdentity& identity);

// The key entry a key-signed bundle's hint names; throws VerificationError
// when the policy trusts no such key.
const PublicKeyPolicy& trusted_key(const Policy& policy, const std::string& hint);

// The policy in force for loads: KB_SIGNATURE_POLICY names a policy file,
// else the default.
Policy active_policy();

}  // namespace kb::sign
