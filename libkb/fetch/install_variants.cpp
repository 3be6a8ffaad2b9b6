// Installing named variants, without resolution: every variant a lock lists.
// No kernel-status.toml redirect is followed (nor is one by the existing
// runtime's all-variants download).
#include <algorithm>
#include <mutex>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "libkb/util/work_queue.h"

namespace kb::fetch {

namespace fs = std::filesystem;

namespace {

// Bytecode is specific to one interpreter: never downloaded.
bool is_bytecode(const std::string& path) {
  if (ends_with(path, ".pyc")) return true;
  for (const std::string& part : split(path, '/'))
    if (part == "__pycache__") return true;
  return false;
}

}  // namespace

std::vector<Installed> install_named_variants(hub::Hub& hub, const InstallRequest& r,
                                              const std::vector<std::string>& variants, const VariantFilesCheck& check) {
  cache::RepoCache repo(r.cache_root, "kernel", r.repo_id);
  std::string commit = hub.resolve_revision(r.repo_id, r.revision);
  if (!git::is_object_id(r.revision)) repo.write_ref(r.revision, commit);

  // One listing for every variant; grouped by the second path component.
  std::vector<std::vector<hub::TreeEntry>> files(variants.size());
  std::vector<hub::TreeEntry> tree = hub.list_tree(r.repo_id, commit, "build", true);
  for (hub::TreeEntry& e : tree) {
    if (e.directory || is_bytecode(e.path)) continue;
    std::vector<std::string> parts = split(e.path, '/');
    if (parts.size() < 3) continue;
    auto it = std::find(variants.begin(), variants.end(), parts[1]);
    if (it != variants.end()) files[static_cast<size_t>(it - variants.begin())].push_back(std::move(e));
  }
  // Everything is checked before the first download: a missing variant, an
  // unsafe path or a refused listing stores nothing.
  for (size_t i = 0; i < variants.size(); ++i) {
    if (files[i].empty())
      throw Error("Variant " + variants[i] + " not found in " + r.repo_id + " (revision: " + r.revision + ")");
    for (const hub::TreeEntry& e : files[i]) cache::check_hub_path(e.path);
  }
  if (check)
    for (size_t i = 0; i < variants.size(); ++i) check(variants[i], files[i]);

  std::mutex error_mutex;
  std::string first_error;
  {
    WorkQueue queue(std::max(1u, r.parallel_downloads));
    for (const auto& group : files) {
      for (const hub::TreeEntry& e : group) {
        queue.submit([&, e] {
          try {
            cache::ExpectedHash expected{e.lfs_sha256 ? cache::ExpectedHash::Sha256 : cache::ExpectedHash::GitBlobSha1,
                                         e.lfs_sha256 ? *e.lfs_sha256 : e.blob_id, e.size};
            repo.store(commit, e.path, expected, [&](std::ostream& out) {
              hub.fetch_file(r.repo_id, commit, e, [&](const char* data, size_t n) {
                out.write(data, static_cast<std::streamsize>(n));
              });
            });
          } catch (const std::exception& err) {
            std::lock_guard lock(error_mutex);
            if (first_error.empty()) first_error = err.what();
          }
        });
      }
    }
    queue.wait_idle();
  }
  if (!first_error.empty()) throw Error(first_error);

  std::vector<Installed> out;
  for (const std::string& v : variants)
    out.push_back({repo.snapshot_dir(commit) / "build" / v, commit, v, {}, r.repo_id, {}});
  return out;
}

}  // namespace kb::fetch
