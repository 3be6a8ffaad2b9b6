#pragma once
// What kb needs to know about the git repository a kernel lives in: the
// unique id that names its ops (builder spec 3.1) and the commit it was built
// from (metadata provenance). Everything goes through libgit2, no git CLI.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace kb::git {

// A commit and whether tracked files differ from it (index or worktree;
// untracked files and submodules do not count).
struct CommitState {
  std::string commit;  // lowercase hex, 40 (SHA-1) or 64 (SHA-256) digits
  bool dirty = false;
  friend bool operator==(const CommitState&, const CommitState&) = default;
};

// Initialises libgit2 once per process; safe to call from any thread.
void ensure_initialized();

// The id from the repository discovered from `kernel_dir` (walking up to
// enclosing directories): the first 7 hex digits of HEAD's *tree* id, plus
// "_dirty" when tracked files changed. std::nullopt when git fails (no
// repository, no HEAD, bare repository, ...).
std::optional<std::string> tree_unique_id(const std::filesystem::path& kernel_dir);

// A random 64-bit value, little-endian, in lowercase RFC 4648 base32 without
// padding: 13 characters of [a-z2-7].
std::string random_unique_id();

// tree_unique_id, falling back to random_unique_id.
std::string unique_id(const std::filesystem::path& kernel_dir);

// HEAD's commit id and dirty state of the repository discovered from
// `kernel_dir`; std::nullopt when git fails.
std::optional<CommitState> kernel_provenance(const std::filesystem::path& kernel_dir);

// True for exactly 40 or 64 hex digits (either case).
bool is_object_id(std::string_view text);
// Lowercased object id; throws kb::Error
// "Invalid git object id, expected 40 or 64 hexadecimal digits: <text>".
std::string parse_object_id(std::string_view text);

// Lowercase RFC 4648 base32 of `raw`, without padding.
std::string base32_lower(std::string_view raw);

}  // namespace kb::git
