// metadata.json of a build variant; an accepted file written back reads to
// the same metadata.
#include "fuzz/fuzz_support.h"
#include "libkb/metadata/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  metadata::Metadata parsed;
  if (!fuzz::accepted([&] { parsed = metadata::parse_metadata(fuzz::text(data, size), "metadata.json"); })) return 0;
  // Writing may refuse what only reading tolerates (a backend this kb does
  // not know), with a message; what it writes must read back equal.
  std::string written;
  if (!fuzz::accepted([&] { written = metadata::to_json_text(parsed); })) return 0;
  metadata::Metadata again;
  fuzz::require(fuzz::accepted([&] { again = metadata::parse_metadata(written, "metadata.json (written)"); }),
                "accepted metadata, written again, reads again");
  fuzz::require(again == parsed, "written metadata reads back equal");
  return 0;
}
