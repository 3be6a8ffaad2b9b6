// A hub on any git server: one repository per kernel at <base>/<org>/<name>.git.
// Reads and writes go through a local mirror (a local hub in the cache) that
// is fetched before reading and pushed after publishing, so the git work
// itself is the local hub's.
#include <git2.h>

#include "libkb/git/git.h"
#include "libkb/hub/git_support.h"
#include "libkb/hub/hub.h"
#include "libkb/util/error.h"
#include "libkb/util/hash.h"
#include "libkb/util/dirs.h"

namespace kb::hub {

namespace fs = std::filesystem;

namespace {

using detail::last_git_error;

struct RemoteHandle {
  git_repository* repo = nullptr;
  git_remote* remote = nullptr;
  ~RemoteHandle() {
    if (remote) git_remote_free(remote);
    if (repo) git_repository_free(repo);
  }
};

class GitRemoteHub : public Hub {
 public:
  GitRemoteHub(std::string base_url, fs::path mirrors)
      : base_url_(std::move(base_url)), mirror_root_(std::move(mirrors)), mirror_(open_local_hub(mirror_root_)) {
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    git::ensure_initialized();
  }

  std::string describe() const override { return "git hub at " + base_url_; }

  std::string resolve_revision(std::string_view repo_id, std::string_view revision) override {
    sync(repo_id);
    return mirror_->resolve_revision(repo_id, revision);
  }
  std::vector<RefInfo> list_branches(std::string_view repo_id) override {
    sync(repo_id);
    return mirror_->list_branches(repo_id);
  }
  std::vector<TreeEntry> list_tree(std::string_view repo_id, std::string_view commit, std::string_view path,
                                   bool recursive) override {
    // Commits are immutable: a fetch is only needed when the mirror lacks it.
    try {
      return mirror_->list_tree(repo_id, commit, path, recursive);
    } catch (const Error&) {
      sync(repo_id);
      return mirror_->list_tree(repo_id, commit, path, recursive);
    }
  }
  void fetch_file(std::string_view repo_id, std::string_view commit, const TreeEntry& entry,
                  const std::function<void(const char*, size_t)>& sink) override {
    mirror_->fetch_file(repo_id, commit, entry, sink);
  }

  PublishResult publish(std::string_view repo_id, const PublishRequest& request) override {
    bool exists = sync(repo_id, /*missing_ok=*/true);
    if (!exists) create_remote(repo_id);
    PublishResult result = mirror_->publish(repo_id, request);
    push(repo_id, {"refs/heads/main", "refs/heads/" + request.branch});
    return result;
  }

 private:
  std::string url(std::string_view repo_id) const {
    validate_repo_id(repo_id);
    return base_url_ + "/" + std::string(repo_id) + ".git";
  }
  fs::path mirror_path(std::string_view repo_id) const { return mirror_root_ / (std::string(repo_id) + ".git"); }

  void open_remote(std::string_view repo_id, RemoteHandle& h) {
    h.repo = detail::open_or_init_bare(mirror_path(repo_id));
    if (git_remote_create_anonymous(&h.remote, h.repo, url(repo_id).c_str()) < 0)
      throw Error("git remote " + url(repo_id) + ": " + last_git_error());
  }

  // Fetches every branch of the remote into the mirror (pruning deleted ones).
  // Returns false when the remote repository does not exist and missing_ok.
  bool sync(std::string_view repo_id, bool missing_ok = false) {
    RemoteHandle h;
    open_remote(repo_id, h);
    git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
    options.prune = GIT_FETCH_PRUNE;
    char spec[] = "+refs/heads/*:refs/heads/*";
    char* specs[] = {spec};
    git_strarray refspecs = {specs, 1};
    if (git_remote_fetch(h.remote, &refspecs, &options, nullptr) < 0) {
      std::string why = last_git_error();
      if (missing_ok) return false;
      throw NotFound(NotFound::What::Repository, "Repository not found: " + std::string(repo_id) + " (" + describe() + "): " + why);
    }
    return true;
  }

  // Only a remote on this machine can be created by kb; servers create their
  // repositories themselves.
  void create_remote(std::string_view repo_id) {
    const std::string prefix = "file://";
    if (base_url_.rfind(prefix, 0) != 0)
      throw Error("Repository " + std::string(repo_id) + " does not exist at " + url(repo_id) +
                  "; create it on the git server first");
    fs::path path = base_url_.substr(prefix.size()) + "/" + std::string(repo_id) + ".git";
    git_repository_free(detail::open_or_init_bare(path));
  }

  void push(std::string_view repo_id, const std::vector<std::string>& refs) {
    RemoteHandle h;
    open_remote(repo_id, h);
    std::vector<std::string> specs;
    for (const auto& r : refs) specs.push_back(r + ":" + r);
    std::vector<char*> raw;
    for (auto& s : specs) raw.push_back(s.data());
    git_strarray refspecs = {raw.data(), raw.size()};
    git_push_options options = GIT_PUSH_OPTIONS_INIT;
    std::string rejected;
    options.callbacks.payload = &rejected;
    // A ref the server refuses (non-fast-forward, hooks) is reported here,
    // not as an error of git_remote_push.
    options.callbacks.push_update_reference = [](const char* ref, const char* status, void* payload) -> int {
      if (status) *static_cast<std::string*>(payload) += std::string(ref) + ": " + status + "; ";
      return 0;
    };
    if (git_remote_push(h.remote, &refspecs, &options) < 0)
      throw Error("pushing to " + url(repo_id) + ": " + last_git_error());
    if (!rejected.empty()) throw Error("the git server refused the push to " + url(repo_id) + ": " + rejected);
  }

  std::string base_url_;
  fs::path mirror_root_;
  std::unique_ptr<Hub> mirror_;
};

}  // namespace

std::unique_ptr<Hub> open_git_hub(const std::string& base_url, const fs::path& mirrors) {
  return std::make_unique<GitRemoteHub>(base_url, mirrors);
}

fs::path default_mirror_root(const std::string& base_url) {
  return user_cache_dir() / "kb" / "git-mirrors" / to_hex(sha256_bytes(base_url)).substr(0, 16);
}

}  // namespace kb::hub
