// Sigstore trusted_root.json files (what `kb trust-root update` installs and
// KB_TRUST_ROOT names): authorities, logs, keys, validity periods.
#include "fuzz/fuzz_support.h"
#include "libkb/sign/trust_root.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  fuzz::accepted([&] { sign::parse_trust_root(fuzz::text(data, size), "trusted_root.json"); });
  fuzz::accepted([&] { sign::parse_rfc3339(fuzz::text(data, size)); });
  return 0;
}
