// kb-upload: publish a kernel's built variants to a hub branch (`kb upload`).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "libkb/hub/hub.h"
#include "libkb/publish/upload.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/sign/signer.h"
#include "tools/support/tool_main.h"

namespace {

// One self-rewriting line on a terminal: "v1  [=====     ]  45%  12.0/26.7 MiB".
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void show(const std::string& branch, uint64_t done, uint64_t total) {
    if (!enabled_ || total == 0) return;
    int percent = static_cast<int>(done * 100 / total);
    if (percent == last_percent_ && branch == last_branch_) return;
    last_percent_ = percent;
    last_branch_ = branch;
    constexpr int width = 30;
    int filled = percent * width / 100;
    char sizes[64];
    std::snprintf(sizes, sizeof sizes, "%.1f/%.1f MiB", static_cast<double>(done) / (1 << 20),
                  static_cast<double>(total) / (1 << 20));
    std::cerr << "\r" << branch << "  [" << std::string(filled, '=') << std::string(width - filled, ' ') << "] "
              << percent << "%  " << sizes << std::flush;
    shown_ = true;
  }
  void finish() {
    if (shown_) std::cerr << "\n";
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  int last_percent_ = -1;
  std::string last_branch_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Publish the built variants of a kernel (build/<variant>/ or result/<variant>/) to branch\n"
      "v<version> of its hub repository, and the rendered card next to them (CARD.md, from\n"
      "kb build or kb card) as README.md on branch main. The hub comes from KB_HUB\n"
      "(unset or hf: the Hugging Face Hub at HF_ENDPOINT with HF_TOKEN; local, local:DIR, git+URL).\n"
      "Variants the ABI check finds non-portable are refused unless --allow-nonportable.",
      "kb-upload"};
  std::string kernel_dir = ".", repo_type = "kernel";
  std::optional<std::string> repo_id, branch, output_json, hub_spec;
  bool is_private = false, create_pr = false, quiet = false, allow_nonportable = false;
  app.add_option("KERNEL_DIR", kernel_dir, "Kernel directory (default: .)");
  app.add_option("--repo-id", repo_id, "Target repository (default: [general.hub] repo-id of build.toml)");
  app.add_option("--branch", branch, "Target branch (default: [general.hub] branch, else v<version>)");
  app.add_option("--repo-type", repo_type, "Repository type")->check(CLI::IsMember({"kernel", "model"}));
  app.add_flag("--private", is_private, "Create the repository as private (hubs with visibility only)");
  app.add_flag("--create-pr", create_pr, "Open a pull request instead of committing to the branch");
  app.add_option("--output-json", output_json, "Write the result as JSON to this file");
  app.add_option("--hub", hub_spec, "Hub to publish to, instead of KB_HUB");
  app.add_flag("--allow-nonportable", allow_nonportable, "Publish variants that fail the manylinux/abi3 check");
  app.add_flag("-q,--quiet", quiet, "Print only errors");
  std::string sign_key;
  app.add_option("--sign", sign_key,
                 "Sign each variant's metadata.json with this PEM private key before publishing "
                 "(metadata.json.sigstore; see kb sign)")
      ->check(CLI::ExistingFile);
  kb::tools::ToolRun run("kb-upload");
  return kb::tools::tool_main(run, app, argc, argv, [&] {
    kb::hub::OpenOptions open_options;
    open_options.repo_type = repo_type;
    std::unique_ptr<kb::hub::Hub> hub = kb::hub::open_hub(hub_spec, open_options);
    using Feature = kb::hub::Hub::Feature;
    if (create_pr && !hub->supports(Feature::PullRequests))
      throw kb::Error("--create-pr is not available on the " + hub->describe() + ": it has no pull requests");
    if (is_private && !hub->supports(Feature::PrivateRepos) && !quiet)
      std::cerr << "note: the " << hub->describe() << " has no repository visibility; --private has no effect\n";
    kb::publish::UploadOptions options{kernel_dir, repo_id, branch, allow_nonportable, is_private, create_pr};
    kb::publish::UploadPlan plan = kb::publish::plan_upload(options);
    if (!sign_key.empty()) {
      // Signed after the plan accepted the variants, then planned again so
      // the bundles are part of the upload.
      kb::sign::Pkey key = kb::sign::read_private_key(sign_key);
      for (const auto& variant : plan.variants) {
        std::string hint = kb::sign::sign_variant_with_key(variant.dir, key.get());
        if (!quiet) std::cerr << "Signed " << variant.name << " (key " << hint << ")\n";
      }
      plan = kb::publish::plan_upload(options);
    }
    for (const auto& w : plan.warnings) std::cerr << "warning: " << w << "\n";
    if (!quiet)
      std::cerr << "Uploading " << plan.variants.size() << " variant(s) of " << plan.repo_id << " to "
                << hub->describe() << "\n";
    ProgressLine bar(!quiet && isatty(STDERR_FILENO));
    kb::publish::UploadResult result =
        kb::publish::upload(*hub, plan, "Uploaded using `kb`.",
                            [&](const std::string& to, uint64_t done, uint64_t total) { bar.show(to, done, total); });
    bar.finish();
    if (!quiet && result.new_branch) std::cerr << "Using branch `" << plan.branch << "` (new)\n";
    std::string url = hub->branch_url(plan.repo_id, plan.branch).value_or(plan.repo_id + "@" + plan.branch);
    std::string status = !result.pull_requests.empty() ? "pull_request_created"
                         : result.changed              ? "uploaded"
                                                       : "no_changes";
    if (!result.changed) {
      std::cerr << "No changes to upload.\n";
    } else if (!quiet) {
      for (const auto& [target, pr] : result.pull_requests) std::cerr << "Pull request created: " << pr << "\n";
      if (result.pull_requests.empty())
        std::cerr << "Kernel uploaded: " << url << " (commit " << result.commit << ")\n";
    }
    if (result.readme_published && !quiet && !create_pr)
      std::cerr << "Card uploaded: " << plan.repo_id << "@" << kb::publish::kReadmeBranch << " "
                << kb::publish::kReadmePath << " (commit " << result.readme_commit << ")\n";
    if (output_json) {
      nlohmann::ordered_json prs = nlohmann::ordered_json::array();
      for (const auto& [target, pr] : result.pull_requests) prs.push_back({{"branch", target}, {"url", pr}});
      nlohmann::ordered_json j = {{"status", status}, {"repo_id", plan.repo_id}, {"branch", plan.branch},
                                  {"url", url},       {"commit", result.commit}, {"pull_requests", prs}};
      if (plan.card)
        j["readme"] = {{"branch", kb::publish::kReadmeBranch},
                       {"path", kb::publish::kReadmePath},
                       {"changed", result.readme_published}};
      kb::write_file_atomic(*output_json, j.dump() + "\n");
    }
    return 0;
  });
}
