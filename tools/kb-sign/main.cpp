// kb-sign: signing and verifying kernel variants (sigstore bundles).
//   kb sign --key KEY.pem PATH...       sign each variant's metadata.json with a key
//   kb verify [options] PATH|REPO       check signatures and digests, per variant
//   kb trust-root show [--json]         the sigstore trust root in force
//   kb trust-root update FILE           install a trust root (trusted_root.json)
// Verification is offline: the trust root ships with kb (libkb/sign).
#include <CLI/CLI.hpp>

#include <iostream>

#include "libkb/load/verify_signatures.h"
#include "libkb/runtime/variants_report.h"
#include "libkb/sign/signer.h"
#include "libkb/sign/trust_root.h"
#include "libkb/sign/verifier.h"
#include "libkb/util/hash.h"
#include "libkb/variant/variant.h"
#include "tools/support/tool_main.h"

namespace fs = std::filesystem;

namespace {

// The variant directories PATH names: itself (it has metadata.json), else
// its build/ variants.
std::vector<fs::path> variant_dirs_to_sign(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path / "metadata.json", ec)) return {path};
  std::vector<fs::path> dirs;
  if (fs::is_directory(path / "build", ec))
    for (const auto& entry : fs::directory_iterator(path / "build"))
      if (entry.is_directory() && fs::is_regular_file(entry.path() / "metadata.json", ec)) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty())
    throw kb::Error(path.string() + " is neither a variant directory (with metadata.json) nor a kernel directory "
                                    "with built variants under build/");
  return dirs;
}

kb::resolve::Environment environment_for(const std::string& backend) {
  namespace rt = kb::runtime;
  std::optional<kb::toolchain::PythonToolchain> interpreter = rt::select_python(std::nullopt, nullptr);
  return rt::python_environment(interpreter ? &*interpreter : nullptr,
                                backend.empty() ? std::nullopt : std::optional<std::string>(backend));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sign kernel variants and verify their signatures (sigstore bundles, checked offline).", "kb-sign"};
  app.require_subcommand(1);

  CLI::App* sign = app.add_subcommand(
      "sign",
      "Sign each variant's metadata.json with a private key, writing metadata.json.sigstore beside it.\n"
      "A policy that trusts the public key ([[public-key]] in a KB_SIGNATURE_POLICY file) accepts it.");
  std::string key_file;
  std::vector<std::string> sign_paths;
  sign->add_option("--key", key_file, "Unencrypted PEM private key (ECDSA P-256/P-384, RSA or Ed25519)")->required();
  sign->add_option("PATH", sign_paths, "Variant directories, or kernel directories (their build/ variants)")
      ->required();

  CLI::App* verify = app.add_subcommand(
      "verify",
      "Verify the signature and digest of kernel variants, one line per variant (as `kernels verify-signature`).\n"
      "TARGET is a variant directory, a kernel directory (its build/ variants) or a hub repository\n"
      "(with --version or --revision). Exit status: 0 when every variant verifies, 1 otherwise.");
  kb::load::VerifySignaturesRequest request;
  std::string trust_root, policy, backend;
  std::optional<int> version;
  std::optional<std::string> revision;
  verify->add_option("TARGET", request.target, "Variant directory, kernel directory or repository id")->required();
  verify->add_option("--version", version, "Hub version to verify (branch v<N>)");
  verify->add_option("--revision", revision, "Hub revision (branch, tag or commit) to verify");
  verify->add_flag("--all-variants", request.all_variants, "Verify every variant on the hub, not just this system's");
  verify->add_flag("--filter-unsigned", request.filter_unsigned, "Skip unsigned variants");
  verify->add_flag("--filter-no-digest", request.filter_no_digest, "Skip variants whose metadata has no digest");
  verify->add_option("--trust-root", trust_root, "sigstore trusted_root.json to verify against (default: KB_TRUST_ROOT, "
                                                 "else the installed or compiled-in one)");
  verify->add_option("--policy", policy, "Policy file naming the trusted signers (default: KB_SIGNATURE_POLICY, else "
                                         "the kernels-community build workflows)");
  verify->add_option("--backend", backend, "Backend whose variant to verify from the hub (default: this system's)");
  verify->add_flag("--json", request.json, "Print one JSON document");

  CLI::App* trust = app.add_subcommand("trust-root", "Show or replace the sigstore trust root");
  trust->require_subcommand(1);
  CLI::App* show = trust->add_subcommand("show", "Print where the trust root in force comes from and what it holds");
  bool show_json = false;
  show->add_flag("--json", show_json, "Print one JSON object");
  CLI::App* update = trust->add_subcommand("update", "Install FILE (a sigstore trusted_root.json) for later runs");
  std::string update_file;
  update->add_option("FILE", update_file, "trusted_root.json")->required()->check(CLI::ExistingFile);

  kb::tools::ToolRun run("kb-sign");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    if (*sign) {
      kb::sign::Pkey key = kb::sign::read_private_key(key_file);
      for (const std::string& path : sign_paths)
        for (const fs::path& dir : variant_dirs_to_sign(path)) {
          std::string hint = kb::sign::sign_variant_with_key(dir, key.get());
          std::cout << "Signed " << dir.string() << " (key " << hint << ")\n";
        }
      return 0;
    }
    if (*verify) {
      request.version = version;
      request.revision = revision;
      std::error_code ec;
      bool hub_single = !fs::exists(request.target, ec) && !request.all_variants;
      kb::load::Context ctx = kb::load::make_context(hub_single ? environment_for(backend) : kb::resolve::Environment{},
                                                     kb::config::Backend::Cpu);
      ctx.user_agent = std::string("kb/") + KB_VERSION;
      if (!trust_root.empty()) ctx.signature.trust_root = fs::path(trust_root);
      if (!policy.empty()) ctx.signature.policy_file = fs::path(policy);
      kb::load::VerifySignaturesResult result = kb::load::verify_signatures(request, ctx);
      std::cout << result.out << std::flush;
      return result.exit_code;
    }
    if (*update) {
      kb::sign::TrustRoot root = kb::sign::install_trust_root(update_file);
      std::cout << "Installed the trust root " << update_file << " as " << root.origin << " ("
                << root.authorities.size() << " certificate authorities, " << root.transparency_logs.size()
                << " transparency logs, " << root.ct_logs.size() << " CT logs)\n";
      return 0;
    }
    kb::sign::TrustRootSource source = kb::sign::active_trust_root_source();
    kb::sign::TrustRoot root = kb::sign::load_trust_root(source);
    auto log_json = [](const kb::sign::LogKey& log) {
      nlohmann::ordered_json j;
      j["url"] = log.base_url;
      j["key_id"] = kb::to_hex(log.key_id);
      j["valid_from"] = kb::sign::format_rfc3339(log.valid.start);
      j["valid_until"] = log.valid.end ? nlohmann::ordered_json(kb::sign::format_rfc3339(*log.valid.end)) : nullptr;
      return j;
    };
    nlohmann::ordered_json j;
    j["source"] = source.description;
    j["certificate_authorities"] = nlohmann::ordered_json::array();
    for (const auto& ca : root.authorities)
      j["certificate_authorities"].push_back(
          {{"uri", ca.uri},
           {"certificates", ca.certificates_der.size()},
           {"valid_from", kb::sign::format_rfc3339(ca.valid.start)},
           {"valid_until", ca.valid.end ? nlohmann::ordered_json(kb::sign::format_rfc3339(*ca.valid.end)) : nullptr}});
    j["transparency_logs"] = nlohmann::ordered_json::array();
    for (const auto& log : root.transparency_logs) j["transparency_logs"].push_back(log_json(log));
    j["ct_logs"] = nlohmann::ordered_json::array();
    for (const auto& log : root.ct_logs) j["ct_logs"].push_back(log_json(log));
    if (show_json) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::cout << "Trust root: " << source.description << "\n";
    for (const auto& ca : j["certificate_authorities"])
      std::cout << "  certificate authority " << ca["uri"].get<std::string>() << " (from "
                << ca["valid_from"].get<std::string>() << ")\n";
    for (const auto& log : j["transparency_logs"])
      std::cout << "  transparency log " << log["url"].get<std::string>() << " key " << log["key_id"].get<std::string>()
                << "\n";
    for (const auto& log : j["ct_logs"])
      std::cout << "  CT log " << log["url"].get<std::string>() << " key " << log["key_id"].get<std::string>() << "\n";
    return 0;
  });
}
