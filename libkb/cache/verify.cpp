#include "libkb/cache/verify.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "libkb/util/error.h"

namespace kb::cache {

namespace {

HashAlgorithm algorithm_of(ExpectedHash::Kind kind) {
  return kind == ExpectedHash::GitBlobSha1 ? HashAlgorithm::Sha1 : HashAlgorithm::Sha256;
}

bool all_hex(std::string_view text) {
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return !text.empty();
}

}  // namespace

const char* kind_name(ExpectedHash::Kind kind) {
  return kind == ExpectedHash::GitBlobSha1 ? "git-sha1" : "sha256";
}

std::optional<ExpectedHash::Kind> kind_of_hex(std::string_view hex) {
  if (!all_hex(hex)) return std::nullopt;
  if (hex.size() == 40) return ExpectedHash::GitBlobSha1;
  if (hex.size() == 64) return ExpectedHash::Sha256;
  return std::nullopt;
}

ExpectedHash normalized(const ExpectedHash& expected) {
  size_t want = expected.kind == ExpectedHash::GitBlobSha1 ? 40 : 64;
  if (expected.hex.size() != want || !all_hex(expected.hex))
    throw Error(std::string("invalid ") + kind_name(expected.kind) + " hash '" + expected.hex + "': expected " +
                std::to_string(want) + " hexadecimal digits");
  ExpectedHash out = expected;
  for (char& c : out.hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StreamHasher::StreamHasher(ExpectedHash::Kind kind, uint64_t declared_size) : hasher_(algorithm_of(kind)) {
  if (kind == ExpectedHash::GitBlobSha1) hasher_.update(git_blob_header(declared_size));
}

void StreamHasher::update(std::string_view data) {
  hasher_.update(data);
  size_ += data.size();
}

std::string StreamHasher::finish_hex() { return to_hex(hasher_.finish()); }

FileDigest hash_file(const std::filesystem::path& path, ExpectedHash::Kind kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw Error("cannot hash " + path.string() + ": " + std::strerror(errno));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path.string() + " for hashing");
  auto declared = static_cast<uint64_t>(st.st_size);
  StreamHasher hasher(kind, declared);
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    hasher.update(std::string_view(buf, static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) throw Error("cannot read " + path.string() + " for hashing");
  if (hasher.size() != declared) throw Error(path.string() + " changed while it was being hashed");
  return FileDigest{hasher.finish_hex(), hasher.size()};
}

void verify_file(const std::filesystem::path& path, const ExpectedHash& expected) {
  ExpectedHash want = normalized(expected);
  FileDigest got = hash_file(path, want.kind);
  if (got.hex != want.hex || got.size != want.size)
    throw Error("hash mismatch for " + path.string() + ": expected " + kind_name(want.kind) + " " + want.hex +
                " (" + std::to_string(want.size) + " bytes), got " + got.hex + " (" + std::to_string(got.size) +
                " bytes)");
}

bool file_matches(const std::filesystem::path& path, const ExpectedHash& expected) noexcept {
  try {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) != expected.size) return false;
    verify_file(path, expected);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace kb::cache
