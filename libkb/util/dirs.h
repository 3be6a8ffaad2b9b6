#pragma once
// Per-user directories, from the environment at call time.
#include <filesystem>

namespace kb {

// $HOME, else "/".
std::filesystem::path home_dir();
// $XDG_CACHE_HOME, else ~/.cache.
std::filesystem::path user_cache_dir();
// $XDG_DATA_HOME, else ~/.local/share.
std::filesystem::path user_data_dir();

}  // namespace kb
