// Signature policy files (KB_SIGNATURE_POLICY, kb verify --policy), TOML.
#include "fuzz/fuzz_support.h"
#include "libkb/sign/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  auto file = fuzz::input_file(fuzz::text(data, size), "policy.toml");
  fuzz::accepted([&] { sign::load_policy_file(file); });
  return 0;
}
