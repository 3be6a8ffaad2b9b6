#include "libkb/toolchain/facts_cache.h"

#include <sys/stat.h>

#include <iterator>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"

namespace kb::toolchain::detail {
namespace {

constexpr int kFormat = 1;

nlohmann::json stamp_json(const FileStamp& s) {
  return {{"path", s.path}, {"exists", s.exists}, {"mtime_ns", s.mtime_ns}, {"size", s.size}};
}

}  // namespace

FileStamp stamp_file(const fs::path& path) {
  FileStamp s;
  s.path = path.string();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.size = static_cast<uint64_t>(st.st_size);
  return s;
}

FactsCache::FactsCache(fs::path file) : file_(std::move(file)), data_(load(file_)) {}

nlohmann::json FactsCache::load(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return nlohmann::json::object();
  try {
    auto parsed = nlohmann::json::parse(read_file(file));
    if (parsed.is_object() && parsed.value("format", 0) == kFormat) return parsed;
  } catch (const std::exception&) {
    // Unreadable or corrupt: start over; the next save() replaces the file.
  }
  return nlohmann::json::object();
}

std::optional<nlohmann::json> FactsCache::lookup(const std::string& section, const std::string& key,
                                                 const nlohmann::json& context) const {
  try {
    auto sec = data_.find(section);
    if (sec == data_.end() || !sec->is_object()) return std::nullopt;
    auto entry = sec->find(key);
    if (entry == sec->end() || !entry->is_object()) return std::nullopt;
    if (entry->value("context", nlohmann::json()) != context) return std::nullopt;
    for (const auto& recorded : entry->at("stamps")) {
      FileStamp now = stamp_file(recorded.at("path").get<std::string>());
      FileStamp then{recorded.at("path").get<std::string>(), recorded.at("exists").get<bool>(),
                     recorded.at("mtime_ns").get<int64_t>(), recorded.at("size").get<uint64_t>()};
      if (!(now == then)) return std::nullopt;
    }
    const auto& facts = entry->at("facts");
    if (!facts.is_object()) return std::nullopt;
    return facts;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // an entry of the wrong shape counts as missing
  }
}

void FactsCache::store(const std::string& section, const std::string& key, const std::vector<fs::path>& watched,
                       const nlohmann::json& context, const nlohmann::json& facts) {
  nlohmann::json stamps = nlohmann::json::array();
  for (const auto& path : watched) stamps.push_back(stamp_json(stamp_file(path)));
  nlohmann::json entry = {{"stamps", stamps}, {"context", context}, {"facts", facts}};
  pending_[section][key] = entry;
  if (!data_[section].is_object()) data_[section] = nlohmann::json::object();
  data_[section][key] = entry;
}

void FactsCache::save() {
  if (pending_.empty()) return;
  // Re-read so that entries written by another process meanwhile survive.
  nlohmann::json merged = load(file_);
  merged["format"] = kFormat;
  for (const auto& [section, entries] : pending_.items()) {
    if (!merged[section].is_object()) merged[section] = nlohmann::json::object();
    for (const auto& [key, entry] : entries.items()) merged[section][key] = entry;
  }
  // Forget tools that no longer exist (their first stamped file is the tool itself).
  for (auto& [section, entries] : merged.items()) {
    if (!entries.is_object()) continue;
    for (auto it = entries.begin(); it != entries.end();) {
      bool gone = false;
      try {
        const auto& first = it.value().at("stamps").at(0);
        std::error_code ec;
        gone = first.at("exists").get<bool>() && !fs::exists(first.at("path").get<std::string>(), ec);
      } catch (const nlohmann::json::exception&) {
        gone = true;  // malformed entry
      }
      it = gone ? entries.erase(it) : std::next(it);
    }
  }
  try {
    write_file_atomic(file_, merged.dump(2) + "\n");
    pending_ = nlohmann::json::object();
  } catch (const std::exception&) {
    // A read-only or full cache directory must not break discovery.
  }
}

}  // namespace kb::toolchain::detail
