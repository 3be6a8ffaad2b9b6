#pragma once
// What `kernels cache ls` / `kb cache ls` report: the kernel versions in a
// Hugging Face-layout cache (a refs/v<N> per version), each with its size,
// access and modification times, the build variants it holds and, in kb,
// whether its files still match the hashes they are stored under.
//
// The scan reads the cache as huggingface_hub's scan_cache_dir does (so sizes,
// times and the inconsistencies it warns about agree with the Hugging Face
// tools): every top-level "<type>s--<org>--<name>" directory is a repository;
// a repository that does not have that layout is skipped with a warning.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kb::cache {

// Whether a cached version's files match the hash each is stored under (the
// blob name: the hub's git blob id or LFS sha256, see cache.h).
struct CachedVerification {
  enum Status {
    Verified,      // every file matches its blob name
    Modified,      // at least one file differs from its blob name
    Unverifiable,  // nothing differs, but some files have no recorded hash (copied, not blobs)
  };
  Status status = Verified;
  std::vector<std::string> mismatched;  // snapshot-relative paths, sorted
  std::vector<std::string> unrecorded;  // snapshot-relative paths, sorted
};

// "verified", "modified" or "unverifiable".
const char* status_name(CachedVerification::Status status);

struct CachedVersion {
  std::string version;  // the ref, "v<N>"
  std::string commit;
  uint64_t size_on_disk = 0;                       // distinct blobs of the snapshot
  double last_accessed = 0;                        // newest blob access time (the snapshot's when it has no file)
  double last_modified = 0;                        // newest blob modification time (idem)
  std::vector<std::string> variants;               // build/<variant>/ holding files, with a valid variant name; sorted
  std::optional<CachedVerification> verification;  // absent when not verified
};

struct CachedKernel {
  std::string repo_id;
  uint64_t size_on_disk = 0;  // distinct blobs of every snapshot
  double last_accessed = 0;
  double last_modified = 0;
  std::vector<CachedVersion> versions;  // by version number
};

struct CacheListing {
  std::filesystem::path cache_dir;
  bool found = false;                 // the directory exists
  std::vector<CachedKernel> kernels;  // kernel repositories with at least one version ref, by repo id
  std::vector<std::string> warnings;  // one per repository skipped as inconsistent
};

// Scans `cache_dir`. A missing directory is an empty listing (found=false);
// throws kb::Error ("Scan cache expects a directory but found a file: ...")
// when it is not a directory. With `verify`, every file of every listed
// version is hashed (a blob shared by several versions once).
CacheListing list_cached_kernels(const std::filesystem::path& cache_dir, bool verify = true);

// {"cache_dir", "repos": [{"repo_id", "size_on_disk", "last_accessed",
// "last_modified", "versions": [{"version", "size_on_disk", "last_accessed",
// "last_modified", "variants", "verification"?}]}]}: the kernels package's
// format plus "verification" {"status", "mismatched", "unrecorded"} (kb's).
nlohmann::ordered_json listing_json(const CacheListing& listing);

// 1234567 -> "1.2M" (decimal units, as the Hugging Face tools print sizes).
std::string format_size(uint64_t bytes);
// "a few seconds ago", "5 minutes ago", "1 day ago", ... relative to `now`.
std::string format_timesince(double timestamp, double now);

// The terminal width as Python's shutil.get_terminal_size() finds it:
// COLUMNS when a positive number, else the width of the terminal on stdout,
// else 80.
int terminal_columns();

struct CacheTableOptions {
  int columns = 80;  // terminal width the table must fit in
  bool no_truncate = false;
  double now = 0;  // for LAST_ACCESSED / LAST_MODIFIED
};

// The complete output of `cache ls`: what goes to stdout and to stderr.
struct CacheLsOutput {
  std::string out;
  std::string err;
};

// The table (ID, SIZE, LAST_ACCESSED, LAST_MODIFIED, VERSION, VERIFIED,
// VARIANTS; one line per variant, continuation lines leave the other
// columns empty), cells cut with "..." to fit `columns` unless no_truncate;
// "No cached kernel versions found in DIR." when there is nothing. stderr:
// the truncation hint, each modified version with its mismatched files, and
// the inconsistencies (a count, or each with `show_warnings`).
CacheLsOutput render_cache_ls(const CacheListing& listing, const CacheTableOptions& options, bool show_warnings);

// The stderr lines `cache ls --json` prints: the inconsistencies only.
std::string render_cache_warnings(const CacheListing& listing, bool show_warnings);

// The whole `cache ls` command, shared by `kb cache ls` and `kernels cache ls`.
struct CacheLsRequest {
  std::optional<std::filesystem::path> cache_dir;  // default: default_cache_root()
  bool json = false;
  bool show_warnings = false;
  bool no_truncate = false;
  bool verify = true;
  std::optional<int> columns;  // default: terminal_columns()
};

struct CacheLsResult {
  std::string out;
  std::string err;
  int exit_code = 0;  // 1 when the cache cannot be scanned
};

// The directory listed: `explicit_dir` or the default cache root, "~"
// expanded, absolute, symlinks resolved.
std::filesystem::path cache_ls_dir(const std::optional<std::filesystem::path>& explicit_dir);

// Never throws for a bad cache: "Cannot scan kernel cache: ..." on err, exit 1.
// --json prints listing_json with a 2-space indent, non-ASCII escaped.
CacheLsResult cache_ls(const CacheLsRequest& request);

}  // namespace kb::cache
