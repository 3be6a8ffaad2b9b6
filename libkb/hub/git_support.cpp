#include "libkb/hub/git_support.h"

#include "libkb/git/git.h"
#include "libkb/util/error.h"

namespace kb::hub::detail {

std::string last_git_error() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

git_repository* open_or_init_bare(const std::filesystem::path& path) {
  git::ensure_initialized();
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, path.c_str()) == 0) return repo;
  git_repository_init_options options = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  options.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
  options.initial_head = "main";
  if (git_repository_init_ext(&repo, path.c_str(), &options) < 0)
    throw Error("creating the repository " + path.string() + ": " + last_git_error());
  return repo;
}

}  // namespace kb::hub::detail
