#include "libkb/util/embedded.h"

#include "libkb/util/error.h"

namespace kb {

std::string_view embedded_file(std::string_view path) {
  const auto& table = embedded_table();
  auto it = table.find(path);
  if (it == table.end()) throw Error("internal: no embedded data file " + std::string(path));
  return it->second;
}

std::vector<std::string_view> embedded_files_under(std::string_view prefix) {
  std::vector<std::string_view> out;
  for (const auto& [path, _] : embedded_table())
    if (path.substr(0, prefix.size()) == prefix) out.push_back(path);
  return out;
}

}  // namespace kb
