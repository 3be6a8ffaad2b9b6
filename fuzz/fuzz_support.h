#pragma once
// What every fuzz target shares. A parser may refuse its input only with
// kb::Error (a message naming the file and the problem); any other exception,
// a crash, a sanitizer report, a hang or a broken property is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "libkb/util/error.h"

namespace kb::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse`; returns whether it accepted the input (kb::Error: refused).
template <class Parse>
bool accepted(Parse&& parse) {
  try {
    parse();
    return true;
  } catch (const kb::Error&) {
    return false;
  }
}

// A property of accepted input: its violation is a finding.
inline void require(bool ok, const char* property) {
  if (ok) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", property);
  std::abort();
}

// For parsers that read a path: the input written to a file of this process's
// own directory (under TMPDIR), replaced on every call.
inline std::filesystem::path input_file(std::string_view bytes, const std::string& name) {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("kb-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  std::filesystem::path file = dir / name;
  std::ofstream(file, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return file;
}

}  // namespace kb::fuzz
