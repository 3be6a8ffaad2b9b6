// kernels.lock, both formats (the legacy list and the structured one with
// pins and variant hashes); an accepted lock written back reads equal.
#include "fuzz/fuzz_support.h"
#include "libkb/lock/lockfile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kb;
  std::vector<lock::KernelLock> parsed;
  if (!fuzz::accepted([&] { parsed = lock::parse_lock_file(fuzz::text(data, size)); })) return 0;
  // One format per file: structured entries all carry a pin.
  bool structured = !parsed.empty() && parsed.front().pin.has_value();
  auto write = [&](const std::vector<lock::KernelLock>& locks) {
    return structured ? lock::format_structured_lock_file(locks) : lock::format_lock_file(locks);
  };
  std::string written = write(parsed);
  std::vector<lock::KernelLock> again;
  fuzz::require(fuzz::accepted([&] { again = lock::parse_lock_file(written, "kernels.lock (written)"); }),
                "an accepted lock, written again, reads again");
  fuzz::require(write(again) == written, "a written lock reads back to the same text");
  return 0;
}
