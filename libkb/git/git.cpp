#include "libkb/git/git.h"

#include <git2.h>

#include <memory>
#include <mutex>
#include <random>

#include "libkb/util/error.h"

namespace kb::git {

namespace fs = std::filesystem;

namespace {

struct RepoDeleter {
  void operator()(git_repository* r) const { git_repository_free(r); }
};
struct ReferenceDeleter {
  void operator()(git_reference* r) const { git_reference_free(r); }
};
struct ObjectDeleter {
  void operator()(git_object* o) const { git_object_free(o); }
};
struct StatusListDeleter {
  void operator()(git_status_list* s) const { git_status_list_free(s); }
};
using Repo = std::unique_ptr<git_repository, RepoDeleter>;

std::string oid_hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

// The repository containing `dir` (searching parent directories too).
Repo discover(const fs::path& dir) {
  ensure_initialized();
  git_repository* raw = nullptr;
  if (git_repository_open_ext(&raw, dir.c_str(), 0, nullptr) != 0) return nullptr;
  Repo repo(raw);
  if (git_repository_is_bare(repo.get())) return nullptr;
  return repo;
}

// HEAD peeled to its commit; nullptr without a HEAD commit.
std::unique_ptr<git_object, ObjectDeleter> head_commit(git_repository* repo) {
  git_reference* ref_raw = nullptr;
  if (git_repository_head(&ref_raw, repo) != 0) return nullptr;
  std::unique_ptr<git_reference, ReferenceDeleter> ref(ref_raw);
  git_object* commit = nullptr;
  if (git_reference_peel(&commit, ref.get(), GIT_OBJECT_COMMIT) != 0) return nullptr;
  return std::unique_ptr<git_object, ObjectDeleter>(commit);
}

// Whether tracked files differ from HEAD, in the index or the worktree.
std::optional<bool> tracked_changes(git_repository* repo) {
  git_status_options options = GIT_STATUS_OPTIONS_INIT;
  options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  // Untracked and ignored files are not listed unless asked for.
  options.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list* raw = nullptr;
  if (git_status_list_new(&raw, repo, &options) != 0) return std::nullopt;
  std::unique_ptr<git_status_list, StatusListDeleter> list(raw);
  size_t count = git_status_list_entrycount(list.get());
  for (size_t i = 0; i < count; ++i) {
    const git_status_entry* entry = git_status_byindex(list.get(), i);
    unsigned status = entry->status;
    if (status != GIT_STATUS_CURRENT && (status & (GIT_STATUS_IGNORED | GIT_STATUS_WT_NEW)) == 0) return true;
  }
  return false;
}

}  // namespace

void ensure_initialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    // libgit2 re-hashes every object it reads (with a slow collision-detecting
    // SHA-1). Blobs fetched from a hub are verified against their id by the
    // cache as they are stored, so the second pass only halves throughput.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
  });
}

std::optional<std::string> tree_unique_id(const fs::path& kernel_dir) {
  Repo repo = discover(kernel_dir);
  if (!repo) return std::nullopt;
  auto commit = head_commit(repo.get());
  if (!commit) return std::nullopt;
  const git_oid* tree = git_commit_tree_id(reinterpret_cast<const git_commit*>(commit.get()));
  std::optional<bool> dirty = tracked_changes(repo.get());
  if (!dirty) return std::nullopt;
  std::string id = oid_hex(tree).substr(0, 7);
  if (*dirty) id += "_dirty";
  return id;
}

std::string random_unique_id() {
  static std::mutex mutex;
  static std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  uint64_t value;
  {
    std::lock_guard<std::mutex> lock(mutex);
    value = rng();
  }
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes += static_cast<char>((value >> (8 * i)) & 0xff);
  return base32_lower(bytes);
}

std::string unique_id(const fs::path& kernel_dir) {
  if (auto id = tree_unique_id(kernel_dir)) return *id;
  return random_unique_id();
}

std::optional<CommitState> kernel_provenance(const fs::path& kernel_dir) {
  Repo repo = discover(kernel_dir);
  if (!repo) return std::nullopt;
  auto commit = head_commit(repo.get());
  if (!commit) return std::nullopt;
  std::optional<bool> dirty = tracked_changes(repo.get());
  if (!dirty) return std::nullopt;
  return CommitState{oid_hex(git_object_id(commit.get())), *dirty};
}

}  // namespace kb::git
