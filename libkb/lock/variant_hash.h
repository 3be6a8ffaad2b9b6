#pragma once
// The variant hash of kernels.lock, hash type "git_lfs_concat": one SHA-256
// over every file of build/<variant>/ (bytecode excluded), each file
// contributing its path relative to the variant directory followed by the raw
// bytes of the hash the hub publishes for it (the SHA-256 of an LFS file, the
// git blob SHA-1 of any other). Sorted by path bytes, no separators; written
// "sha256-<lowercase hex>".
//
// It is computed from a hub tree listing (no download) when locking, and from
// a variant directory in the cache when checking a download: there each file
// is a symlink to a blob named by the hub's hash, whose length (40 or 64)
// tells a git blob from an LFS file, and the content is hashed again.
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libkb/cache/verify.h"
#include "libkb/hub/hub.h"
#include "libkb/lock/lockfile.h"

namespace kb::lock {

struct FileHash {
  std::string name;  // path relative to build/<variant>/, '/'-separated
  std::string hex;   // LFS SHA-256 (64 hex digits) or git blob SHA-1 (40)
};

// "sha256-<hex>" of `files` (any order: they are sorted by name bytes, then
// hex). Throws kb::Error naming the file whose hex is not 40 or 64 hex digits.
std::string git_lfs_concat(std::vector<FileHash> files);

// Whether a repository path takes part in a lock: a file under build/torch*
// (so tvm-ffi variants are never locked), not ending in ".pyc" and without a
// "__pycache__" component.
bool locked_path(std::string_view repo_path);

// Whether a path names interpreter bytecode, which is never downloaded nor
// hashed: it ends in ".pyc" or has a "__pycache__" component.
bool bytecode_path(std::string_view path);

struct TreeVariant {
  std::string name;
  std::vector<FileHash> files;
};

// The locked files of a recursive tree listing (paths from the repository
// root), grouped by variant (the second path component) in the order each
// variant first appears. Throws kb::Error("Cannot get blob ID for PATH") for
// a file entry without one.
std::vector<TreeVariant> tree_variants(const std::vector<hub::TreeEntry>& tree);

// Every variant of a recursive tree listing with its git_lfs_concat hash,
// in first-seen order: the `variants` of a lock entry.
std::vector<std::pair<std::string, VariantLock>> variant_locks(const std::vector<hub::TreeEntry>& tree);

// One file of a variant directory in the cache.
struct LocalFile {
  std::string name;                 // relative to the variant directory
  cache::ExpectedHash::Kind kind;   // from the length of the blob's name
  std::string blob_hex;             // the blob's name: the hash the hub published
  std::string actual_hex;           // the same kind of hash of the content on disk
  bool intact() const { return blob_hex == actual_hex; }
};

struct LocalVariant {
  std::vector<LocalFile> files;      // sorted by name
  std::vector<std::string> foreign;  // entries that are not symlinks to blobs (bytecode aside)
  // git_lfs_concat over the digests of the content on disk.
  std::string hash() const;
};

// Reads a variant directory of a cache snapshot: every symlink (bytecode
// aside) is hashed as its blob name's length says (40: git blob SHA-1, 64:
// SHA-256; any other length throws "Unexpected blob filename length: N"
// naming the file). Plain files, symlinks to directories and other entries
// that a download never creates are listed in `foreign`; __pycache__
// directories and *.pyc files are skipped as interpreter output.
LocalVariant scan_variant_dir(const std::filesystem::path& dir);

// Throws kb::Error naming `repo_id`, `variant` and what is wrong when the
// directory is not exactly what `expected` locks: an unsupported hash type,
// a file whose content no longer matches the hub's hash (named, with both
// hashes), a file not from the hub, or a different overall hash ("Lock file
// specifies kernel with hash H, but downloaded kernel has hash: C").
void verify_variant_dir(const std::filesystem::path& dir, const std::string& repo_id, const std::string& variant,
                        const VariantLock& expected);

}  // namespace kb::lock
