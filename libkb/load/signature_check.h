#pragma once
// The signature check of every load (kernels 0.18+ with sigstore): a hub
// build's metadata.json must be signed (metadata.json.sigstore) by a signer
// the policy accepts. Failures warn, as the kernels package's do; in strict
// mode (KERNELS_REQUIRE_SIGNATURE=1, require_signature=True) they are errors,
// and local builds are checked too. A verified hub build leaves a receipt
// recording the metadata and bundle files it verified (device, inode, size,
// modification time) and the signer: later loads re-check only the policy
// against the signer, and a replaced or rewritten file invalidates it.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "libkb/load/receipts.h"
#include "libkb/sign/policy.h"
#include "libkb/sign/trust_root.h"

namespace kb::load {

struct SignatureSettings {
  bool require = false;
  // Policy file and trust root (KB_SIGNATURE_POLICY, KB_TRUST_ROOT);
  // nullopt: the defaults of libkb/sign.
  std::optional<std::filesystem::path> policy_file;
  std::optional<std::filesystem::path> trust_root;
};

// The policy and trust root `settings` name (the defaults of libkb/sign when
// unset); throw kb::Error naming a file that cannot be read.
sign::Policy settings_policy(const SignatureSettings& settings);
sign::TrustRoot settings_trust_root(const SignatureSettings& settings);

// KERNELS_REQUIRE_SIGNATURE ("1", "true", "yes", "on" in any case), KB_SIGNATURE_POLICY, KB_TRUST_ROOT.
SignatureSettings signature_settings_from_env();

struct SignatureCheck {
  std::optional<std::string> failure;  // strict mode: the error to raise
  std::vector<std::string> warnings;
  bool verified = false;
  bool from_receipt = false;  // only the policy was re-checked
};

// `kernel` names the build in messages: "Kernel '<name>' variant '<variant>'".
SignatureCheck check_signature(const std::filesystem::path& variant_dir, const std::string& kernel,
                               const std::optional<KernelLocation>& location, const std::filesystem::path& cache_root,
                               const SignatureSettings& settings);

}  // namespace kb::load
