#pragma once
// Downloading a set of hub files into the cache, in parallel, each verified
// against the hash the hub lists for it (shared by every kind of install).
#include <string>
#include <vector>

#include "libkb/cache/cache.h"
#include "libkb/hub/hub.h"

namespace kb::fetch {

// What the cache checks a file against: the LFS sha256 when the hub lists
// one, else the git blob id.
cache::ExpectedHash expected_hash(const hub::TreeEntry& entry);

// Throws kb::Error before anything is downloaded when an entry's path is
// unsafe (cache::check_hub_path) or it is a symbolic link: a hostile tree
// stores nothing.
void check_tree_entries(const std::vector<hub::TreeEntry>& files);

// Stores every file entry of `files` (directories are skipped) under
// snapshots/<commit>/ with up to `parallel` downloads at once. All downloads
// run to the end; the first failure is then thrown as kb::Error.
void store_files(hub::Hub& hub, const cache::RepoCache& repo, const std::string& commit,
                 const std::vector<hub::TreeEntry>& files, unsigned parallel);

}  // namespace kb::fetch
