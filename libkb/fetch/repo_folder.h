#pragma once
// One folder of a kernel repository (e.g. benchmarks/) at a revision, fetched
// into the cache's snapshot of that commit, as `kernels benchmark` needs it.
#include <filesystem>
#include <string>

#include "libkb/hub/hub.h"

namespace kb::fetch {

struct FolderSnapshot {
  std::string commit;          // the commit `revision` named
  std::filesystem::path root;  // snapshots/<commit>: the folder is root / folder when it exists
  bool folder_exists = false;  // false: the repository has no such folder at that commit
  size_t files = 0;            // files stored under root / folder
};

// Resolves `revision`, records it as a ref (unless it is a commit id) and
// stores every file under `folder` of `repo_id` into
// <cache_root>/kernels--org--name/snapshots/<commit>/<folder>, each verified
// against the hub's hash. A repository without the folder is not an error
// (folder_exists is false); hostile paths or symlinks in the listing throw
// kb::Error before anything is stored.
FolderSnapshot fetch_repo_folder(hub::Hub& hub, const std::filesystem::path& cache_root, const std::string& repo_id,
                                 const std::string& revision, const std::string& folder, unsigned parallel = 4);

// Offline: the folder as an earlier fetch_repo_folder left it in the cache
// (the ref or commit `revision` names). Throws kb::Error naming the
// repository and revision when the cache has no snapshot of it.
FolderSnapshot cached_repo_folder(const std::filesystem::path& cache_root, const std::string& repo_id,
                                  const std::string& revision, const std::string& folder);

}  // namespace kb::fetch
