// kb-upload: publish a kernel's built variants to a hub branch (`kb upload`).
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "libkb/hub/hub.h"
#include "libkb/publish/upload.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"

int main(int argc, char** argv) {
  CLI::App app{
      "Publish the built variants of a kernel (build/<variant>/ or result/<variant>/) to branch\n"
      "v<version> of its hub repository, and the rendered card next to them (CARD.md, from\n"
      "kb build or kb card) as README.md on branch main. The hub comes from KB_HUB\n"
      "(local, local:DIR, git+URL, hf).\n"
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    std::unique_ptr<kb::hub::Hub> hub = kb::hub::open_hub(hub_spec);
    if (create_pr) throw kb::Error("--create-pr is not available on the " + hub->describe());
    if (is_private && !quiet) std::cerr << "note: the " << hub->describe() << " has no repository visibility; --private has no effect\n";
    kb::publish::UploadOptions options{kernel_dir, repo_id, branch, allow_nonportable};
    kb::publish::UploadPlan plan = kb::publish::plan_upload(options);
    for (const auto& w : plan.warnings) std::cerr << "warning: " << w << "\n";
    if (!quiet)
      std::cerr << "Uploading " << plan.variants.size() << " variant(s) of " << plan.repo_id << " to " << hub->describe()
                << "\n";
    kb::publish::UploadResult result = kb::publish::upload(*hub, plan, "Uploaded using `kb`.");
    if (!quiet && result.new_branch) std::cerr << "Using branch `" << plan.branch << "` (new)\n";
    std::string status = result.changed ? "uploaded" : "no_changes";
    std::string url = plan.repo_id + "@" + plan.branch;
    if (!result.changed)
      std::cerr << "No changes to upload.\n";
    else if (!quiet)
      std::cerr << "Kernel uploaded: " << url << " (commit " << result.commit << ")\n";
    if (result.readme_published && !quiet)
      std::cerr << "Card uploaded: " << plan.repo_id << "@" << kb::publish::kReadmeBranch << " "
                << kb::publish::kReadmePath << " (commit " << result.readme_commit << ")\n";
    if (output_json) {
      nlohmann::ordered_json j = {{"status", status},     {"repo_id", plan.repo_id},
                                  {"branch", plan.branch}, {"url", url},
                                  {"commit", result.commit}, {"pull_requests", nlohmann::json::array()}};
      if (plan.card)
        j["readme"] = {{"branch", kb::publish::kReadmeBranch},
                       {"path", kb::publish::kReadmePath},
                       {"changed", result.readme_published}};
      kb::write_file_atomic(*output_json, j.dump() + "\n");
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return 1;
  }
}
