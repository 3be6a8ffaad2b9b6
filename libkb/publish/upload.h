#pragma once
// Publishing built variants: what `kb upload` sends to a hub branch.
//
// The plan follows the existing `upload` command: variants come from the
// kernel's result/ or build/ directory; the branch is --branch, else
// [general.hub] branch, else v<version> (every variant must carry the same
// version); the branch receives every file of every variant under
// build/<variant>/ and benchmarks/benchmark*.py, and loses remote files that
// would be stale (see plan_upload). The rendered card next to the variants
// (build/CARD.md or result/CARD.md) becomes README.md on branch main. Unlike
// the existing tool, variants whose ABI check finds them non-portable are
// refused unless allowed.
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "libkb/hub/hub.h"

namespace kb::publish {

struct UploadOptions {
  std::filesystem::path kernel_dir = ".";
  std::optional<std::string> repo_id;  // default: [general.hub] repo-id of build.toml
  std::optional<std::string> branch;   // default: [general.hub] branch, else v<version>
  bool allow_nonportable = false;
  bool private_repo = false;  // a repository this upload creates is private (hubs with visibility)
  bool create_pr = false;     // open pull requests instead of committing (hubs with pull requests)
};

struct LocalVariant {
  std::string name;
  std::filesystem::path dir;
  int version = 0;
  bool dirty = false;    // built from a dirty git tree (provenance)
  bool portable = true;  // the ABI check passed
  std::string abi_problems;
  std::string abi_policy;  // what it was checked against: "manylinux_2_28, abi3 3.9, macOS 15.0"
};

struct UploadPlan {
  std::string repo_id;
  std::string branch;
  std::vector<LocalVariant> variants;
  // Files of the upload, relative to the repository: build/<variant>/..., benchmarks/...
  std::vector<hub::FileOperation> additions;
  // <variants dir>/CARD.md when it exists: published as README.md on main.
  std::optional<std::filesystem::path> card;
  std::vector<std::string> warnings;
  bool private_repo = false;
  bool create_pr = false;
};

// The branch and path the card is published to.
inline constexpr const char* kReadmeBranch = "main";
inline constexpr const char* kReadmePath = "README.md";

// Reads the variants and decides repo id and branch. Throws kb::Error for no
// variants, no repo id, disagreeing versions, and non-portable variants
// (unless options.allow_nonportable), naming the variants and their problems.
UploadPlan plan_upload(const UploadOptions& options);

// The deletions that keep the branch free of stale files, given the files the
// branch holds now (a recursive listing; empty for a new branch): on a new
// branch everything under build/ and benchmarks/ that is not uploaded; on an
// existing branch, under build/<variant>/ for uploaded variants only (other
// remote variants stay) and benchmark*.py files under benchmarks/.
std::vector<hub::FileOperation> stale_deletions(const UploadPlan& plan, const std::vector<hub::TreeEntry>& remote,
                                                bool new_branch);

struct UploadResult {
  std::string commit;    // of the version branch
  bool changed = false;  // the version branch or the README changed
  bool new_branch = false;
  bool readme_published = false;  // plan.card was committed to main (it differed)
  std::string readme_commit;      // main's commit when readme_published
  // create_pr: the pull requests opened, as (target branch, URL).
  std::vector<std::pair<std::string, std::string>> pull_requests;
};

// Reports transfer progress: bytes done and total of the current branch.
using UploadProgress = std::function<void(const std::string& branch, uint64_t done, uint64_t total)>;

// Plans deletions against the hub's current branch and publishes; then, when
// the plan has a card, commits it as README.md to main (no commit when main
// already holds it). The version branch goes first: a new branch starts from
// main as it was before this upload, as when the existing tool creates the
// branch before committing.
UploadResult upload(hub::Hub& hub, const UploadPlan& plan, const std::string& message,
                    const UploadProgress& progress = {});

}  // namespace kb::publish
