#include "libkb/fetch/repo_folder.h"

#include <algorithm>

#include "libkb/cache/cache.h"
#include "libkb/fetch/store_files.h"
#include "libkb/git/git.h"

namespace kb::fetch {

FolderSnapshot fetch_repo_folder(hub::Hub& hub, const std::filesystem::path& cache_root, const std::string& repo_id,
                                 const std::string& revision, const std::string& folder, unsigned parallel) {
  hub::validate_repo_id(repo_id);
  cache::check_hub_path(folder);
  cache::RepoCache repo(cache_root, "kernel", repo_id);
  FolderSnapshot out;
  out.commit = hub.resolve_revision(repo_id, revision);
  if (!git::is_object_id(revision)) repo.write_ref(revision, out.commit);
  out.root = repo.snapshot_dir(out.commit);
  std::vector<hub::TreeEntry> entries;
  try {
    entries = hub.list_tree(repo_id, out.commit, folder, true);
  } catch (const hub::NotFound& e) {
    if (e.kind() != hub::NotFound::What::Entry) throw;
    return out;
  }
  std::erase_if(entries, [](const hub::TreeEntry& e) { return e.directory; });
  out.folder_exists = !entries.empty();
  check_tree_entries(entries);
  store_files(hub, repo, out.commit, entries, parallel);
  out.files = entries.size();
  return out;
}

FolderSnapshot cached_repo_folder(const std::filesystem::path& cache_root, const std::string& repo_id,
                                  const std::string& revision, const std::string& folder) {
  hub::validate_repo_id(repo_id);
  cache::check_hub_path(folder);
  cache::RepoCache repo(cache_root, "kernel", repo_id);
  auto commit = repo.cached_commit(revision);
  if (!commit)
    throw Error("Cannot find a local snapshot of " + repo_id + " (revision: " + revision +
                ") in the cache: in offline mode it must have been downloaded before");
  FolderSnapshot out;
  out.commit = *commit;
  out.root = repo.snapshot_dir(*commit);
  std::error_code ec;
  out.folder_exists = std::filesystem::is_directory(out.root / folder, ec);
  if (out.folder_exists)
    for (const auto& entry : std::filesystem::recursive_directory_iterator(out.root / folder, ec))
      if (entry.is_regular_file(ec)) ++out.files;
  return out;
}

}  // namespace kb::fetch
