// Installing named variants, without resolution: every variant a lock lists.
#include <algorithm>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/fetch/store_files.h"
#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::fetch {

namespace fs = std::filesystem;

std::vector<Installed> install_named_variants(hub::Hub& hub, const InstallRequest& r,
                                              const std::vector<std::string>& variants,
                                              const VariantFilesCheck& check) {
  cache::RepoCache repo(r.cache_root, "kernel", r.repo_id);
  std::string commit = hub.resolve_revision(r.repo_id, r.revision);
  if (!git::is_object_id(r.revision)) repo.write_ref(r.revision, commit);

  // One listing for every variant; grouped by the second path component.
  std::vector<std::vector<hub::TreeEntry>> files(variants.size());
  std::vector<hub::TreeEntry> tree = hub.list_tree(r.repo_id, commit, "build", true);
  for (hub::TreeEntry& e : tree) {
    if (e.directory || hub::is_bytecode(e.path)) continue;
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
    check_tree_entries(files[i]);
  }
  if (check)
    for (size_t i = 0; i < variants.size(); ++i) check(variants[i], files[i]);

  for (const auto& group : files) store_files(hub, repo, commit, group, r.parallel_downloads);

  std::vector<Installed> out;
  for (const std::string& v : variants)
    out.push_back({variant::variant_dir(repo.snapshot_dir(commit), v), commit, v, {}});
  return out;
}

}  // namespace kb::fetch
