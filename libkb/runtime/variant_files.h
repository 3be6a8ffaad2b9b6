#pragma once
// What a loader checks in a variant directory it is about to load.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "libkb/metadata/metadata.h"

namespace kb::runtime {

// The shared object of an arch variant, whose loading registers the kernel's
// torch ops: `<id>.abi3.so`, else the one `<id>*.so` (a version-specific
// extension suffix), in the variant directory or in its legacy package
// directory `<python_name>/`. Throws kb::Error naming the directory when there
// is none (noarch variants are pure Python and have none) or several.
std::filesystem::path find_kernel_library(const std::filesystem::path& variant_dir, const metadata::Metadata& metadata);

// The warning loaders give for a variant built from a dirty git tree
// (runtime spec 5.7), or nullopt when its provenance is clean or absent.
// `variant` is the variant directory's name.
std::optional<std::string> dirty_provenance_warning(const metadata::Metadata& metadata, std::string_view variant);

}  // namespace kb::runtime
