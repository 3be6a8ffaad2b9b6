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

#include "libkb/util/error.h"

namespace kb::hub {

// A repository, revision or file the hub does not have. Callers that treat
// absence as an answer (an optional file, a repository to create) catch it.
class NotFound : public Error {
 public:
  enum class What { Repository, Revision, Entry };
  NotFound(What what, const std::string& message) : Error(message), what_(what) {}
  What kind() const { return what_; }

 private:
  What what_;
};

// "org/name" as the cache accepts it (cache::check_repo_id). Throws kb::Error
// naming the id otherwise.
void validate_repo_id(std::string_view repo_id);

struct RefInfo {
  std::string name;    // branch name: "main", "v1"
  std::string commit;  // lowercase hex
};

// Python bytecode (*.pyc, anything under __pycache__/): specific to one
// interpreter, so never downloaded, uploaded or locked.
bool is_bytecode(std::string_view path);

// Kernel versions: branches named v<int> -> commit.
std::map<int, std::string> version_branches(const std::vector<RefInfo>& refs);

// The commit of `version` in `versions`; kb::Error "Version N not found,
// available versions: 1, 2, 10" (numeric order) otherwise.
std::string version_commit(const std::map<int, std::string>& versions, int version);

// "You are using version N of 'org/name', but version M is available." when
// a higher version than `version` exists.
std::optional<std::string> newer_version_notice(std::string_view repo_id, int version,
                                                const std::map<int, std::string>& versions);

struct TreeEntry {
  std::string path;  // relative to the repository root, '/'-separated
  bool directory = false;
  uint64_t size = 0;                      // files only
  std::string blob_id;                    // git blob sha1 (files), tree id (directories)
  std::optional<std::string> lfs_sha256;  // LFS files: sha256 of the content
  bool symlink = false;                   // a git symbolic link (mode 120000): never installed
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
  bool private_repo = false;  // a repository created by this publish is private (hubs with visibility)
  bool create_pr = false;     // open a pull request against `branch` instead (hubs with pull requests)
  // Called as files are sent: bytes done and total of this publish (hubs that
  // transfer files over a network; others may never call it).
  std::function<void(uint64_t done, uint64_t total)> progress;
  // What the caller has just read of the branch (of main for a branch that
  // does not exist yet): its commit and recursive file listing. A hub that
  // would read them again uses these instead; the commit is then the parent
  // the commit must follow, so a branch moved in between is refused.
  std::optional<std::string> base_commit;
  std::optional<std::vector<TreeEntry>> base_files;
};

struct PublishResult {
  std::string commit;
  bool changed = true;  // false when the branch already held exactly this tree
  std::string pull_request_url;  // create_pr only
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
  // of the branch. Hubs without visibility or pull requests throw kb::Error
  // for create_pr and ignore private_repo (supports() tells beforehand).
  virtual PublishResult publish(std::string_view repo_id, const PublishRequest& request) = 0;

  // The content of one file at `revision`, or nullopt when the repository or
  // the file does not exist (a missing revision still throws). For small
  // files such as metadata.json.
  virtual std::optional<std::string> read_repo_file(std::string_view repo_id, std::string_view revision,
                                               std::string_view path);
  // Whether `path` is a file at `revision` (NotFound for a missing repository
  // or revision).
  virtual bool file_exists(std::string_view repo_id, std::string_view revision, std::string_view path);

  // Whether `org` is a trusted kernel publisher on this hub. nullopt: the hub
  // has no notion of publishers (a local hub or a git server the user chose),
  // so what it holds is as trusted as its operator. Throws when the hub cannot
  // say (the organisation is unknown, the request failed).
  virtual std::optional<bool> publisher_trusted(std::string_view org);

  enum class Feature { PrivateRepos, PullRequests };
  virtual bool supports(Feature) const { return false; }

  // Where a person can browse `branch` of `repo_id`, when the hub has a web page for it.
  virtual std::optional<std::string> branch_url(std::string_view /*repo_id*/, std::string_view /*branch*/) const {
    return std::nullopt;
  }
};

// The local hub: bare git repositories `<root>/<org>/<name>.git`.
std::unique_ptr<Hub> open_local_hub(const std::filesystem::path& root);

// A git server: repositories <base_url>/<org>/<name>.git (file://, git://,
// https://, ssh:// as libgit2 supports), read and written through mirrors
// under `mirrors`. Publishing creates missing repositories for file:// only.
std::unique_ptr<Hub> open_git_hub(const std::string& base_url, const std::filesystem::path& mirrors);
// ${XDG_CACHE_HOME:-~/.cache}/kb/git-mirrors/<digest of base_url>
std::filesystem::path default_mirror_root(const std::string& base_url);

// The Hugging Face Hub HTTP API (or a server speaking it).
struct HfHubOptions {
  std::string endpoint;           // e.g. https://huggingface.co (no trailing slash needed)
  std::optional<std::string> token;  // sent as "Authorization: Bearer" to the endpoint only
  std::string repo_type = "kernel";  // "kernel", or "model" for legacy repositories
  std::string user_agent;
  int max_attempts = 5;  // per request, with backoff (429, 5xx, dropped connections)
};
std::unique_ptr<Hub> open_hf_hub(const HfHubOptions& options);

// HF_ENDPOINT (default https://huggingface.co), with trailing slashes removed.
std::string hf_endpoint();
// HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file ($HF_TOKEN_PATH,
// else $HF_HOME/token, else ~/.cache/huggingface/token); empty values and a
// missing file mean no token.
std::optional<std::string> hf_token();

// ${XDG_DATA_HOME:-~/.local/share}/kb/hub
std::filesystem::path default_local_hub_root();

struct OpenOptions {
  std::string user_agent;            // HTTP hubs; empty: "kb/<version>"
  std::string repo_type = "kernel";  // the Hugging Face Hub only
};

// The hub KB_HUB names (`spec` overrides the variable):
//   local            the local hub at default_local_hub_root()
//   local:DIR        the local hub at DIR
//   git+URL          the git server at URL (git+file:///srv/kernels, git+git://host/kernels)
//   hf / unset       the Hugging Face Hub at hf_endpoint(), with hf_token()
// Throws kb::Error for an unknown value.
std::unique_ptr<Hub> open_hub(const std::optional<std::string>& spec = std::nullopt, const OpenOptions& options = {});

}  // namespace kb::hub
