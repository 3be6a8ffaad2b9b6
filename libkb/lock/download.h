#pragma once
// Downloading locked kernels (`kernels download PROJECT_DIR`): each entry of
// kernels.lock is fetched at its pinned commit into the cache, then every
// fetched variant is checked against its lock hash. What fails the check is
// removed from the cache, so nothing unverified stays there.
#include <filesystem>
#include <string>
#include <vector>

#include "libkb/hub/hub.h"
#include "libkb/lock/lockfile.h"
#include "libkb/resolve/resolve.h"
#include "libkb/util/error.h"

namespace kb::lock {

// The lock and what was fetched disagree (a variant the lock does not cover,
// files that differ from its hash): not a failure to find or fetch.
class LockMismatch : public Error {
 public:
  using Error::Error;
};

struct DownloadOptions {
  std::filesystem::path cache_root;  // usually cache::default_cache_root()
  resolve::Environment env;          // picks the variant unless all_variants
  bool all_variants = false;         // every variant the entry locks
  bool local_files_only = false;     // offline: check what the cache holds
  unsigned parallel_downloads = 8;
};

struct DownloadedVariant {
  std::string variant;
  std::filesystem::path dir;          // <cache>/kernels--org--name/snapshots/<sha>/build/<variant>
  std::vector<std::string> warnings;  // what the install had to say (resolution notes)
};

// PROJECT_DIR/kernels.lock, parsed; kb::Error "No kernels.lock file found
// in: DIR" when there is none.
std::vector<KernelLock> read_project_lock(const std::filesystem::path& project_dir);

// Fetches one lock entry at its sha and verifies what was fetched:
//  - by default the variant that fits options.env best (as get_kernel picks
//    it); kb::Error when that variant is not locked in the entry;
//  - with all_variants, exactly the variants the entry locks; the hub's
//    listing is compared with the lock before anything is downloaded
//    (kb::Error "Variant V not found in ORG/NAME (revision: SHA)" when the hub
//    no longer has one).
// A variant that fails verification is removed from the cache snapshot (and
// any cached blob whose content no longer matches its name with it) before
// the LockMismatch naming the kernel, the variant and the files at fault;
// failures to find or fetch stay plain kb::Error.
std::vector<DownloadedVariant> download_locked(hub::Hub& hub, const KernelLock& lock, const DownloadOptions& options);

}  // namespace kb::lock
