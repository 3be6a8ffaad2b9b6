#pragma once
// Hubs: where kernels are published and fetched from. One interface over the
// Hugging Face Hub HTTP API, any git remote, and the local hub (bare git
// repositories under one directory). Kernel versions are branches `v<N>`.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kb::hub {

// "org/name" as the cache accepts it (cache::check_repo_id). Throws kb::Error
// naming the id otherwise.
void validate_repo_id(std::string_view repo_id);

struct RefInfo {
  std::string name;    // branch name: "main", "v1"
  std::string commit;  // lowercase hex
};

// Kernel versions: branches named v<int> -> commit.
std::map<int, std::string> version_branches(const std::vector<RefInfo>& refs);

struct TreeEntry {
  std::string path;  // relative to the repository root, '/'-separated
  bool directory = false;
  uint64_t size = 0;                      // files only
  std::string blob_id;                    // git blob sha1 (files), tree id (directories)
  std::optional<std::string> lfs_sha256;  // LFS files: sha256 of the content
};

struct FileOperation {
  enum class Kind { Add, Delete };
  Kind kind = Kind::Add;
  std::string path_in_repo;          // Add: a file; Delete: a file or a whole folder
  std::filesystem::path local_path;  // Add only
};

struct PublishRequest {
  std::string branch;   // created (from main) when missing
  std::string message;  // commit message
  std::vector<FileOperation> operations;
};

struct PublishResult {
  std::string commit;
  bool changed = true;  // false when the branch already held exactly this tree
};

class Hub {
 public:
  virtual ~Hub() = default;
  // "local hub at /path", "git remote file:///srv/kernels", ... for messages.
  virtual std::string describe() const = 0;
  // Commit id of a branch, tag or commit. Throws kb::Error naming the repo
  // and revision when either does not exist.
  virtual std::string resolve_revision(std::string_view repo_id, std::string_view revision) = 0;
  virtual std::vector<RefInfo> list_branches(std::string_view repo_id) = 0;
  // Entries under `path` ("" = root) at `commit`; recursive lists files only
  // (and every nested file), non-recursive lists the direct children.
  virtual std::vector<TreeEntry> list_tree(std::string_view repo_id, std::string_view commit, std::string_view path,
                                           bool recursive) = 0;
  // Streams one file's content to `sink`.
  virtual void fetch_file(std::string_view repo_id, std::string_view commit, const TreeEntry& entry,
                          const std::function<void(const char*, size_t)>& sink) = 0;
  // Creates the repository when missing, then commits the operations on top
  // of the branch.
  virtual PublishResult publish(std::string_view repo_id, const PublishRequest& request) = 0;
};

// The local hub: bare git repositories `<root>/<org>/<name>.git`.
std::unique_ptr<Hub> open_local_hub(const std::filesystem::path& root);

// A git server: repositories <base_url>/<org>/<name>.git (file://, git://,
// https://, ssh:// as libgit2 supports), read and written through mirrors
// under `mirrors`. Publishing creates missing repositories for file:// only.
std::unique_ptr<Hub> open_git_hub(const std::string& base_url, const std::filesystem::path& mirrors);
// ${XDG_CACHE_HOME:-~/.cache}/kb/git-mirrors/<digest of base_url>
std::filesystem::path default_mirror_root(const std::string& base_url);

// ${XDG_DATA_HOME:-~/.local/share}/kb/hub
std::filesystem::path default_local_hub_root();

// The hub KB_HUB names (`spec` overrides the variable):
//   local            the local hub at default_local_hub_root()
//   local:DIR        the local hub at DIR
//   git+URL          the git server at URL (git+file:///srv/kernels, git+git://host/kernels)
//   hf / unset       the Hugging Face Hub
// Throws kb::Error for an unknown value, or a hub kind this build cannot reach yet.
std::unique_ptr<Hub> open_hub(const std::optional<std::string>& spec = std::nullopt);

}  // namespace kb::hub
