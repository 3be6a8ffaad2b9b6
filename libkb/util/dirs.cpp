#include "libkb/util/dirs.h"

#include "libkb/util/process.h"

namespace kb {

std::filesystem::path home_dir() { return env_or("HOME", "/"); }

std::filesystem::path user_cache_dir() {
  std::string xdg = env_or("XDG_CACHE_HOME", "");
  return xdg.empty() ? home_dir() / ".cache" : std::filesystem::path(xdg);
}

std::filesystem::path user_data_dir() {
  std::string xdg = env_or("XDG_DATA_HOME", "");
  return xdg.empty() ? home_dir() / ".local" / "share" : std::filesystem::path(xdg);
}

}  // namespace kb
