#include "libkb/publish/upload.h"

#include <algorithm>
#include <set>

#include "libkb/abi/checker.h"
#include "libkb/abi/verdict.h"
#include "libkb/config/config.h"
#include "libkb/metadata/discover.h"
#include "libkb/metadata/metadata.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::publish {

namespace fs = std::filesystem;
using hub::FileOperation;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Bytecode never ships: it is specific to one interpreter.
bool shippable(const fs::path& relative) {
  if (relative.extension() == ".pyc") return false;
  for (const auto& part : relative)
    if (part == "__pycache__") return false;
  return true;
}

std::vector<fs::path> benchmark_files(const fs::path& kernel_dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(kernel_dir / "benchmarks", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (it->is_regular_file(ec) && starts_with(name, "benchmark") && it->path().extension() == ".py")
      out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool is_benchmark_script(const std::string& repo_path) {
  fs::path p(repo_path);
  return starts_with(p.filename().string(), "benchmark") && p.extension() == ".py";
}

}  // namespace

UploadPlan plan_upload(const UploadOptions& options) {
  UploadPlan plan;
  plan.private_repo = options.private_repo;
  plan.create_pr = options.create_pr;
  metadata::DiscoveredVariants found = metadata::discover_variants(options.kernel_dir);

  std::optional<config::BuildConfig> config;
  if (fs::exists(options.kernel_dir / "build.toml")) config = config::load_build_config(options.kernel_dir);
  if (options.repo_id) {
    plan.repo_id = *options.repo_id;
  } else if (!config) {
    throw Error("--repo-id is not provided and there is no build.toml in " + options.kernel_dir.string());
  } else if (!config->general.hub_repo_id) {
    throw Error("No `general.hub.repo-id` in build.toml. Use --repo-id to specify it.");
  } else {
    plan.repo_id = *config->general.hub_repo_id;
  }
  hub::validate_repo_id(plan.repo_id);

  abi::CheckOptions abi_options;
  std::set<int> versions;
  std::vector<std::string> nonportable, dirty;
  for (const fs::path& dir : found.variants) {
    LocalVariant v;
    v.name = dir.filename().string();
    v.dir = dir;
    metadata::Metadata m = metadata::read_metadata(dir / "metadata.json");
    v.version = static_cast<int>(m.version);
    v.dirty = m.provenance && m.provenance->dirty();
    // kb-checkabi's verdict when it still fits the shared objects (it names
    // the policy the variant was checked against), else a fresh check with
    // the default policy.
    if (std::optional<abi::Verdict> verdict = abi::current_verdict(dir)) {
      v.portable = verdict->portable;
      v.abi_problems = verdict->problems;
      v.abi_policy = verdict->describe();
    } else {
      abi::VariantReport report = abi::check_variant(dir, abi_options, v.name);
      v.portable = report.ok();
      if (!v.portable) v.abi_problems = abi::summarize_problems(report, abi_options);
      v.abi_policy = abi::describe_check(abi_options);
    }
    if (!v.portable) nonportable.push_back(v.name + " (" + v.abi_problems + "; checked against " + v.abi_policy + ")");
    if (v.dirty) dirty.push_back(v.name);
    versions.insert(v.version);
    for (const std::string& rel : list_files(dir))
      if (shippable(rel))
        plan.additions.push_back({FileOperation::Kind::Add, variant::hub_variant_path(v.name) + "/" + rel, dir / rel});
    plan.variants.push_back(std::move(v));
  }
  if (!nonportable.empty()) {
    std::string list = join(nonportable, "\n  ");
    if (!options.allow_nonportable)
      throw Error("refusing to publish non-portable variant(s):\n  " + list +
                  "\nrebuild them portably, or pass --allow-nonportable to publish them anyway");
    plan.warnings.push_back("publishing non-portable variant(s): " + list);
  }
  if (!dirty.empty())
    plan.warnings.push_back("uploading " + std::to_string(dirty.size()) +
                            " build variant(s) built from a dirty git tree: " + join(dirty, ", "));

  if (options.branch) {
    plan.branch = *options.branch;
  } else if (config && config->general.hub_branch) {
    plan.branch = *config->general.hub_branch;
  } else {
    if (versions.size() != 1) {
      std::vector<std::string> listed;
      for (int v : versions) listed.push_back(std::to_string(v));
      throw Error("Found multiple versions in build variants: " + join(listed, ", "));
    }
    plan.branch = "v" + std::to_string(*versions.begin());
  }
  for (const fs::path& script : benchmark_files(options.kernel_dir))
    plan.additions.push_back({FileOperation::Kind::Add, "benchmarks/" + script.filename().string(), script});
  // Only the rendered card next to the variants, never the raw template.
  std::error_code ec;
  if (fs::is_regular_file(found.base / "CARD.md", ec)) plan.card = found.base / "CARD.md";
  return plan;
}

std::vector<FileOperation> stale_deletions(const UploadPlan& plan, const std::vector<hub::TreeEntry>& remote,
                                           bool new_branch) {
  std::set<std::string> uploaded;
  for (const auto& op : plan.additions) uploaded.insert(op.path_in_repo);
  std::vector<std::string> variant_prefixes;
  for (const auto& v : plan.variants) variant_prefixes.push_back(variant::hub_variant_path(v.name) + "/");
  std::vector<FileOperation> out;
  for (const hub::TreeEntry& e : remote) {
    if (e.directory || uploaded.count(e.path)) continue;
    bool stale;
    if (new_branch) {
      stale = starts_with(e.path, "build/") || starts_with(e.path, "benchmarks/");
    } else {
      stale = std::any_of(variant_prefixes.begin(), variant_prefixes.end(),
                          [&](const std::string& p) { return starts_with(e.path, p); }) ||
              (starts_with(e.path, "benchmarks/") && is_benchmark_script(e.path));
    }
    if (stale) out.push_back({FileOperation::Kind::Delete, e.path, {}});
  }
  return out;
}

UploadResult upload(hub::Hub& hub, const UploadPlan& plan, const std::string& message, const UploadProgress& progress) {
  UploadResult result;
  std::vector<hub::TreeEntry> remote;
  bool repo_exists = true;
  try {
    auto branches = hub.list_branches(plan.repo_id);
    result.new_branch =
        std::none_of(branches.begin(), branches.end(), [&](const hub::RefInfo& r) { return r.name == plan.branch; });
  } catch (const Error&) {
    repo_exists = false;
    result.new_branch = true;
  }
  // A new branch starts from main, whose files count as the branch's own.
  std::string base = result.new_branch ? "main" : plan.branch;
  std::optional<std::string> base_commit;
  if (repo_exists) {
    try {
      std::string commit = hub.resolve_revision(plan.repo_id, base);
      remote = hub.list_tree(plan.repo_id, commit, "", true);
      base_commit = commit;
    } catch (const Error&) {
      remote.clear();  // an empty repository has nothing to prune
    }
  }
  auto report = [&](const std::string& branch) -> std::function<void(uint64_t, uint64_t)> {
    if (!progress) return {};
    return [progress, branch](uint64_t done, uint64_t total) { progress(branch, done, total); };
  };
  hub::PublishRequest request{.branch = plan.branch,
                              .message = message,
                              .operations = plan.additions,
                              .private_repo = plan.private_repo,
                              .create_pr = plan.create_pr,
                              .progress = report(plan.branch)};
  if (base_commit) {
    request.base_commit = base_commit;
    request.base_files = remote;
  }
  for (auto& d : stale_deletions(plan, remote, result.new_branch)) request.operations.push_back(std::move(d));
  hub::PublishResult published = hub.publish(plan.repo_id, request);
  result.commit = published.commit;
  result.changed = published.changed;
  if (!published.pull_request_url.empty()) result.pull_requests.emplace_back(plan.branch, published.pull_request_url);
  if (plan.card) {
    hub::PublishRequest readme{
        .branch = kReadmeBranch,
        .message = message,
        .operations = {{.kind = FileOperation::Kind::Add, .path_in_repo = kReadmePath, .local_path = *plan.card}},
        .private_repo = plan.private_repo,
        .create_pr = plan.create_pr,
        .progress = report(kReadmeBranch)};
    hub::PublishResult card = hub.publish(plan.repo_id, readme);
    if (!card.pull_request_url.empty()) result.pull_requests.emplace_back(kReadmeBranch, card.pull_request_url);
    result.readme_published = card.changed;
    if (card.changed) result.readme_commit = card.commit;
    result.changed = result.changed || card.changed;
  }
  return result;
}

}  // namespace kb::publish
