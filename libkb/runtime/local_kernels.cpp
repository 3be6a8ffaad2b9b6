#include "libkb/runtime/local_kernels.h"

#include <cstdlib>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::runtime {

std::map<std::string, std::filesystem::path> parse_local_kernels(std::string_view value) {
  std::map<std::string, std::filesystem::path> out;
  for (const std::string& entry : split(value, ':')) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos)
      throw Error("Invalid LOCAL_KERNELS entry: " + entry + ". Expected format: repo_id_1=path_1:repo_id_2=path_2");
    out[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return out;
}

std::optional<std::filesystem::path> local_kernel_override(std::string_view repo_id) {
  const char* value = std::getenv("LOCAL_KERNELS");
  if (!value) return std::nullopt;
  auto map = parse_local_kernels(value);
  auto it = map.find(std::string(repo_id));
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace kb::runtime
