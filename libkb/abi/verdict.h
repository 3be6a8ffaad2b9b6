#pragma once
// kb-checkabi's verdict on a variant, kept where `kb upload` finds it: in
// `.kb-abi/<variant>.json` beside the variant directory (build/.kb-abi/ for
// build/<variant>), never inside the variant, so it is not published. Upload
// then judges the variant by the policy it was checked against (a variant
// checked with --manylinux 2_34 is not judged against 2_28 again), and checks
// afresh when there is no verdict or the shared objects changed since.
#include <filesystem>
#include <optional>
#include <string>

#include "libkb/abi/checker.h"

namespace kb::abi {

struct Verdict {
  std::string variant;
  std::string policy;      // "manylinux_2_28"
  std::string python_abi;  // "3.9"
  std::string macos;       // "15.0"
  bool portable = false;
  std::string problems;     // summarize_problems(); "" when portable
  std::string fingerprint;  // of the shared objects checked (objects_fingerprint)
  std::string torch_stable_abi;  // "2.11" when checked against it, else ""
  bool tvm_ffi = false;          // checked against the tvm-ffi rules

  // "manylinux_2_28, abi3 3.9, macOS 15.0[, Torch stable ABI 2.11][, tvm-ffi ABI]"
  std::string describe() const;
};

// What `options` check against, as Verdict::describe() spells it.
std::string describe_check(const CheckOptions& options);

// <variant_dir>/../.kb-abi/<variant dir name>.json
std::filesystem::path verdict_path(const std::filesystem::path& variant_dir);

// The sha256 over the relative names and contents of the files check_variant
// inspects (regular *.so / *.pyd, no symlinks), in path order.
std::string objects_fingerprint(const std::filesystem::path& variant_dir);

// Writes the verdict of `report` atomically. Only a variant directory (it
// holds metadata.json) that could be read gets one; a shared object checked
// on its own records nothing.
void record_verdict(const VariantReport& report, const CheckOptions& options);

// The recorded verdict for `variant_dir` when it still describes the variant's
// shared objects; nullopt when there is none, it cannot be read, or it is
// stale (the objects changed since it was written).
std::optional<Verdict> current_verdict(const std::filesystem::path& variant_dir);

}  // namespace kb::abi
