#include "libkb/cache/audit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>

#include "libkb/cache/cache.h"
#include "libkb/cache/listing.h"
#include "libkb/cache/verify.h"
#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"

namespace kb::cache {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxDepth = 64;                                   // snapshot trees deeper than this are not walked
constexpr auto kTemporaryAge = std::chrono::seconds(60);        // younger temporaries may be a live write
const std::vector<std::string> kRepoPrefixes = {"kernels--", "models--", "datasets--", "spaces--"};

bool is_repo_folder(const std::string& name) {
  for (const std::string& prefix : kRepoPrefixes)
    if (starts_with(name, prefix) && name.size() > prefix.size()) return true;
  return false;
}

// ".<name>.tmp-<suffix>": what an atomic write (util/fs.h, the snapshot links)
// leaves when its process dies between creating and renaming.
bool is_temporary(const std::string& name) {
  return name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos;
}

bool older_than(const fs::path& path, std::chrono::seconds age) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  return std::time(nullptr) - st.st_mtime >= age.count();
}

// An flock on an existing lock file, without creating it (a read-only cache
// stays untouched): held is true when another process has it.
class ProbeLock {
 public:
  explicit ProbeLock(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return;  // no lock file: nobody holds it
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) held_ = errno == EWOULDBLOCK;
  }
  ~ProbeLock() {
    if (fd_ >= 0) ::close(fd_);  // drops our lock, if we took it
  }
  ProbeLock(const ProbeLock&) = delete;
  ProbeLock& operator=(const ProbeLock&) = delete;
  bool held_elsewhere() const { return held_; }

 private:
  int fd_ = -1;
  bool held_ = false;
};

std::string relative_to(const fs::path& path, const fs::path& root) {
  return path.lexically_relative(root).generic_string();
}

struct Repo {
  fs::path dir;
  std::string folder;
  // blob etag -> the snapshot entries pointing at it
  std::map<std::string, std::vector<fs::path>> links;
  std::vector<fs::path> dangling;
};

class Auditor {
 public:
  Auditor(const fs::path& root, const CacheAuditOptions& options) : root_(root), options_(options) {}

  CacheAudit run() {
    audit_.cache_dir = root_;
    std::error_code ec;
    if (!fs::exists(root_, ec)) return audit_;
    if (!fs::is_directory(root_, ec))
      throw Error("Cannot verify the kernel cache: " + root_.string() + " is not a directory");
    audit_.found = true;
    std::vector<Repo> repos;
    for (const fs::directory_entry& e : fs::directory_iterator(root_, ec)) {
      std::string name = e.path().filename().string();
      if (is_repo_folder(name) && e.is_directory(ec) && !e.is_symlink(ec)) repos.push_back({e.path(), name, {}, {}});
    }
    if (ec) throw Error("Cannot verify the kernel cache: cannot read " + root_.string() + ": " + ec.message());
    std::sort(repos.begin(), repos.end(), [](const Repo& a, const Repo& b) { return a.folder < b.folder; });
    audit_.repositories = repos.size();

    for (Repo& repo : repos) scan_links(repo);
    std::vector<std::pair<Repo*, fs::path>> blobs;
    for (Repo& repo : repos) collect_blobs(repo, blobs);
    for (auto& [repo, blob] : blobs) total_ += fs::file_size(blob, ec);  // for progress only
    for (auto& [repo, blob] : blobs) check_blob(*repo, blob);
    for (Repo& repo : repos) {
      check_dangling(repo);
      check_refs(repo);
      check_temporaries(repo.dir, 0);
    }
    return audit_;
  }

 private:
  void add(CacheProblem::Kind kind, const fs::path& path, std::string detail) {
    audit_.problems.push_back({kind, relative_to(path, root_), std::move(detail), false, ""});
  }

  // Removes `path` when repairing; records the outcome on the last problem.
  void repair_last(const std::function<void()>& remove) {
    if (!options_.repair) return;
    CacheProblem& p = audit_.problems.back();
    try {
      remove();
      p.repaired = true;
    } catch (const std::exception& e) {
      p.left_alone = e.what();
    }
  }

  static void remove_path(const fs::path& path) {
    std::error_code ec;
    fs::remove_all(path, ec);
    if (ec) throw Error("cannot remove " + path.string() + ": " + ec.message());
  }

  // A commit whose files changed is no longer complete: its markers go, so
  // the next load lists and fetches it again.
  static void forget_completion(const Repo& repo, const fs::path& entry) {
    fs::path rel = entry.lexically_relative(repo.dir / "snapshots");
    if (rel.empty() || rel.begin() == rel.end()) return;
    remove_path(repo.dir / ".kb-complete" / *rel.begin());
  }

  // Every snapshot symlink: which blob it names, or that it dangles.
  void scan_links(Repo& repo) { walk_snapshots(repo, repo.dir / "snapshots", 0); }

  void walk_snapshots(Repo& repo, const fs::path& dir, int depth) {
    if (depth > kMaxDepth) return;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      if (e.is_symlink(ec)) {
        std::error_code read_ec;
        fs::path target = fs::read_symlink(e.path(), read_ec);
        fs::path resolved = (e.path().parent_path() / target).lexically_normal();
        bool in_blobs = !read_ec && resolved.parent_path() == (repo.dir / "blobs").lexically_normal();
        std::string etag = resolved.filename().string();
        if (in_blobs && git::is_object_id(etag) && fs::is_regular_file(fs::symlink_status(resolved, ec)))
          repo.links[etag].push_back(e.path());
        else
          repo.dangling.push_back(e.path());
      } else if (e.is_directory(ec)) {
        walk_snapshots(repo, e.path(), depth + 1);
      }
    }
  }

  void collect_blobs(Repo& repo, std::vector<std::pair<Repo*, fs::path>>& blobs) {
    std::error_code ec;
    std::vector<fs::path> entries;
    for (const fs::directory_entry& e : fs::directory_iterator(repo.dir / "blobs", ec)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const fs::path& path : entries) {
      std::string name = path.filename().string();
      if (is_temporary(name)) continue;  // check_temporaries
      if (ends_with(name, ".incomplete")) {
        check_partial(repo, path, name.substr(0, name.size() - std::string_view(".incomplete").size()));
        continue;
      }
      if (!git::is_object_id(name)) {
        add(CacheProblem::UnknownBlob, path, "not named by a 40 or 64 hex digit hash");
        repair_last([&] { remove_path(path); });
        continue;
      }
      if (!fs::is_regular_file(fs::symlink_status(path, ec))) {
        add(CacheProblem::UnknownBlob, path, "not a regular file");
        repair_last([&] { remove_path(path); });
        continue;
      }
      blobs.emplace_back(&repo, path);
    }
  }

  void check_partial(const Repo& repo, const fs::path& path, const std::string& etag) {
    ProbeLock probe(blob_lock_path(root_, repo.folder, etag));
    if (probe.held_elsewhere()) return;  // a download in progress
    add(CacheProblem::PartialDownload, path, "the rest of an interrupted download");
    repair_last([&] { remove_path(path); });
  }

  void check_blob(Repo& repo, const fs::path& blob) {
    std::string etag = blob.filename().string();
    ExpectedHash::Kind kind = etag.size() == 40 ? ExpectedHash::GitBlobSha1 : ExpectedHash::Sha256;
    FileDigest digest;
    try {
      digest = hash_file(blob, kind);
    } catch (const Error& e) {
      add(CacheProblem::CorruptBlob, blob, std::string("cannot be read: ") + e.what());
      return;
    }
    ++audit_.blobs;
    audit_.bytes += digest.size;
    done_ += digest.size;
    if (options_.progress) options_.progress(done_, total_);
    if (digest.hex == to_lower(etag)) return;
    auto links = repo.links.find(to_lower(etag));
    size_t users = links == repo.links.end() ? 0 : links->second.size();
    add(CacheProblem::CorruptBlob, blob,
        "content hashes to " + std::string(kind_name(kind)) + " " + digest.hex + " (" + std::to_string(digest.size) +
            " bytes), not to its name" +
            (users ? "; used by " + std::to_string(users) + " snapshot file" + (users == 1 ? "" : "s") : ""));
    repair_last([&] {
      ProbeLock probe(blob_lock_path(root_, repo.folder, etag));
      if (probe.held_elsewhere()) throw Error("another process is fetching it; run again once it has finished");
      remove_path(blob);
      if (links == repo.links.end()) return;
      for (const fs::path& entry : links->second) {
        remove_path(entry);
        forget_completion(repo, entry);
      }
    });
  }

  void check_dangling(const Repo& repo) {
    for (const fs::path& entry : repo.dangling) {
      std::error_code ec;
      fs::path target = fs::read_symlink(entry, ec);
      add(CacheProblem::DanglingEntry, entry,
          ec ? "an unreadable symbolic link"
             : "points at " + target.generic_string() + ", which is no blob of this repository");
      repair_last([&] {
        remove_path(entry);
        forget_completion(repo, entry);
      });
    }
  }

  void check_refs(const Repo& repo, const fs::path& dir = {}, int depth = 0) {
    const fs::path base = dir.empty() ? repo.dir / "refs" : dir;
    if (depth > kMaxDepth) return;
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(base, ec)) {
      std::string name = e.path().filename().string();
      if (is_temporary(name)) continue;
      if (e.is_symlink(ec) || (!e.is_directory(ec) && !e.is_regular_file(ec))) {
        add(CacheProblem::BadRef, e.path(), "not a regular file");
        repair_last([&] { remove_path(e.path()); });
      } else if (e.is_directory(ec)) {
        check_refs(repo, e.path(), depth + 1);
      } else {
        std::string content;
        try {
          content = trim(read_file(e.path()));
        } catch (const Error&) {
        }
        if (git::is_object_id(content)) continue;
        add(CacheProblem::BadRef, e.path(), "holds no commit id");
        repair_last([&] { remove_path(e.path()); });
      }
    }
  }

  void check_temporaries(const fs::path& dir, int depth) {
    if (depth > kMaxDepth) return;
    std::error_code ec;
    std::vector<fs::directory_entry> entries;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) entries.push_back(e);
    for (const fs::directory_entry& e : entries) {
      std::string name = e.path().filename().string();
      if (is_temporary(name)) {
        if (!older_than(e.path(), kTemporaryAge)) continue;  // maybe a write in progress
        add(CacheProblem::StrayTemporary, e.path(), "left by an interrupted write");
        repair_last([&] { remove_path(e.path()); });
      } else if (e.is_directory(ec) && !e.is_symlink(ec)) {
        check_temporaries(e.path(), depth + 1);
      }
    }
  }

  fs::path root_;
  const CacheAuditOptions& options_;
  CacheAudit audit_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
};

}  // namespace

const char* problem_name(CacheProblem::Kind kind) {
  switch (kind) {
    case CacheProblem::CorruptBlob:
      return "corrupt blob";
    case CacheProblem::UnknownBlob:
      return "unknown blob";
    case CacheProblem::PartialDownload:
      return "partial download";
    case CacheProblem::StrayTemporary:
      return "stray temporary";
    case CacheProblem::DanglingEntry:
      return "dangling entry";
    case CacheProblem::BadRef:
      return "bad ref";
  }
  return "problem";
}

size_t CacheAudit::unresolved() const {
  size_t n = 0;
  for (const CacheProblem& p : problems)
    if (!p.repaired) ++n;
  return n;
}

CacheAudit audit_cache(const fs::path& cache_dir, const CacheAuditOptions& options) {
  return Auditor(cache_dir, options).run();
}

std::string render_audit(const CacheAudit& audit) {
  std::string out;
  for (const CacheProblem& p : audit.problems) {
    out += p.path + ": " + problem_name(p.kind) + ": " + p.detail;
    if (p.repaired) out += " (removed)";
    else if (!p.left_alone.empty()) out += " (not removed: " + p.left_alone + ")";
    out += "\n";
  }
  if (!audit.found) return out + "No kernel cache at " + audit.cache_dir.string() + ".\n";
  std::string scope = "Verified " + std::to_string(audit.blobs) + " blob" + (audit.blobs == 1 ? "" : "s") + " (" +
                      format_size(audit.bytes) + ") in " + std::to_string(audit.repositories) + " repositor" +
                      (audit.repositories == 1 ? "y" : "ies") + " of " + audit.cache_dir.string() + ": ";
  size_t repaired = audit.problems.size() - audit.unresolved();
  if (audit.problems.empty()) return out + scope + "no problems.\n";
  std::string counts = std::to_string(audit.problems.size()) + " problem" + (audit.problems.size() == 1 ? "" : "s");
  if (repaired == audit.problems.size()) return out + scope + counts + ", all repaired.\n";
  if (repaired) return out + scope + counts + ", " + std::to_string(repaired) + " repaired.\n";
  return out + scope + counts + ". Run again with --repair to remove them; the next load fetches them again.\n";
}

nlohmann::ordered_json audit_json(const CacheAudit& audit) {
  nlohmann::ordered_json problems = nlohmann::ordered_json::array();
  for (const CacheProblem& p : audit.problems) {
    nlohmann::ordered_json item = {
        {"path", p.path}, {"kind", problem_name(p.kind)}, {"detail", p.detail}, {"repaired", p.repaired}};
    if (!p.left_alone.empty()) item["left_alone"] = p.left_alone;
    problems.push_back(std::move(item));
  }
  return {{"cache_dir", audit.cache_dir.string()},
          {"found", audit.found},
          {"repositories", audit.repositories},
          {"blobs", audit.blobs},
          {"bytes", audit.bytes},
          {"problems", std::move(problems)},
          {"unresolved", audit.unresolved()}};
}

CacheVerifyResult cache_verify(const CacheVerifyRequest& request) {
  CacheVerifyResult result;
  CacheAuditOptions options;
  options.repair = request.repair;
  auto last = std::chrono::steady_clock::time_point{};
  if (request.progress)
    options.progress = [&](uint64_t done, uint64_t total) {
      auto now = std::chrono::steady_clock::now();
      if (done != total && now - last < std::chrono::seconds(1)) return;
      last = now;
      std::cerr << "verifying the kernel cache: " << format_size(done) << " of " << format_size(total) << "\n"
                << std::flush;
    };
  CacheAudit audit;
  try {
    audit = audit_cache(cache_ls_dir(request.cache_dir), options);
  } catch (const Error& e) {
    result.err = std::string(e.what()) + "\n";
    result.exit_code = 1;
    return result;
  }
  result.out = request.json ? audit_json(audit).dump(2, ' ', true) + "\n" : render_audit(audit);
  result.exit_code = audit.unresolved() ? 1 : 0;
  return result;
}

}  // namespace kb::cache
