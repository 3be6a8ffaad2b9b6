#pragma once
// Versions as build.toml and the ABI checker use them: dot-separated
// non-negative integers, trailing zero components dropped ("2.0" == "2"),
// ordered lexicographically on the integer list.
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kb {

class Version {
 public:
  Version() = default;
  explicit Version(std::vector<uint64_t> parts);
  // Throws kb::Error "Empty version string" / "Version must consist of numbers: <v>".
  static Version parse(std::string_view text);

  const std::vector<uint64_t>& parts() const { return parts_; }
  uint64_t major() const { return component(0); }
  uint64_t minor() const { return component(1); }
  uint64_t component(size_t i) const { return i < parts_.size() ? parts_[i] : 0; }
  bool empty() const { return parts_.empty(); }

  // Display form without trailing zeros ("2.12"); "0" for the empty version.
  std::string str() const;
  // "major.minor" padded to two components ("13" -> "13.0").
  std::string major_minor() const;

  friend std::strong_ordering operator<=>(const Version& a, const Version& b) {
    return a.parts_ <=> b.parts_;
  }
  friend bool operator==(const Version& a, const Version& b) = default;

 private:
  std::vector<uint64_t> parts_;
};

// Leading "N.N.N" of a string such as "2.11.0+cu130" or "1.13.0a0", parsed as a
// Version (the local/pre-release tail is dropped). Throws when no digits lead.
Version leading_version(std::string_view text);

}  // namespace kb
