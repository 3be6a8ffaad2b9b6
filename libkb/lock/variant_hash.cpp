#include "libkb/lock/variant_hash.h"

#include <algorithm>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"
#include "libkb/variant/variant.h"

namespace kb::lock {

namespace fs = std::filesystem;

namespace {

// The raw digest bytes a hex hash stands for (20 for SHA-1, 32 for SHA-256).
std::string raw_digest(const FileHash& f) {
  std::optional<std::string> raw = f.hex.size() == 40 || f.hex.size() == 64 ? from_hex(f.hex) : std::nullopt;
  if (!raw)
    throw Error("invalid hash '" + f.hex + "' for " + f.name +
                ": expected 40 (git blob SHA-1) or 64 (SHA-256) hexadecimal digits");
  return *raw;
}

}  // namespace

std::string git_lfs_concat(std::vector<FileHash> files) {
  std::sort(files.begin(), files.end(), [](const FileHash& a, const FileHash& b) {
    // std::string compares bytes as unsigned char, as Python compares bytes.
    return a.name != b.name ? a.name < b.name : a.hex < b.hex;
  });
  Hasher hasher(HashAlgorithm::Sha256);
  for (const FileHash& f : files) {
    hasher.update(f.name);
    hasher.update(raw_digest(f));
  }
  return "sha256-" + to_hex(hasher.finish());
}

bool bytecode_path(std::string_view path) { return hub::is_bytecode(path); }

bool locked_path(std::string_view repo_path) {
  return starts_with(repo_path, "build/torch") && !bytecode_path(repo_path);
}

std::vector<TreeVariant> tree_variants(const std::vector<hub::TreeEntry>& tree) {
  std::vector<TreeVariant> out;
  for (const hub::TreeEntry& e : tree) {
    if (e.directory || !locked_path(e.path)) continue;
    std::vector<std::string> parts = split(e.path, '/');
    const std::string& variant = parts[1];
    // The path relative to build/<variant>/ ("." for a file named like a
    // variant directly under build/, as Python's relative_to gives).
    std::string prefix = variant::hub_variant_path(variant);
    std::string name = e.path.size() > prefix.size() ? e.path.substr(prefix.size() + 1) : ".";
    std::string hex = e.lfs_sha256 ? *e.lfs_sha256 : e.blob_id;
    if (hex.empty()) throw Error("Cannot get blob ID for " + e.path);
    auto it = std::find_if(out.begin(), out.end(), [&](const TreeVariant& v) { return v.name == variant; });
    if (it == out.end()) it = out.insert(out.end(), TreeVariant{variant, {}});
    it->files.push_back({std::move(name), std::move(hex)});
  }
  return out;
}

std::vector<std::pair<std::string, VariantLock>> variant_locks(const std::vector<hub::TreeEntry>& tree) {
  std::vector<std::pair<std::string, VariantLock>> out;
  for (TreeVariant& v : tree_variants(tree)) out.emplace_back(v.name, VariantLock{git_lfs_concat(std::move(v.files))});
  return out;
}

std::string LocalVariant::hash() const {
  std::vector<FileHash> hashes;
  for (const LocalFile& f : files) hashes.push_back({f.name, f.actual_hex});
  return git_lfs_concat(std::move(hashes));
}

LocalVariant scan_variant_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("variant directory " + dir.string() + " does not exist");
  LocalVariant out;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) throw Error("cannot read " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error("cannot read " + dir.string() + ": " + ec.message());
    const fs::path& path = it->path();
    std::string name = relative_slash_path(path, dir);
    fs::file_status status = it->symlink_status(ec);
    if (fs::is_directory(status)) {
      // Created by the interpreter that imported the kernel, never downloaded.
      if (path.filename() == "__pycache__") it.disable_recursion_pending();
      continue;
    }
    if (bytecode_path(name)) continue;
    if (!fs::is_symlink(status) || !fs::is_regular_file(path, ec)) {
      out.foreign.push_back(name);
      continue;
    }
    std::string blob = fs::read_symlink(path, ec).filename().string();
    if (blob.size() != 40 && blob.size() != 64)
      throw Error("Unexpected blob filename length: " + std::to_string(blob.size()) + " (" + path.string() + " -> " +
                  blob + ")");
    auto kind = blob.size() == 40 ? cache::ExpectedHash::GitBlobSha1 : cache::ExpectedHash::Sha256;
    out.files.push_back({name, kind, to_lower(blob), cache::hash_file(path, kind).hex});
  }
  std::sort(out.files.begin(), out.files.end(), [](const LocalFile& a, const LocalFile& b) { return a.name < b.name; });
  std::sort(out.foreign.begin(), out.foreign.end());
  return out;
}

void verify_variant_dir(const fs::path& dir, const std::string& repo_id, const std::string& variant,
                        const VariantLock& expected) {
  const std::string what = "variant " + variant + " of " + repo_id;
  if (expected.hash_type != kGitLfsConcat)
    throw Error("cannot verify " + what + ": unsupported hash_type `" + expected.hash_type +
                "` in kernels.lock (only git_lfs_concat is known)");
  LocalVariant local = scan_variant_dir(dir);
  std::vector<std::string> problems;
  for (const LocalFile& f : local.files)
    if (!f.intact())
      problems.push_back(f.name + ": content does not match the hub's " + cache::kind_name(f.kind) + " " + f.blob_hex +
                         " (found " + f.actual_hex + ")");
  for (const std::string& name : local.foreign) problems.push_back(name + ": not a file downloaded from the hub");
  std::string actual = local.hash();
  bool same_hash = actual == to_lower(expected.hash);
  if (same_hash && problems.empty()) return;
  std::string message = what + " in " + dir.string() + " does not match kernels.lock";
  if (!same_hash)
    message +=
        ": Lock file specifies kernel with hash " + expected.hash + ", but downloaded kernel has hash: " + actual;
  for (const std::string& p : problems) message += "\n  " + p;
  throw Error(message);
}

}  // namespace kb::lock
