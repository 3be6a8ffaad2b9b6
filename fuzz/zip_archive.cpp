// ZIP archives of the zip build layout, as a loader checks them before
// importing from one (central directory, local headers, names, sizes, CRCs).
#include "fuzz/fuzz_support.h"
#include "libkb/util/zip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  fuzz::accepted([&] { check_zip_bytes(fuzz::text(data, size), "fuzz.zip"); });
  return 0;
}
