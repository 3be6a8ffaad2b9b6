#include "libkb/fetch/install.h"

#include <algorithm>
#include <set>

#include "libkb/cache/cache.h"
#include "libkb/fetch/store_files.h"
#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::fetch {

namespace fs = std::filesystem;

namespace {

// Marks a variant whose every file is in the snapshot, so a warm install
// needs no tree listing. Kept beside the cache's own folders, never inside a
// snapshot (which must hold only the hub's files).
fs::path complete_marker(const cache::RepoCache& repo, const std::string& commit, const std::string& variant) {
  return repo.repo_dir() / ".kb-complete" / commit / variant;
}

// The names of the variants the hub lists under build/ at `commit`.
fs::path variants_listing(const cache::RepoCache& repo, const std::string& commit) {
  return repo.repo_dir() / ".kb-complete" / commit / ".variants";
}

std::string no_variant_message(const InstallRequest& r, const resolve::Resolution& res) {
  return "Cannot find a build variant for this system in " + r.repo_id + " (revision: " + r.revision + "):\n\n" +
         resolve::render_trace(res.trace);
}

Installed from_snapshot(const cache::RepoCache& repo, const InstallRequest& r, const std::string& commit) {
  fs::path build = repo.snapshot_dir(commit) / "build";
  resolve::Resolution res = resolve::resolve(resolve::list_variant_dirs(build), r.env);
  const resolve::Decision* best = res.best();
  if (!best) throw Error(no_variant_message(r, res));
  std::string name = best->variant.str();
  return {build / name, commit, name, std::move(res)};
}

}  // namespace

namespace {

// The variants a recursive listing of the repository has files in:
// build/<variant>/..., each name once, in listing order.
std::vector<variant::Variant> variants_in(const std::vector<hub::TreeEntry>& tree) {
  std::vector<variant::Variant> out;
  std::set<std::string> seen;
  for (const hub::TreeEntry& e : tree) {
    if (e.path.rfind("build/", 0) != 0) continue;
    size_t slash = e.path.find('/', 6);
    if (slash == std::string::npos) continue;
    std::string name = e.path.substr(6, slash - 6);
    if (!seen.insert(name).second) continue;
    if (auto v = variant::Variant::try_parse(name)) out.push_back(*v);
  }
  return out;
}

}  // namespace

std::vector<variant::Variant> hub_variants(hub::Hub& hub, const std::string& repo_id, const std::string& revision) {
  std::vector<hub::TreeEntry> entries;
  try {
    entries = hub.list_tree(repo_id, revision, "build", false);
  } catch (const hub::NotFound& e) {
    if (e.kind() != hub::NotFound::What::Entry) throw;
  }
  std::vector<variant::Variant> out;
  for (const hub::TreeEntry& e : entries) {
    if (!e.directory) continue;
    if (auto v = variant::Variant::try_parse(fs::path(e.path).filename().string())) out.push_back(*v);
  }
  return out;
}

Installed install_variant(hub::Hub& hub, const InstallRequest& r) {
  cache::RepoCache repo(r.cache_root, "kernel", r.repo_id);
  if (r.local_files_only) {
    auto commit = repo.cached_commit(r.revision);
    if (!commit)
      throw Error("Cannot find a local snapshot for " + r.repo_id + " (revision: " + r.revision +
                  "). When Hugging Face Hub is in offline mode the kernel must already be present in the local cache.");
    Installed out = from_snapshot(repo, r, *commit);
    if (!fs::is_directory(out.variant_dir))
      throw Error("Variant path does not exist: `" + out.variant_dir.string() + "`");
    return out;
  }

  // A commit never changes: when it is already recorded, no request is needed.
  // (Caches of earlier versions also hold a `.status` record beside the
  // listing, from when kernel-status.toml redirects were followed; it is
  // ignored.)
  std::error_code ec;
  bool known_commit = git::is_object_id(r.revision) &&
                      fs::is_regular_file(variants_listing(repo, git::parse_object_id(r.revision)), ec);
  std::string commit = known_commit ? git::parse_object_id(r.revision) : hub.resolve_revision(r.repo_id, r.revision);
  if (!git::is_object_id(r.revision)) repo.write_ref(r.revision, commit);

  // A first install of a commit lists the whole repository once: the listing
  // says which variants exist and which files the chosen one has (instead of
  // a request for each).
  fs::path listing = variants_listing(repo, commit);
  bool listed_before = fs::is_regular_file(listing, ec);
  std::optional<std::vector<hub::TreeEntry>> tree;
  if (!listed_before) tree = hub.list_tree(r.repo_id, commit, "", true);

  // Warm: the hub's variant list of this commit was recorded by an earlier
  // install, and the variant it prefers for this environment is complete.
  // (Resolving over the cached variants alone could prefer a worse one.)
  std::vector<variant::Variant> listed;
  if (listed_before) {
    for (const std::string& name : split(read_file(listing), '\n'))
      if (auto v = variant::Variant::try_parse(name)) listed.push_back(*v);
  } else {
    listed = variants_in(*tree);
  }
  resolve::Resolution res = resolve::resolve(listed, r.env);
  const resolve::Decision* best = res.best();
  if (!best) throw Error(no_variant_message(r, res));
  std::string name = best->variant.str();
  fs::path dir = variant::variant_dir(repo.snapshot_dir(commit), name);
  if (fs::exists(complete_marker(repo, commit, name), ec) && fs::is_directory(dir, ec))
    return {dir, commit, name, std::move(res)};
  if (!listed_before) {
    std::vector<std::string> names;
    for (const auto& v : listed) names.push_back(v.str());
    fs::create_directories(listing.parent_path());
    write_file_atomic(listing, join(names, "\n"));
  }

  std::vector<hub::TreeEntry> files;
  if (tree) {
    std::string prefix = variant::hub_variant_path(name) + "/";
    for (const hub::TreeEntry& e : *tree)
      if (e.path.rfind(prefix, 0) == 0) files.push_back(e);
  } else {
    files = hub.list_tree(r.repo_id, commit, variant::hub_variant_path(name), true);
  }
  // Every path is checked before anything is downloaded: a hostile tree
  // stores nothing.
  check_tree_entries(files);

  files.erase(
      std::remove_if(files.begin(), files.end(), [](const hub::TreeEntry& e) { return hub::is_bytecode(e.path); }),
      files.end());
  store_files(hub, repo, commit, files, r.parallel_downloads);
  fs::path marker = complete_marker(repo, commit, name);
  fs::create_directories(marker.parent_path());
  write_file_atomic(marker, "");
  if (!fs::is_directory(dir, ec))
    throw Error("Cannot install kernel from repo " + r.repo_id + " (revision: " + r.revision + ")");
  return {dir, commit, name, std::move(res)};
}

std::string resolve_version(hub::Hub* hub, const std::string& repo_id, int version, const fs::path& cache_root,
                            bool local_files_only, std::optional<std::string>* notice) {
  std::map<int, std::string> versions;
  if (local_files_only || !hub)
    versions = cache::cached_version_refs(cache_root, repo_id);
  else
    versions = hub::version_branches(hub->list_branches(repo_id));
  if (local_files_only && versions.empty())
    throw Error("Version " + std::to_string(version) + " of '" + repo_id +
                "' is not available in the local cache and Hugging Face Hub is in offline mode. Download the kernel "
                "while online first, or pass an explicit `revision=<commit>`.");
  std::string commit = hub::version_commit(versions, version);
  if (notice) *notice = hub::newer_version_notice(repo_id, version, versions);
  // Remember the version's commit for offline use (the existing runtime does not).
  if (!local_files_only && hub)
    cache::RepoCache(cache_root, "kernel", repo_id).write_ref("v" + std::to_string(version), commit);
  return commit;
}

}  // namespace kb::fetch
