#include "libkb/hub/trust.h"

#include <ctime>

#include "libkb/cache/cache.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"

namespace kb::hub {

namespace fs = std::filesystem;

std::optional<bool> publisher_trusted_cached(Hub& hub, std::string_view org, const fs::path& cache_root,
                                             std::chrono::seconds ttl) {
  // An organisation name is a repo id's first part: check it as one.
  cache::check_repo_id(std::string(org) + "/x");
  fs::path record = cache_root / ".kb-trust" / fnv1a64_hex(hub.describe()) / std::string(org);
  std::error_code ec;
  if (fs::is_regular_file(record, ec)) {
    try {
      long long stamp = std::stoll(trim(read_file(record)));
      long long age = static_cast<long long>(std::time(nullptr)) - stamp;
      if (age >= 0 && age < ttl.count()) return true;
    } catch (const std::exception&) {
      // An unreadable record is no record.
    }
  }
  std::optional<bool> trusted = hub.publisher_trusted(org);
  if (trusted == std::optional<bool>(true)) {
    try {
      write_file_atomic(record, std::to_string(static_cast<long long>(std::time(nullptr))));
    } catch (const std::exception&) {
      // A read-only cache only costs the next process a request.
    }
  }
  return trusted;
}

}  // namespace kb::hub
