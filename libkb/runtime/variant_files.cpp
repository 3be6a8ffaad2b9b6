#include "libkb/runtime/variant_files.h"
#include "libkb/config/config.h"

#include <algorithm>
#include <vector>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb::runtime {

namespace fs = std::filesystem;

namespace {

// Regular files in `dir` named <id>*.so, sorted.
std::vector<fs::path> libraries_in(const fs::path& dir, const std::string& id) {
  std::vector<fs::path> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return out;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (starts_with(name, id) && ends_with(name, ".so") && it->is_regular_file(type_ec)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

fs::path find_kernel_library(const fs::path& variant_dir, const metadata::Metadata& metadata) {
  const std::string abi3 = metadata.id + ".abi3.so";
  const fs::path legacy = variant_dir / config::python_module_name(metadata.name);
  for (const fs::path& dir : {variant_dir, legacy}) {
    std::error_code ec;
    if (fs::is_regular_file(dir / abi3, ec)) return dir / abi3;
    std::vector<fs::path> found = libraries_in(dir, metadata.id);
    if (found.size() == 1) return found.front();
    if (found.size() > 1) {
      std::vector<std::string> names;
      for (const auto& f : found) names.push_back(f.filename().string());
      throw Error("Several shared objects for kernel `" + metadata.name + "` (id " + metadata.id + ") in " +
                  dir.string() + ": " + join(names, ", ") + "; expected one " + abi3);
    }
  }
  throw Error("No shared object for kernel `" + metadata.name + "` (id " + metadata.id + ") in " +
              variant_dir.string() + ": expected " + abi3 +
              " (noarch variants are pure Python and cannot be loaded without Python)");
}

std::optional<std::string> dirty_provenance_warning(const metadata::Metadata& metadata, std::string_view variant) {
  if (!metadata.provenance || !metadata.provenance->dirty()) return std::nullopt;
  const metadata::Provenance& p = *metadata.provenance;
  std::vector<std::string> sources;
  if (p.kernel && p.kernel->dirty) sources.push_back("kernel source");
  if (p.kernel_builder.git && p.kernel_builder.git->dirty) sources.push_back("kernel-builder");
  return "Kernel '" + metadata.name + "' variant '" + std::string(variant) + "' was built from a dirty git tree (" +
         join(sources, ", ") +
         " had uncommitted changes). Its recorded git revision does not fully identify the sources it was built "
         "from, so the build may not be reproducible.";
}

}  // namespace kb::runtime
