#include "libkb/load/verify_signatures.h"

#include <nlohmann/json.hpp>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/sign/verifier.h"
#include "libkb/variant/variant.h"

namespace kb::load {

namespace fs = std::filesystem;
using sign::Outcome;

namespace {

// The variant directories a local target names: itself when it holds a
// metadata.json or a bundle, else its build/ variants.
std::vector<fs::path> local_variant_dirs(fs::path target) {
  // "dir/" names dir: its variant name is its last component.
  if (target.has_parent_path() && target.filename().empty()) target = target.parent_path();
  std::error_code ec;
  if (fs::exists(target / "metadata.json", ec) || fs::exists(target / sign::kBundleFileName, ec)) return {target};
  std::vector<fs::path> dirs;
  if (fs::is_directory(target / "build", ec))
    for (const auto& entry : fs::directory_iterator(target / "build"))
      if (entry.is_directory() && variant::Variant::try_parse(entry.path().filename().string()))
        dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  if (dirs.empty())
    throw Error("No build variants found in: " + (target / "build").string() + " (and " + target.string() +
                " is not a variant directory)");
  return dirs;
}

std::string newest_version_or_main(const std::string& repo_id, hub::Hub* hub, const Context& ctx) {
  std::map<int, std::string> versions = ctx.local_files_only
                                            ? cache::cached_version_refs(ctx.cache_root, repo_id)
                                            : hub::version_branches(hub->list_branches(repo_id));
  if (versions.empty()) return "main";
  return fetch::resolve_version(ctx.local_files_only ? nullptr : hub, repo_id, versions.rbegin()->first,
                                ctx.cache_root, ctx.local_files_only);
}

std::vector<fs::path> hub_variant_dirs(const VerifySignaturesRequest& request, const Context& ctx) {
  // Offline, the install reads the cache only; the hub is still its handle.
  std::unique_ptr<hub::Hub> hub = open_hub(ctx);
  std::string revision;
  if (request.version && request.revision) throw Error("Only one of --revision or --version can be specified");
  if (request.version)
    revision = fetch::resolve_version(ctx.local_files_only ? nullptr : hub.get(), request.target, *request.version, ctx.cache_root, ctx.local_files_only);
  else if (request.revision)
    revision = *request.revision;
  else  // as `kernels info`: the newest version, else main
    revision = newest_version_or_main(request.target, hub.get(), ctx);
  fetch::InstallRequest install{request.target, revision, requested_env(ctx), ctx.cache_root, ctx.local_files_only};
  std::vector<fs::path> dirs;
  if (!request.all_variants) return {fetch::install_variant(*hub, install).variant_dir};
  if (ctx.local_files_only) throw Error("--all-variants needs the hub (HF_HUB_OFFLINE is set)");
  std::vector<std::string> names;
  for (const auto& v : fetch::hub_variants(*hub, request.target, revision)) names.push_back(v.str());
  if (names.empty()) throw Error("No build variants found in " + request.target + " (revision: " + revision + ")");
  for (const auto& installed : fetch::install_named_variants(*hub, install, names)) dirs.push_back(installed.variant_dir);
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

bool filtered(const sign::VariantVerification& result, const VerifySignaturesRequest& request) {
  if (request.filter_unsigned && result.outcome == Outcome::SignatureBundleMissing) return true;
  return request.filter_no_digest &&
         (result.outcome == Outcome::MetadataMissing || result.outcome == Outcome::DigestMissing);
}

}  // namespace

VerifySignaturesResult verify_signatures(const VerifySignaturesRequest& request, const Context& ctx) {
  const SignatureSettings& settings = ctx.signature;
  sign::Policy policy = settings_policy(settings);
  sign::TrustRoot root = settings_trust_root(settings);
  std::error_code ec;
  bool local = fs::exists(request.target, ec);
  if (local && (request.version || request.revision))
    throw Error("--revision and --version cannot be used with a local path");
  std::vector<fs::path> dirs = local ? local_variant_dirs(request.target) : hub_variant_dirs(request, ctx);

  VerifySignaturesResult result;
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  for (const fs::path& dir : dirs) {
    std::string variant = dir.filename().string();
    sign::VariantVerification verification = sign::verify_variant(dir, root, policy);
    if (filtered(verification, request)) continue;
    if (verification.outcome != Outcome::Success) result.exit_code = 1;
    if (request.json) {
      nlohmann::ordered_json r;
      r["variant"] = variant;
      r["path"] = dir.string();
      r["outcome"] = sign::outcome_name(verification.outcome);
      if (!verification.reason.empty()) r["reason"] = verification.reason;
      if (!verification.violations.empty()) r["violations"] = verification.violations;
      if (verification.signature_verified()) {
        r["signer"] = verification.signer.description;
        if (verification.signer.signed_at) r["signed_at"] = sign::format_rfc3339(verification.signer.signed_at);
      }
      records.push_back(std::move(r));
    } else {
      result.out += sign::outcome_report(variant, verification) + "\n";
    }
  }
  if (request.json) {
    nlohmann::ordered_json doc;
    doc["trust_root"] = root.origin;
    doc["policy"] = policy.origin;
    doc["variants"] = std::move(records);
    result.out = doc.dump(2) + "\n";
  }
  return result;
}

}  // namespace kb::load
