#pragma once
// Finding the built variants of a kernel (shared by kb-metadata, kb-checkabi,
// kb-upload): candidates KERNEL_DIR/result, KERNEL_DIR/build, KERNEL_DIR; the
// first that holds at least one subdirectory with a metadata.json wins.
#include <filesystem>
#include <vector>

namespace kb::metadata {

struct DiscoveredVariants {
  std::filesystem::path base;                   // the candidate that won
  std::vector<std::filesystem::path> variants;  // base/<variant>, sorted by name
};

// Throws kb::Error "No build variants found in `<d>/result`, `<d>/build`, or `<d>`"
// when no candidate qualifies, or "`<d>` is not a directory".
DiscoveredVariants discover_variants(const std::filesystem::path& kernel_dir);

}  // namespace kb::metadata
