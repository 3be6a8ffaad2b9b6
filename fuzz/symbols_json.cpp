// symbols.json of a variant (what `kernels describe-api` reads from the hub):
// the schema check kb's writer and reader share.
#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.h"
#include "libkb/symbols/symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  auto json = nlohmann::ordered_json::parse(fuzz::text(data, size), nullptr, false);
  if (json.is_discarded()) return 0;
  fuzz::accepted([&] { symbols::check_symbols(json, "symbols.json"); });
  return 0;
}
