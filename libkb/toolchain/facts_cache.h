#pragma once
// The on-disk cache of toolchain facts (internal to libkb/toolchain).
//
// File layout: {"format": 1, "<section>": {"<key>": {"stamps": [...],
// "context": {...}, "facts": {...}}}}. An entry is valid while every stamped
// file still has the recorded existence, mtime and size, and the context
// (environment variables, probe digest) is equal. Entries of tools that no
// longer exist are dropped when saving. Reading tolerates a missing
// or corrupt file (treated as empty); writing is atomic and best effort.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kb::toolchain::detail {

namespace fs = std::filesystem;

struct FileStamp {
  std::string path;
  bool exists = false;
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// stat() of `path` (following symlinks).
FileStamp stamp_file(const fs::path& path);

class FactsCache {
 public:
  explicit FactsCache(fs::path file);

  // The facts of a still-valid entry.
  std::optional<nlohmann::json> lookup(const std::string& section, const std::string& key,
                                       const nlohmann::json& context) const;
  // Records an entry whose validity depends on `watched` files. Saved by save().
  void store(const std::string& section, const std::string& key, const std::vector<fs::path>& watched,
             const nlohmann::json& context, const nlohmann::json& facts);
  // Merges the stored entries into the file as it is now on disk and writes it
  // atomically. Failures are ignored: the cache only saves time.
  void save();

  const fs::path& file() const { return file_; }

 private:
  static nlohmann::json load(const fs::path& file);

  fs::path file_;
  nlohmann::json data_;
  nlohmann::json pending_ = nlohmann::json::object();
};

}  // namespace kb::toolchain::detail
