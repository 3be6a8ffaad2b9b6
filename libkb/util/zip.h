#pragma once
// ZIP archives of the "zip" build layout: a small writer that produces
// reproducible archives (stored entries, fixed timestamps and modes, the
// caller's order) and a checker for archives a loader is given, which reads
// the central directory and every local header without extracting anything.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kb {

// CRC-32 (ISO-HDLC, the one ZIP uses).
uint32_t crc32(std::string_view data);

struct ZipInput {
  std::string name;  // '/'-separated path inside the archive
  std::string data;
};

// The bytes of an archive holding `entries` in the given order, uncompressed,
// every entry dated 1980-01-01 00:00 with mode 0644: the same input gives the
// same bytes. Throws kb::Error for a name check_zip_archive would reject, a
// duplicate name, or an archive beyond the classic ZIP limits (4 GiB, 65535
// entries).
std::string make_zip(const std::vector<ZipInput>& entries);

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint32_t compressed_size = 0;
  uint32_t uncompressed_size = 0;
  friend bool operator==(const ZipEntry&, const ZipEntry&) = default;
};

// Checks the archive at `path` and lists its file entries (directory entries
// are checked but not listed). Throws kb::Error
//   "Invalid kernel archive `<path>`: <problem>"                  (structure)
//   "Invalid kernel archive `<path>`: entry `<name>`: <problem>"  (one entry)
// for: an unreadable or truncated file, no end-of-central-directory record,
// ZIP64 or multi-disk archives, entries whose local header disagrees with the
// central directory or whose data lies outside the archive, encrypted
// entries, compression other than stored/deflate, a stored entry whose CRC
// does not match, absolute names, names with `..`, `.` or empty components,
// backslashes or NUL, duplicate names, and symbolic links.
std::vector<ZipEntry> check_zip_archive(const std::filesystem::path& path);

// The same checks on archive bytes; `source` names the archive in messages.
std::vector<ZipEntry> check_zip_bytes(std::string_view bytes, const std::string& source);

}  // namespace kb
