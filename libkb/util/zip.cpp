#include "libkb/util/zip.h"

#include <array>
#include <limits>
#include <set>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"

namespace kb {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectorySignature = 0x06054b50;
constexpr uint32_t kZip64EndLocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndRecordSize = 22;
constexpr uint16_t kVersionNeeded = 20;          // 2.0: what every reader handles
constexpr uint16_t kMadeByUnix = (3 << 8) | 20;  // host 3 (Unix), so the mode bits below are read
constexpr uint16_t kFlagEncrypted = 1 << 0;
constexpr uint16_t kFlagUtf8Names = 1 << 11;
constexpr uint16_t kDos1980January1 = (0 << 9) | (1 << 5) | 1;
constexpr uint32_t kRegularFile0644 = 0100644u << 16;
constexpr uint32_t kFileTypeMask = 0170000;
constexpr uint32_t kSymlinkType = 0120000;

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}

void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v & 0xffff));
  put16(out, static_cast<uint16_t>(v >> 16));
}

uint16_t get16(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(bytes[at]) |
                               (static_cast<unsigned char>(bytes[at + 1]) << 8));
}

uint32_t get32(std::string_view bytes, size_t at) {
  return static_cast<uint32_t>(get16(bytes, at)) | (static_cast<uint32_t>(get16(bytes, at + 2)) << 16);
}

// Why `name` is not a safe relative path inside an archive, or empty.
std::string unsafe_name_reason(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.find('\0') != std::string_view::npos) return "name contains a NUL byte";
  if (name.find('\\') != std::string_view::npos) return "name contains a backslash";
  if (name.front() == '/') return "absolute path";
  if (name.size() >= 2 && name[1] == ':') return "absolute path (drive letter)";
  std::string_view path = name;
  if (path.back() == '/') path.remove_suffix(1);  // a directory entry
  for (const std::string& component : split(path, '/')) {
    if (component == "..") return "path escapes the archive (`..`)";
    if (component == "." || component.empty()) return "path has an empty or `.` component";
  }
  return {};
}

bool is_ascii(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

}  // namespace

uint32_t crc32(std::string_view data) {
  const auto& table = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string make_zip(const std::vector<ZipInput>& entries) {
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  if (entries.size() > std::numeric_limits<uint16_t>::max())
    throw Error("Cannot write a ZIP archive of " + std::to_string(entries.size()) + " entries (at most 65535)");
  std::string out, central;
  std::set<std::string_view> seen;
  for (const ZipInput& entry : entries) {
    if (std::string why = unsafe_name_reason(entry.name); !why.empty())
      throw Error("Cannot add `" + entry.name + "` to a ZIP archive: " + why);
    if (entry.name.back() == '/') throw Error("Cannot add `" + entry.name + "` to a ZIP archive: not a file name");
    if (!seen.insert(entry.name).second) throw Error("Cannot add `" + entry.name + "` to a ZIP archive twice");
    if (entry.data.size() > kMax || entry.name.size() > std::numeric_limits<uint16_t>::max() ||
        out.size() + kLocalHeaderSize + entry.name.size() + entry.data.size() > kMax)
      throw Error("Cannot add `" + entry.name + "` to a ZIP archive: larger than 4 GiB without ZIP64");
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = crc32(entry.data);
    const uint32_t size = static_cast<uint32_t>(entry.data.size());
    const uint16_t name_size = static_cast<uint16_t>(entry.name.size());
    const uint16_t flags = is_ascii(entry.name) ? 0 : kFlagUtf8Names;

    put32(out, kLocalHeaderSignature);
    put16(out, kVersionNeeded);
    put16(out, flags);
    put16(out, 0);  // stored
    put16(out, 0);  // 00:00:00
    put16(out, kDos1980January1);
    put32(out, crc);
    put32(out, size);
    put32(out, size);
    put16(out, name_size);
    put16(out, 0);  // no extra field (no timestamps beyond the fixed DOS one)
    out += entry.name;
    out += entry.data;

    put32(central, kCentralHeaderSignature);
    put16(central, kMadeByUnix);
    put16(central, kVersionNeeded);
    put16(central, flags);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDos1980January1);
    put32(central, crc);
    put32(central, size);
    put32(central, size);
    put16(central, name_size);
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, kRegularFile0644);
    put32(central, offset);
    central += entry.name;
  }
  if (out.size() + central.size() + kEndRecordSize > kMax)
    throw Error("Cannot write a ZIP archive larger than 4 GiB without ZIP64");
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out += central;
  put32(out, kEndOfCentralDirectorySignature);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint16_t>(entries.size()));
  put16(out, static_cast<uint16_t>(entries.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, central_offset);
  put16(out, 0);  // comment
  return out;
}

std::vector<ZipEntry> check_zip_bytes(std::string_view bytes, const std::string& source) {
  const std::string prefix = "Invalid kernel archive `" + source + "`: ";
  auto fail = [&](const std::string& problem) { return Error(prefix + problem); };
  auto fail_entry = [&](const std::string& name, const std::string& problem) {
    return Error(prefix + "entry `" + name + "`: " + problem);
  };

  // The end record sits in the last 22 bytes plus at most a 65535-byte comment.
  if (bytes.size() < kEndRecordSize) throw fail("not a ZIP archive (too short)");
  size_t end = std::string_view::npos;
  const size_t lowest = bytes.size() > kEndRecordSize + 0xffff ? bytes.size() - kEndRecordSize - 0xffff : 0;
  for (size_t at = bytes.size() - kEndRecordSize + 1; at-- > lowest;) {
    if (get32(bytes, at) == kEndOfCentralDirectorySignature &&
        at + kEndRecordSize + get16(bytes, at + 20) == bytes.size()) {
      end = at;
      break;
    }
  }
  if (end == std::string_view::npos) throw fail("not a ZIP archive (no end of central directory record)");
  if (end >= 20 && get32(bytes, end - 20) == kZip64EndLocatorSignature) throw fail("ZIP64 archives are not supported");
  if (get16(bytes, end + 4) != 0 || get16(bytes, end + 6) != 0 || get16(bytes, end + 8) != get16(bytes, end + 10))
    throw fail("multi-disk archives are not supported");
  const size_t count = get16(bytes, end + 10);
  const size_t central_size = get32(bytes, end + 12);
  const size_t central_offset = get32(bytes, end + 16);
  if (central_offset > end || central_size != end - central_offset)
    throw fail("the central directory lies outside the archive (truncated or corrupt)");

  std::vector<ZipEntry> entries;
  std::set<std::string> names;
  size_t at = central_offset;
  for (size_t i = 0; i < count; ++i) {
    if (at + kCentralHeaderSize > end || get32(bytes, at) != kCentralHeaderSignature)
      throw fail("central directory entry " + std::to_string(i + 1) + " of " + std::to_string(count) + " is corrupt");
    const uint16_t made_by = get16(bytes, at + 4);
    const uint16_t flags = get16(bytes, at + 8);
    ZipEntry entry;
    entry.method = get16(bytes, at + 10);
    entry.crc32 = get32(bytes, at + 16);
    entry.compressed_size = get32(bytes, at + 20);
    entry.uncompressed_size = get32(bytes, at + 24);
    const size_t name_size = get16(bytes, at + 28);
    const size_t extra_size = get16(bytes, at + 30);
    const size_t comment_size = get16(bytes, at + 32);
    const uint32_t external = get32(bytes, at + 38);
    const size_t local_offset = get32(bytes, at + 42);
    const size_t next = at + kCentralHeaderSize + name_size + extra_size + comment_size;
    if (next > end)
      throw fail("central directory entry " + std::to_string(i + 1) + " of " + std::to_string(count) + " is corrupt");
    entry.name = std::string(bytes.substr(at + kCentralHeaderSize, name_size));
    at = next;

    if (std::string why = unsafe_name_reason(entry.name); !why.empty()) throw fail_entry(entry.name, why);
    if (!names.insert(entry.name).second) throw fail_entry(entry.name, "duplicate entry");
    if ((made_by >> 8) == 3 && ((external >> 16) & kFileTypeMask) == kSymlinkType)
      throw fail_entry(entry.name, "symbolic links are not allowed");
    if (flags & kFlagEncrypted) throw fail_entry(entry.name, "encrypted entries are not supported");
    if (entry.method != 0 && entry.method != 8)
      throw fail_entry(entry.name, "unsupported compression method " + std::to_string(entry.method));

    if (local_offset + kLocalHeaderSize > central_offset || get32(bytes, local_offset) != kLocalHeaderSignature)
      throw fail_entry(entry.name, "local header missing (truncated or corrupt archive)");
    const size_t local_name_size = get16(bytes, local_offset + 26);
    const size_t local_extra_size = get16(bytes, local_offset + 28);
    const size_t data_offset = local_offset + kLocalHeaderSize + local_name_size + local_extra_size;
    if (data_offset > central_offset || bytes.substr(local_offset + kLocalHeaderSize, local_name_size) != entry.name)
      throw fail_entry(entry.name, "local header does not match the central directory");
    if (data_offset + entry.compressed_size > central_offset)
      throw fail_entry(entry.name, "data extends past the end of the archive (truncated or corrupt)");
    if (entry.method == 0) {
      if (entry.compressed_size != entry.uncompressed_size)
        throw fail_entry(entry.name, "stored entry with differing sizes");
      if (crc32(bytes.substr(data_offset, entry.compressed_size)) != entry.crc32)
        throw fail_entry(entry.name, "CRC mismatch (corrupt data)");
    }
    if (entry.name.back() != '/') entries.push_back(std::move(entry));
  }
  if (at != end) throw fail("the central directory size does not match its entries");
  return entries;
}

std::vector<ZipEntry> check_zip_archive(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    if (std::filesystem::exists(std::filesystem::symlink_status(path, ec)))
      throw Error("Invalid kernel archive `" + path.string() + "`: not a regular file");
    throw Error("Kernel archive not found: `" + path.string() + "`");
  }
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const Error& e) {
    throw Error("Invalid kernel archive `" + path.string() + "`: " + e.what());
  }
  return check_zip_bytes(bytes, path.string());
}

}  // namespace kb
