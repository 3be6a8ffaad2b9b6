#pragma once
// The hashes a hub publishes for its files, and checking files against them.
// Regular files are named by their git blob id (hex SHA-1 of
// "blob <size>\0" + content); LFS files by the hex SHA-256 of their content.
// The same hex string names the file's blob in the cache (its etag).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "libkb/util/hash.h"

namespace kb::cache {

struct ExpectedHash {
  enum Kind { GitBlobSha1, Sha256 };
  Kind kind = GitBlobSha1;
  std::string hex;    // 40 hex digits (GitBlobSha1) or 64 (Sha256)
  uint64_t size = 0;  // content size in bytes
};

// "git-sha1" or "sha256", for messages.
const char* kind_name(ExpectedHash::Kind kind);

// The kind a hex digest of this length names: 40 → GitBlobSha1, 64 → Sha256;
// nullopt for other lengths or non-hex text.
std::optional<ExpectedHash::Kind> kind_of_hex(std::string_view hex);

// `expected` with its hex lowercased; throws kb::Error when the hex is not
// 40 (git-sha1) or 64 (sha256) hexadecimal digits.
ExpectedHash normalized(const ExpectedHash& expected);

// Hashes content as it streams by. For GitBlobSha1 the size must be known up
// front (git's header carries it); content of another size gives a hash that
// cannot match, and size() tells.
class StreamHasher {
 public:
  StreamHasher(ExpectedHash::Kind kind, uint64_t declared_size);
  void update(std::string_view data);
  uint64_t size() const { return size_; }
  std::string finish_hex();

 private:
  Hasher hasher_;
  uint64_t size_ = 0;
};

struct FileDigest {
  std::string hex;
  uint64_t size = 0;
};

// The digest of a file's content of the given kind (streamed; throws kb::Error
// naming the path when it cannot be read).
FileDigest hash_file(const std::filesystem::path& path, ExpectedHash::Kind kind);

// Throws kb::Error naming `path`, the expected and the actual hash and size
// when the file's content differs from `expected` (or cannot be read).
void verify_file(const std::filesystem::path& path, const ExpectedHash& expected);

// verify_file without the exception: false when different or unreadable.
bool file_matches(const std::filesystem::path& path, const ExpectedHash& expected) noexcept;

}  // namespace kb::cache
