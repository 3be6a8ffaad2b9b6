// Variant names (every form: legacy, dotted, stable ABI, tvm-ffi, noarch,
// SDK), repo ids and versions: a name parse accepts prints back unchanged.
#include "fuzz/fuzz_support.h"
#include "libkb/hub/hub.h"
#include "libkb/util/version.h"
#include "libkb/variant/variant.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  std::string_view name = fuzz::text(data, size);
  std::string why;
  if (auto v = variant::Variant::try_parse(name, &why)) {
    fuzz::require(v->str() == name, "Variant::parse(name).str() == name");
    fuzz::require(variant::Variant::parse(v->str()).str() == name, "a printed variant parses again");
  } else {
    fuzz::require(!why.empty(), "a refused variant name comes with a reason");
    fuzz::require(!fuzz::accepted([&] { variant::Variant::parse(name); }), "parse refuses what try_parse refuses");
  }
  fuzz::accepted([&] { hub::validate_repo_id(name); });
  fuzz::accepted([&] { Version::parse(name); });
  return 0;
}
