// Object-id and base32 text helpers. Kept apart from git.cpp so code that
// only validates ids (metadata.json reading, the Python core) does not link
// libgit2.
#include <cctype>
#include <cstdint>

#include "libkb/git/git.h"
#include "libkb/util/error.h"

namespace kb::git {

bool is_object_id(std::string_view text) {
  if (text.size() != 40 && text.size() != 64) return false;
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string parse_object_id(std::string_view text) {
  if (!is_object_id(text))
    throw Error("Invalid git object id, expected 40 or 64 hexadecimal digits: " + std::string(text));
  std::string id(text);
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

std::string base32_lower(std::string_view raw) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char byte : raw) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out;
}

}  // namespace kb::git
