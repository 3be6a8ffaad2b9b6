#pragma once
// `kernels verify-signature` and `kb verify`: the signature and digest of
// every variant of a kernel, reported per variant in the lines of runtime
// spec 9.4. The target is a variant directory, a kernel directory (its
// build/ variants), or a hub repository at a version or revision (default:
// the newest version, else main; the variant this system would load, or all
// of them).
#include <optional>
#include <string>

#include "libkb/load/load.h"

namespace kb::load {

struct VerifySignaturesRequest {
  std::string target;  // a path, or a repo id when no such path exists
  std::optional<int> version;
  std::optional<std::string> revision;
  bool all_variants = false;
  bool filter_unsigned = false;   // skip unsigned variants silently
  bool filter_no_digest = false;  // skip variants whose metadata records no digest
  bool json = false;              // one JSON document instead of the lines
};

struct VerifySignaturesResult {
  std::string out;
  int exit_code = 0;  // 1 when any variant reported failed
};

// Throws kb::Error for a target that cannot be found or fetched, a policy or
// trust root that cannot be read.
VerifySignaturesResult verify_signatures(const VerifySignaturesRequest& request, const Context& ctx);

}  // namespace kb::load
