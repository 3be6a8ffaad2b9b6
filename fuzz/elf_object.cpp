// ELF files as kb check-abi and kb symbols read them (LIEF behind kb's
// readers): object kind, dynamic dependencies, symbol versions, definitions.
#include "fuzz/fuzz_support.h"
#include "libkb/abi/symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  auto file = fuzz::input_file(fuzz::text(data, size), "input.so");
  fuzz::accepted([&] { abi::read_object(file); });
  fuzz::accepted([&] { abi::read_dynamic_dependencies(file); });
  fuzz::accepted([&] { abi::read_symbol_definitions(file); });
  return 0;
}
