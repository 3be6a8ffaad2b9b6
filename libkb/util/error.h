#pragma once
// One exception type for every user-facing failure in libkb. The message is
// complete and printable as is ("build.toml:12:3: [kernel.relu] unknown key ...").
#include <stdexcept>
#include <string>

namespace kb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace kb
