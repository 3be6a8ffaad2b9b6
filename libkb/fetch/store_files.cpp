#include "libkb/fetch/store_files.h"

#include <algorithm>
#include <mutex>

#include "libkb/util/error.h"
#include "libkb/util/work_queue.h"

namespace kb::fetch {

cache::ExpectedHash expected_hash(const hub::TreeEntry& e) {
  if (e.lfs_sha256) return {cache::ExpectedHash::Sha256, *e.lfs_sha256, e.size};
  return {cache::ExpectedHash::GitBlobSha1, e.blob_id, e.size};
}

void check_tree_entries(const std::vector<hub::TreeEntry>& files) {
  for (const hub::TreeEntry& e : files) {
    cache::check_hub_path(e.path);
    if (e.symlink) throw Error("refusing symbolic link in hub tree: " + e.path);
  }
}

void store_files(hub::Hub& hub, const cache::RepoCache& repo, const std::string& commit,
                 const std::vector<hub::TreeEntry>& files, unsigned parallel) {
  std::mutex error_mutex;
  std::string first_error;
  {
    WorkQueue queue(std::max(1u, parallel));
    for (const hub::TreeEntry& e : files) {
      if (e.directory) continue;
      queue.submit([&, e] {
        try {
          repo.store(commit, e.path, expected_hash(e), [&](std::ostream& out) {
            hub.fetch_file(repo.repo_id(), commit, e, [&](const char* data, size_t n) {
              out.write(data, static_cast<std::streamsize>(n));
            });
          });
        } catch (const std::exception& err) {
          std::lock_guard lock(error_mutex);
          if (first_error.empty()) first_error = err.what();
        }
      });
    }
    queue.wait_idle();
  }
  if (!first_error.empty()) throw Error(first_error);
}

}  // namespace kb::fetch
