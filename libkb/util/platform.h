#pragma once
// The machine this process runs on, as Python's platform module names it.
#include <string>

namespace kb {

struct HostPlatform {
  std::string machine;  // uname -m: "x86_64", "aarch64" (platform.machine())
  std::string system;   // uname -s: "Linux", "Darwin" (platform.system())
};

// Throws kb::Error when uname fails.
HostPlatform host_platform();

}  // namespace kb
