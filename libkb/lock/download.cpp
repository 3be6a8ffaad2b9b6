#include "libkb/lock/download.h"

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/lock/variant_hash.h"
#include "libkb/util/error.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::lock {

namespace fs = std::filesystem;

namespace {

std::string locked_names(const KernelLock& lock) {
  std::vector<std::string> names;
  for (const auto& [name, _] : lock.variants) names.push_back(name);
  return names.empty() ? "none" : join(names, ", ");
}

// Removes a variant directory that failed verification from its snapshot,
// with the blobs it links to whose content no longer matches their name (a
// later install would fetch those again anyway). Only files inside this
// repository's blobs/ are ever removed.
void discard(const cache::RepoCache& repo, const fs::path& dir) {
  std::error_code ec;
  fs::path blobs = fs::weakly_canonical(repo.blobs_dir(), ec);
  try {
    for (const LocalFile& f : scan_variant_dir(dir).files) {
      if (f.intact()) continue;
      fs::path blob = fs::canonical(dir / f.name, ec);
      if (!ec && blob.parent_path() == blobs) fs::remove(blob, ec);
    }
  } catch (const Error&) {
    // An entry that cannot be read: the directory goes all the same.
  }
  fs::remove_all(dir, ec);
  fs::remove(dir.parent_path(), ec);                // build/, when now empty
  fs::remove(dir.parent_path().parent_path(), ec);  // the snapshot, when now empty
}

DownloadedVariant verified(const cache::RepoCache& repo, const KernelLock& lock, const std::string& variant,
                           const fs::path& dir, const resolve::Environment* env) {
  try {
    // A structured entry pins the commit only: what install_variant verified
    // against the hub's file hashes is all there is to check.
    if (lock.commit_only()) return {variant, dir, {}};
    const VariantLock* expected = lock.find(variant);
    if (!expected)
      throw LockMismatch("variant " + variant + " of " + lock.repo_id + ", the one for this environment" +
                         (env ? " (" + env->describe() + ")" : std::string()) +
                         ", is not locked in kernels.lock (locked: " + locked_names(lock) +
                         "); lock the project again");
    verify_variant_dir(dir, lock.repo_id, variant, *expected);
  } catch (const LockMismatch&) {
    discard(repo, dir);
    throw;
  } catch (const Error& e) {
    discard(repo, dir);
    throw LockMismatch(e.what());
  }
  return {variant, dir, {}};
}

// The hub's files of one variant against its lock, before any download.
void check_listing(const KernelLock& lock, const std::string& variant, const std::vector<hub::TreeEntry>& files) {
  const VariantLock& expected = *lock.find(variant);
  if (expected.hash_type != kGitLfsConcat)
    throw LockMismatch("cannot verify variant " + variant + " of " + lock.repo_id + ": unsupported hash_type `" +
                       expected.hash_type + "` in kernels.lock (only git_lfs_concat is known)");
  std::vector<TreeVariant> listed = tree_variants(files);
  std::string hub_hash = git_lfs_concat(listed.empty() ? std::vector<FileHash>{} : listed.front().files);
  if (hub_hash != to_lower(expected.hash))
    throw LockMismatch("variant " + variant + " of " + lock.repo_id + " at " + lock.sha +
                       " does not match kernels.lock: Lock file specifies kernel with hash " + expected.hash +
                       ", but the hub's files hash to: " + hub_hash + " (nothing was downloaded)");
}

}  // namespace

std::vector<KernelLock> read_project_lock(const fs::path& project_dir) {
  fs::path path = project_dir / std::string(kLockFileName);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error("No kernels.lock file found in: " + project_dir.string());
  return read_lock_file(path);
}

std::vector<DownloadedVariant> download_locked(hub::Hub& hub, const KernelLock& lock, const DownloadOptions& o) {
  cache::RepoCache repo(o.cache_root, "kernel", lock.repo_id);
  // Variant names come from the file: they must not lead out of the snapshot.
  for (const auto& [name, _] : lock.variants) {
    if (name.find('/') != std::string::npos) throw Error("invalid variant name in kernels.lock: " + name);
    cache::check_hub_path(variant::hub_variant_path(name));
  }

  if (!o.all_variants) {
    fetch::InstallRequest request{lock.repo_id, lock.sha,           o.env,
                                  o.cache_root, o.local_files_only, o.parallel_downloads};
    std::string variant;
    auto install_verified = [&] {
      fetch::Installed installed = fetch::install_variant(hub, request);
      variant = installed.variant;
      DownloadedVariant out = verified(repo, lock, installed.variant, installed.variant_dir, &o.env);
      out.warnings = installed.resolution.warnings;
      return out;
    };
    try {
      return {install_verified()};
    } catch (const LockMismatch&) {
      // A copy altered in the cache has just been discarded: fetch it again,
      // once. (A hub whose files differ from the lock fails the same way twice.)
      if (o.local_files_only || !lock.find(variant)) throw;
    }
    return {install_verified()};
  }

  std::vector<std::string> names;
  for (const auto& [name, _] : lock.variants) names.push_back(name);
  if (lock.commit_only()) {
    // The commit's variants: on the hub, or offline those in the cache.
    if (o.local_files_only) {
      for (const variant::Variant& v : resolve::list_variant_dirs(repo.snapshot_dir(lock.sha) / variant::kBuildDir))
        names.push_back(v.str());
      if (names.empty())
        throw Error("Cannot find a local snapshot for " + lock.repo_id + " (revision: " + lock.sha +
                    ") and Hugging Face Hub is in offline mode");
    } else {
      for (const variant::Variant& v : fetch::hub_variants(hub, lock.repo_id, lock.sha)) names.push_back(v.str());
    }
  }
  std::vector<fs::path> dirs;
  if (o.local_files_only) {
    for (const std::string& name : names) {
      fs::path dir = variant::variant_dir(repo.snapshot_dir(lock.sha), name);
      std::error_code ec;
      if (!fs::is_directory(dir, ec))
        throw Error("Variant " + name + " of " + lock.repo_id + " (revision: " + lock.sha +
                    ") is not in the cache and Hugging Face Hub is in offline mode");
      dirs.push_back(dir);
    }
  } else {
    fetch::InstallRequest request{lock.repo_id, lock.sha, o.env, o.cache_root, false, o.parallel_downloads};
    auto check = [&](const std::string& variant, const std::vector<hub::TreeEntry>& files) {
      if (!lock.commit_only()) check_listing(lock, variant, files);
    };
    for (const fetch::Installed& installed : fetch::install_named_variants(hub, request, names, check))
      dirs.push_back(installed.variant_dir);
  }

  // Every variant is checked, so that each failing one leaves the cache.
  std::vector<DownloadedVariant> out;
  std::vector<std::string> errors;
  for (size_t i = 0; i < names.size(); ++i) {
    try {
      out.push_back(verified(repo, lock, names[i], dirs[i], nullptr));
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  if (!errors.empty()) throw LockMismatch(join(errors, "\n"));
  return out;
}

}  // namespace kb::lock
