#pragma once
// kernels.lock: the lock file `kernels lock` writes and the loaders and
// `kernels download` read. A JSON array, one entry per locked kernel:
//
//   [
//     {
//       "repo_id": "org/name",
//       "sha": "<commit of branch v<N> at lock time>",
//       "variants": {
//         "<variant>": {
//           "hash": "sha256-<64 lowercase hex>",
//           "hash_type": "git_lfs_concat"
//         }
//       }
//     }
//   ]
//
// Written exactly as the existing tool writes it (Python's json.dump with
// indent=2: two-space indent, "," at line ends, ": " after keys, empty
// containers as [] and {}, non-ASCII escaped as \uXXXX, no trailing
// newline), so both tools produce the same bytes.
//
// kernels >= 0.17 writes a structured format instead, which kb reads too:
//
//   [
//     {
//       "dependency": {"repo-id": "org/name", "version": 1},   (or "revision": "<ref>")
//       "lock": {"commit": "<40 or 64 hex>"}
//     }
//   ]
//
// It pins each dependency to a commit and carries no variant hashes: a
// variant loaded through it is verified against the hub's file hashes as
// any download is, not against the lock.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kb::lock {

// The only variant hash type the existing tool produces (see variant_hash.h).
inline constexpr std::string_view kGitLfsConcat = "git_lfs_concat";

// The lock file's name inside a project directory.
inline constexpr std::string_view kLockFileName = "kernels.lock";

struct VariantLock {
  std::string hash;                                  // "sha256-<hex>"
  std::string hash_type = std::string(kGitLfsConcat);
  bool operator==(const VariantLock&) const = default;
};

// What a structured entry locked: a version (branch v<N>) or a revision.
struct Pin {
  std::optional<uint64_t> version;
  std::optional<std::string> revision;
  bool operator==(const Pin&) const = default;
};

struct KernelLock {
  std::string repo_id;
  std::string sha;
  // Variant name -> lock, in the order the hub's tree listing first showed
  // each variant (the order the file keeps).
  std::vector<std::pair<std::string, VariantLock>> variants;
  // Set for entries of the structured format (which have no variants).
  std::optional<Pin> pin;

  // Whether the entry pins only a commit (the structured format): its
  // variants are checked against the hub's hashes, not the lock's.
  bool commit_only() const { return pin.has_value() && variants.empty(); }

  // The lock of `variant`, or nullptr when this entry does not lock it.
  const VariantLock* find(std::string_view variant) const;
  bool operator==(const KernelLock&) const = default;
};

// The file's bytes for `locks` (entries and variants in the order given).
std::string format_lock_file(const std::vector<KernelLock>& locks);

// The structured format's bytes for `locks` (each with a pin), as kernels
// 0.19 writes them: sorted by repo id, then versions (numerically) before
// revisions; two-space indent, no trailing newline.
std::string format_structured_lock_file(std::vector<KernelLock> locks);

// Parses lock file text of either format (one format per file). `source`
// names the file in messages. Structured entries must have exactly the keys
// above ("version" or "revision", never both), a commit of 40 or 64 hex
// digits (stored lowercase), and no dependency twice. Throws
// kb::Error for text that is not JSON ("kernels.lock:3:5: not valid JSON:
// ..."), a top level that is not an array, an entry without `repo_id`, `sha`
// or `variants`, a value of the wrong type, or a variant object with a key
// other than `hash` and `hash_type` (`hash` required, `hash_type` defaulting
// to git_lfs_concat), naming the entry and the key. Unknown keys of an entry
// are ignored, as the existing reader ignores them.
std::vector<KernelLock> parse_lock_file(std::string_view text, const std::string& source = "kernels.lock");

// read_file + parse_lock_file, messages naming `path`.
std::vector<KernelLock> read_lock_file(const std::filesystem::path& path);

// Writes format_lock_file(locks) to `path` atomically.
void write_lock_file(const std::filesystem::path& path, const std::vector<KernelLock>& locks);

// The sha of the first entry for `repo_id`, as the loaders look it up.
std::optional<std::string> locked_revision(const std::vector<KernelLock>& locks, std::string_view repo_id);

}  // namespace kb::lock
