#include "libkb/portable/target.h"

#include "libkb/abi/policy.h"
#include "libkb/util/error.h"
#include "libkb/util/platform.h"

namespace kb::portable {

std::string default_target() {
  HostPlatform host = host_platform();
  if (host.system == "Linux" && (host.machine == "x86_64" || host.machine == "aarch64"))
    return std::string(kDefaultPolicy);
  return std::string(kNativeTarget);
}

std::string parse_target(const std::string& text) {
  if (text == kNativeTarget) return text;
  try {
    abi::ManylinuxPolicy::require_known(text);
  } catch (const Error& e) {
    throw Error("--target " + text + ": expected `native` or a manylinux policy. " + e.what());
  }
  return text;
}

bool is_portable(const std::string& target) { return !target.empty() && target != kNativeTarget; }

}  // namespace kb::portable
