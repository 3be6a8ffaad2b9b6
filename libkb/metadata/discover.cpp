#include "libkb/metadata/discover.h"

#include <algorithm>

#include "libkb/util/error.h"

namespace kb::metadata {

namespace fs = std::filesystem;

namespace {

// Subdirectories of `dir` that hold a metadata.json file, sorted by name.
std::vector<fs::path> variant_dirs_in(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (it->is_directory(ec2) && fs::is_regular_file(it->path() / "metadata.json", ec2))
      found.push_back(it->path());
  }
  std::sort(found.begin(), found.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return found;
}

}  // namespace

DiscoveredVariants discover_variants(const fs::path& kernel_dir) {
  std::error_code ec;
  if (!fs::is_directory(kernel_dir, ec)) throw Error("`" + kernel_dir.string() + "` is not a directory");
  const fs::path candidates[] = {kernel_dir / "result", kernel_dir / "build", kernel_dir};
  for (const fs::path& candidate : candidates) {
    std::vector<fs::path> variants = variant_dirs_in(candidate);
    if (!variants.empty()) return {candidate, std::move(variants)};
  }
  throw Error("No build variants found in `" + candidates[0].string() + "`, `" + candidates[1].string() +
              "`, or `" + candidates[2].string() + "`");
}

}  // namespace kb::metadata
