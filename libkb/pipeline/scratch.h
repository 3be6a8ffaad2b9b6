#pragma once
// Where `kb build` keeps what it generates for a kernel, outside the kernel's
// tree (the kernel directory is the user's: only build/ is written there):
//   <scratch>/project/         the generated CMake/Python project
//   <scratch>/cmake/<variant>/ CMake build trees and kb-build.log
// <scratch> is <root>/<kernel name>-<first 12 hex digits of the SHA-256 of the
// canonical kernel directory path>, <root> being $KB_SCRATCH_DIR when set,
// else ${XDG_CACHE_HOME:-$HOME/.cache}/kb/scratch. The hash keeps two copies
// of one kernel apart; the name makes the directory recognisable.
#include <filesystem>
#include <string_view>

namespace kb::pipeline {

// The root that holds every kernel's scratch directory.
std::filesystem::path scratch_root();

// The scratch directory of the kernel in `kernel_dir` (made canonical; it need
// not exist) named `kernel_name` (characters other than [A-Za-z0-9._-] become
// '_'). Computed only: nothing is created.
std::filesystem::path scratch_dir(const std::filesystem::path& kernel_dir, std::string_view kernel_name);

// <scratch>/project and <scratch>/cmake/<variant>.
std::filesystem::path scratch_project_dir(const std::filesystem::path& scratch);
std::filesystem::path scratch_cmake_dir(const std::filesystem::path& scratch, std::string_view variant);

}  // namespace kb::pipeline
