#pragma once
// libgit2 helpers shared by the git-backed hubs.
#include <git2.h>

#include <filesystem>
#include <string>

namespace kb::hub::detail {

// The message of the last libgit2 error.
std::string last_git_error();

// Opens the bare repository at `path`, creating it (and its parents) with
// HEAD on main when it does not exist. The caller frees the result.
git_repository* open_or_init_bare(const std::filesystem::path& path);

}  // namespace kb::hub::detail
