#pragma once
// Building one planned variant into <kernel_dir>/build/<variant>/:
// arch variants through the generated CMake project (configure once, then
// incremental Ninja builds, in the scratch directory), noarch variants by
// copying the Python package and adding the project's _ops.py and metadata.
// The result is staged and swapped in atomically; when the staged tree equals
// what is already installed, nothing is touched (a no-op rebuild stays cheap).
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kb::pipeline {

struct CompileRequest {
  std::filesystem::path kernel_dir;   // holds build.toml and the sources
  std::filesystem::path project_dir;  // holds the generated CMake project (usually <scratch_dir>/project)
  std::filesystem::path scratch_dir;  // holds the CMake build trees (pipeline/scratch.h)
  std::string variant;
  std::string backend;  // "cpu", "cuda", ...
  bool noarch = false;
  std::string module;  // Python package name under torch-ext/
  std::string python;  // interpreter with torch (arch variants)
  std::string torch_version;
  std::string nvcc;                     // CUDA compiler (cuda variants)
  std::vector<std::string> cmake_args;  // extra -D options from the plan
  int jobs = 0;                         // parallel compile jobs; 0 = CMake's default
  std::string target;                   // manylinux policy to link for (kb-link), or "native"/empty
};

// Reads a variant-planned event (see events.h). Without project_dir the
// project is the kernel directory; without scratch_dir the scratch directory
// is the default one of the kernel, named after its module.
CompileRequest request_from_event(const nlohmann::json& planned);

struct CompileResult {
  std::filesystem::path dir;           // build/<variant>
  std::vector<std::string> artifacts;  // files in dir, relative, sorted
  bool up_to_date = false;             // nothing changed on disk
  double seconds = 0;
};

using ProgressFn = std::function<void(const std::string&)>;

// Throws kb::Error with the failing step and the tail of its log.
CompileResult compile_variant(const CompileRequest& request, const ProgressFn& progress = {});

// Directory for the variant's CMake build tree and logs:
// <scratch_dir>/cmake/<variant>, never inside the kernel directory.
std::filesystem::path cmake_build_dir(const CompileRequest& request);

}  // namespace kb::pipeline
