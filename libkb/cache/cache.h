#pragma once
// The local cache of hub files, laid out as huggingface_hub lays out its cache
// so that kb and the Python tools can share one:
//
//   {root}/kernels--{org}--{name}/
//     blobs/{etag}                   file content, named by the hub's hash
//     refs/{branch}                  the commit the branch pointed at (no newline)
//     snapshots/{commit}/{path}      relative symlink to ../../blobs/{etag}
//   {root}/.locks/kernels--{org}--{name}/{etag}.lock
//
// The etag is the git blob id (40 hex) of a regular file, the SHA-256 (64 hex)
// of an LFS file. Every blob is verified against it before it is renamed into
// blobs/, and a per-blob file lock (the one huggingface_hub takes too) makes
// concurrent fetches of the same file download it once.
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "libkb/cache/verify.h"

namespace kb::cache {

namespace fs = std::filesystem;

// The cache root, from the environment at call time: KERNELS_CACHE, else
// HF_HUB_CACHE (or the legacy HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. Empty
// variables count as unset; a leading "~/" is expanded.
fs::path default_cache_root();

// Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set to 1, ON, YES or
// TRUE (any case): then only what is cached may be used.
bool offline_mode();

// Throws kb::Error unless `repo_id` is "org/name": exactly one '/', both parts
// non-empty, only letters, digits, '-', '_' and '.', no ".." or "--", at most
// 96 characters.
void check_repo_id(std::string_view repo_id);

// Throws kb::Error("refusing unsafe path in hub tree: ...") unless `path` is a
// normalised relative path: not empty, no leading '/', no backslash, no
// control character, no empty, "." or ".." component.
void check_hub_path(std::string_view path);

// "kernels--org--name" for repo type "kernel", "models--org--name" for "model".
std::string repo_folder_name(std::string_view repo_type, std::string_view repo_id);

// {root}/.locks/{repo_folder}/{etag}.lock: the lock guarding one blob.
fs::path blob_lock_path(const fs::path& root, std::string_view repo_folder, std::string_view etag);

// Writes the content of one file to the stream it is given. It may throw (the
// download failed); store() then leaves nothing behind.
using Fetch = std::function<void(std::ostream& out)>;

class RepoCache {
 public:
  // repo_type is "kernel" or "model"; throws kb::Error for a bad type or id.
  RepoCache(fs::path root, std::string repo_type, std::string repo_id);

  const fs::path& root() const { return root_; }
  const std::string& repo_type() const { return repo_type_; }
  const std::string& repo_id() const { return repo_id_; }
  const fs::path& repo_dir() const { return repo_dir_; }
  fs::path blobs_dir() const { return repo_dir_ / "blobs"; }
  fs::path refs_dir() const { return repo_dir_ / "refs"; }
  fs::path snapshots_dir() const { return repo_dir_ / "snapshots"; }

  // How long store() waits for another process's lock on the same blob
  // (default 30 minutes) before it fails with a timeout error.
  void set_lock_timeout(std::chrono::milliseconds timeout) { lock_timeout_ = timeout; }
  std::chrono::milliseconds lock_timeout() const { return lock_timeout_; }

  // refs/{name}, whitespace stripped; nullopt when the ref file does not
  // exist. Names may be nested ("refs/pr/1") but must be safe relative paths.
  std::optional<std::string> read_ref(std::string_view name) const;
  // Atomically points refs/{name} at `commit` (a 40 or 64 hex commit id).
  void write_ref(std::string_view name, std::string_view commit) const;
  // The regular files refs/v<N> (N a non-negative int) whose content is a
  // commit id: N → commit. Unreadable or malformed files are skipped.
  std::map<int, std::string> version_refs() const;

  // The commit `revision` names in the cache: a commit id whose snapshot
  // directory exists, or the content of refs/{revision} when its snapshot
  // exists. nullopt otherwise. For offline use.
  std::optional<std::string> cached_commit(std::string_view revision) const;

  // snapshots/{commit}; throws kb::Error unless commit is 40 or 64 hex digits.
  fs::path snapshot_dir(std::string_view commit) const;
  // snapshots/{commit}/{relpath} (relpath checked with check_hub_path).
  fs::path file_path(std::string_view commit, std::string_view relpath) const;
  // Whether snapshots/{commit}/{relpath} exists and resolves to a file.
  bool has_file(std::string_view commit, std::string_view relpath) const;

  // blobs/{hex} and the lock file guarding it.
  fs::path blob_path(const ExpectedHash& hash) const;
  fs::path blob_lock_path(const ExpectedHash& hash) const;

  // Makes snapshots/{commit}/{relpath} a relative symlink to the verified
  // blob of `expected`, downloading it with `fetch` unless blobs/ already has
  // it (verified first; a corrupt blob is fetched again). Holds the blob's
  // lock throughout. The content goes to blobs/{etag}.incomplete, hashed as it
  // is written; a size or hash mismatch deletes it and throws kb::Error naming
  // `relpath`, the expected and the actual hash; otherwise it is fsynced and
  // renamed into place. The symlink is created under a temporary name and
  // renamed over the entry. Unsafe paths are refused before anything on disk
  // is touched. Returns file_path(commit, relpath).
  fs::path store(std::string_view commit, std::string_view relpath, const ExpectedHash& expected,
                 const Fetch& fetch) const;

 private:
  fs::path root_;
  std::string repo_type_;
  std::string repo_id_;
  fs::path repo_dir_;
  std::chrono::milliseconds lock_timeout_ = std::chrono::minutes(30);
};

// The offline version table of `repo_id`: version_refs() of its "kernel" repo
// overridden by those of its "model" repo, as the kernels package reads them.
std::map<int, std::string> cached_version_refs(const fs::path& root, std::string_view repo_id);

}  // namespace kb::cache
