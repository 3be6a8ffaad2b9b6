#pragma once
// What a libtorch binary says about how it was built. at::show_config() (the
// text of torch.__config__.show()) ends with a "Build settings" line that
// libtorch fills from its own build (TORCH_VERSION, USE_CUDA, CUDA_VERSION,
// ...), so a C++ program learns the facts of the library it actually loaded,
// not of the headers it was compiled against, and a CUDA build reports CUDA
// on a machine without a GPU, as torch.version.cuda does.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "libkb/resolve/resolve.h"

namespace kb::runtime {

// "  - Build settings: BLAS_INFO=mkl, CUDA_VERSION=13.0, TORCH_VERSION=2.14.1, ..."
// -> {BLAS_INFO: mkl, CUDA_VERSION: 13.0, ...}. Values may hold commas (flag
// lists), so an entry ends only where ", KEY=" starts the next one. Empty when
// the line is missing.
std::map<std::string, std::string> parse_build_settings(std::string_view show_config);

// Torch facts from build settings: version TORCH_VERSION; cuda CUDA_VERSION
// when USE_CUDA is on; hip ROCM_VERSION when USE_ROCM is on; xpu
// SYCL_COMPILER_VERSION when USE_XPU is on. nullopt without TORCH_VERSION.
std::optional<resolve::TorchFacts> torch_facts_from_build_settings(const std::map<std::string, std::string>& settings,
                                                                   bool cxx11_abi);

}  // namespace kb::runtime
