#pragma once
// Helpers shared by the unit tests.
#include <functional>
#include <string>

#include "libkb/util/error.h"

namespace kb::testing {

// The message of the kb::Error that `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace kb::testing
