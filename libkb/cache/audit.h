#pragma once
// `kb cache verify` / `kernels cache verify`: the whole cache re-hashed and
// checked against its own layout (cache.h), each problem named with the path
// and what is wrong, and with `repair` taken away so that the next load
// fetches it again:
//   corrupt blob       blobs/<etag> whose content does not hash to its name
//                      → the blob, the snapshot entries pointing at it and the
//                        completion markers of their commits are removed
//   unknown blob       blobs/<name> that is no 40/64 hex etag → removed
//   partial download   blobs/<etag>.incomplete no live download holds → removed
//   stray temporary    .<name>.tmp-XXXXXX of an interrupted atomic write,
//                      older than a minute → removed
//   dangling entry     a snapshot symlink whose blob is missing, or pointing
//                      anywhere but this repository's blobs/ → removed with
//                      its commit's completion markers
//   bad ref            refs/<name> that holds no commit id → removed
// A blob another process is downloading (its lock is held) is left alone.
// The scan is bounded: symlinks are never followed, and every directory is
// read once.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kb::cache {

struct CacheProblem {
  enum Kind { CorruptBlob, UnknownBlob, PartialDownload, StrayTemporary, DanglingEntry, BadRef };
  Kind kind = CorruptBlob;
  std::string path;    // relative to the cache directory
  std::string detail;  // what is wrong, in words
  bool repaired = false;
  std::string left_alone;  // with repair: why it was not removed ("" when repaired or not asked)
};

// "corrupt blob", "unknown blob", ...
const char* problem_name(CacheProblem::Kind kind);

struct CacheAudit {
  std::filesystem::path cache_dir;
  bool found = false;       // the directory exists
  size_t repositories = 0;  // <type>s--<org>--<name> directories
  size_t blobs = 0;         // blobs hashed
  uint64_t bytes = 0;       // their total size
  std::vector<CacheProblem> problems;
  // Problems still there (all of them without repair).
  size_t unresolved() const;
};

struct CacheAuditOptions {
  bool repair = false;
  // Called after each blob is hashed: (bytes hashed so far, bytes in all).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Throws kb::Error when `cache_dir` exists but is not a directory.
CacheAudit audit_cache(const std::filesystem::path& cache_dir, const CacheAuditOptions& options = {});

// One line per problem ("<path>: <kind>: <detail>[ (removed)]"), then the
// summary: "Verified 12 blobs (3.4M) in 2 repositories of <dir>: no problems."
std::string render_audit(const CacheAudit& audit);

// {"cache_dir", "repositories", "blobs", "bytes", "problems": [{"path", "kind",
// "detail", "repaired", "left_alone"?}], "unresolved"}
nlohmann::ordered_json audit_json(const CacheAudit& audit);

// The whole command, shared by `kb cache verify` and `kernels cache verify`:
// stdout, stderr and the exit code (0: no unresolved problem; 1: problems
// remain or the cache cannot be read).
struct CacheVerifyRequest {
  std::optional<std::filesystem::path> cache_dir;  // default: default_cache_root()
  bool repair = false;
  bool json = false;
  bool progress = false;  // progress lines on stderr
};
struct CacheVerifyResult {
  std::string out;
  std::string err;
  int exit_code = 0;
};
CacheVerifyResult cache_verify(const CacheVerifyRequest& request);

}  // namespace kb::cache
