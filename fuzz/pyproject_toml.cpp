// The [tool.kernels.dependencies] table of a project's pyproject.toml (what
// kb lock / kernels lock read).
#include "fuzz/fuzz_support.h"
#include "libkb/lock/project.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  auto file = fuzz::input_file(fuzz::text(data, size), "pyproject.toml");
  fuzz::accepted([&] { lock::read_dependencies(file); });
  return 0;
}
