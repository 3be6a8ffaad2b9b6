// build.toml: every edition's reader; an accepted config written back as
// edition 6 reads again to the same config.
#include "fuzz/fuzz_support.h"
#include "libkb/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  config::BuildConfig parsed;
  config::LoadOptions options;
  options.allow_v3 = size > 0 && data[0] % 2;  // both the v3 path and its refusal
  std::vector<std::string> warnings;
  if (!fuzz::accepted([&] { parsed = config::parse_build_config(fuzz::text(data, size), "build.toml", options, &warnings); }))
    return 0;
  std::string written = config::to_toml(parsed);
  config::BuildConfig again;
  fuzz::require(fuzz::accepted([&] { again = config::parse_build_config(written, "build.toml (written)"); }),
                "an accepted build.toml, written as edition 6, reads again");
  fuzz::require(config::to_toml(again) == written, "writing a re-read build.toml gives the same text");
  return 0;
}
