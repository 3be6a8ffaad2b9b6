#include "libkb/util/version.h"

#include <cctype>

#include "libkb/util/error.h"
#include "libkb/util/strings.h"

namespace kb {

Version::Version(std::vector<uint64_t> parts) : parts_(std::move(parts)) {
  while (!parts_.empty() && parts_.back() == 0) parts_.pop_back();
}

Version Version::parse(std::string_view text) {
  std::string trimmed = trim(text);
  if (trimmed.empty()) throw Error("Empty version string");
  std::vector<uint64_t> parts;
  for (const auto& piece : split(trimmed, '.')) {
    if (piece.empty() || piece.size() > 18 ||
        piece.find_first_not_of("0123456789") != std::string::npos)
      throw Error("Version must consist of numbers: " + trimmed);
    parts.push_back(std::stoull(piece));
  }
  return Version(std::move(parts));
}

std::string Version::str() const {
  if (parts_.empty()) return "0";
  std::string out;
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(parts_[i]);
  }
  return out;
}

std::string Version::major_minor() const {
  return std::to_string(major()) + "." + std::to_string(minor());
}

Version leading_version(std::string_view text) {
  size_t end = 0;
  while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) ||
                               (text[end] == '.' && end + 1 < text.size() &&
                                std::isdigit(static_cast<unsigned char>(text[end + 1])))))
    ++end;
  if (end == 0) throw Error("not a version: " + std::string(text));
  return Version::parse(text.substr(0, end));
}

}  // namespace kb
