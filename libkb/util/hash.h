#pragma once
// Digests used by metadata (sha256, base64), the cache and locks (git blob
// SHA-1, streamed SHA-256).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kb {

enum class HashAlgorithm { Sha1, Sha256 };

// Incremental digest (OpenSSL EVP). finish() returns the raw digest and may
// be called once.
class Hasher {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(std::string_view data);
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The header git prepends to a blob's content before hashing: "blob <size>\0".
std::string git_blob_header(uint64_t size);
// The git object id of a blob (what `git hash-object` prints): hex SHA-1 of
// git_blob_header(size) + content.
std::string git_blob_sha1_hex(std::string_view content);

std::string sha256_bytes(std::string_view data);                   // raw 32 bytes
std::string sha256_file_bytes(const std::filesystem::path& path);  // raw 32 bytes, streamed
std::string to_hex(std::string_view raw);
// FNV-1a, 64 bits, as 16 hex digits: a name for a cache entry keyed by a
// short string where no adversary picks the input. Not cryptographic; it
// spares a loader OpenSSL's first-use initialisation (~1.5 ms).
std::string fnv1a64_hex(std::string_view data);
// The bytes `hex` spells (either case); nullopt for an odd length or a non-hex digit.
std::optional<std::string> from_hex(std::string_view hex);
std::string base64_encode(std::string_view raw);  // standard alphabet, padded
// The bytes `text` encodes, as protobuf's JSON mapping writes bytes: the
// standard or the URL-safe alphabet, padded or not. nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kb
