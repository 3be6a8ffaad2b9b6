#include "libkb/util/platform.h"

#include <sys/utsname.h>

#include <cerrno>
#include <cstring>

#include "libkb/util/error.h"

namespace kb {

HostPlatform host_platform() {
  struct utsname u {};
  if (::uname(&u) != 0) throw Error(std::string("uname failed: ") + std::strerror(errno));
  return {u.machine, u.sysname};
}

}  // namespace kb
