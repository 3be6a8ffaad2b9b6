#include "libkb/runtime/python_depends.h"

#include "libkb/util/error.h"

namespace kb::runtime {

void validate_python_depends(std::string_view python_name, const std::vector<std::string>& depends,
                             config::Backend backend, const std::function<bool(const std::string&)>& importable) {
  std::string module(python_name);
  for (const std::string& dep : depends) {
    const auto* packages = config::find_python_dependency(dep, std::nullopt);
    if (!packages) packages = config::find_python_dependency(dep, backend);
    if (!packages) throw Error("Kernel module `" + module + "` uses unsupported kernel dependency: " + dep);
    for (const auto& package : *packages) {
      if (!package.import_name || importable(*package.import_name)) continue;
      throw Error("Kernel module `" + module + "` requires Python dependency `" + package.pip +
                  "`. Please install with: pip install " + package.pip);
    }
  }
}

}  // namespace kb::runtime
