#pragma once
// The python-depends check a loader runs before importing a kernel: every
// name must be in the curated dependency table (general, then the backend's),
// and every package of it that has an import name must be importable.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "libkb/config/config.h"

namespace kb::runtime {

// `importable(import_name)` answers whether that module can be imported in the
// process that will load the kernel. Throws kb::Error:
//   "Kernel module `relu` uses unsupported kernel dependency: foo"
//   "Kernel module `relu` requires Python dependency `einops`. Please install with: pip install einops"
void validate_python_depends(std::string_view python_name, const std::vector<std::string>& depends,
                             config::Backend backend, const std::function<bool(const std::string&)>& importable);

}  // namespace kb::runtime
