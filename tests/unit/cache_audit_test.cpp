// libkb/cache/audit: `cache verify` finds every kind of damage a killed
// process, a full disk or a hand edit leaves in the cache, names it, and with
// repair removes exactly that (and what depended on it), so a later fetch
// restores the cache; a sound cache and live downloads are left untouched.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <utime.h>

#include <fstream>

#include "libkb/cache/audit.h"
#include "libkb/cache/cache.h"
#include "libkb/cache/lock.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::cache;
using kb::testing::contains;

namespace {

const std::string kCommit(40, 'c');
const std::string kRepo = "org/relu";

struct Fixture {
  Fixture() : guard(make_temp_dir(fs::temp_directory_path(), "kb-audit-test")), repo(guard.path(), "kernel", kRepo) {
    for (const auto& [path, content] : files) store(path, content);
    repo.write_ref("v1", kCommit);
  }
  fs::path root() const { return guard.path(); }
  ExpectedHash hash_of(const std::string& content) const {
    return {ExpectedHash::GitBlobSha1, git_blob_sha1_hex(content), content.size()};
  }
  fs::path store(const std::string& path, const std::string& content) const {
    return repo.store(kCommit, path, hash_of(content), [&](std::ostream& out) { out << content; });
  }
  fs::path blob(const std::string& content) const { return repo.blob_path(hash_of(content)); }
  fs::path marker() const { return repo.repo_dir() / ".kb-complete" / kCommit / "torch-cpu"; }

  TempDirGuard guard;
  RepoCache repo;
  std::map<std::string, std::string> files = {{"build/torch-cpu/__init__.py", "print('relu')\n"},
                                              {"build/torch-cpu/metadata.json", "{\"version\": 1}"},
                                              {"README.md", "relu"}};
};

void make_old(const fs::path& path) {
  struct timeval times[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::lutimes(path.c_str(), times), 0);
}

std::vector<std::string> kinds(const CacheAudit& audit) {
  std::vector<std::string> out;
  for (const CacheProblem& p : audit.problems) out.push_back(problem_name(p.kind));
  return out;
}

}  // namespace

TEST(CacheAudit, ASoundCacheHasNoProblemsAndEveryBlobIsHashed) {
  Fixture f;
  CacheAudit audit = audit_cache(f.root());
  EXPECT_TRUE(audit.found);
  EXPECT_EQ(audit.repositories, 1u);
  EXPECT_EQ(audit.blobs, 3u);
  uint64_t bytes = 0;
  for (const auto& [path, content] : f.files) bytes += content.size();
  EXPECT_EQ(audit.bytes, bytes);
  EXPECT_TRUE(audit.problems.empty()) << render_audit(audit);
  EXPECT_TRUE(contains(render_audit(audit), "Verified 3 blobs")) << render_audit(audit);
  EXPECT_TRUE(contains(render_audit(audit), "no problems"));
}

TEST(CacheAudit, AMissingCacheIsNoProblemAndAFileIsAnError) {
  Fixture f;
  EXPECT_FALSE(audit_cache(f.root() / "absent").found);
  write_file_atomic(f.root() / "plain", "x");
  EXPECT_THROW(audit_cache(f.root() / "plain"), Error);
}

TEST(CacheAudit, ACorruptBlobIsReportedAndRepairRemovesItItsEntriesAndTheCompletionMarker) {
  Fixture f;
  fs::create_directories(f.marker().parent_path());
  write_file_atomic(f.marker(), "");
  const std::string content = f.files["build/torch-cpu/__init__.py"];
  fs::path blob = f.blob(content);
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(blob, std::ios::trunc) << "print('pwned')\n";

  CacheAudit seen = audit_cache(f.root());
  ASSERT_EQ(kinds(seen), std::vector<std::string>{"corrupt blob"});
  EXPECT_EQ(seen.problems[0].path, "kernels--org--relu/blobs/" + f.hash_of(content).hex);
  EXPECT_TRUE(contains(seen.problems[0].detail, "used by 1 snapshot file")) << seen.problems[0].detail;
  EXPECT_EQ(seen.unresolved(), 1u);
  EXPECT_TRUE(fs::exists(blob));  // reporting changes nothing

  CacheAuditOptions repair;
  repair.repair = true;
  CacheAudit repaired = audit_cache(f.root(), repair);
  ASSERT_EQ(repaired.problems.size(), 1u);
  EXPECT_TRUE(repaired.problems[0].repaired);
  EXPECT_EQ(repaired.unresolved(), 0u);
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_FALSE(fs::exists(fs::symlink_status(f.repo.file_path(kCommit, "build/torch-cpu/__init__.py"))));
  EXPECT_FALSE(fs::exists(f.marker().parent_path()));
  EXPECT_TRUE(f.repo.has_file(kCommit, "README.md"));  // the sound files stay

  EXPECT_TRUE(audit_cache(f.root()).problems.empty());
  f.store("build/torch-cpu/__init__.py", content);  // what the next fetch does
  EXPECT_TRUE(audit_cache(f.root()).problems.empty());
  EXPECT_EQ(read_file(f.repo.file_path(kCommit, "build/torch-cpu/__init__.py")), content);
}

TEST(CacheAudit, PartialDownloadsAreRemovedUnlessADownloadHoldsTheirLock) {
  Fixture f;
  ExpectedHash pending = f.hash_of("not yet here");
  fs::path partial = fs::path(f.repo.blob_path(pending).string() + ".incomplete");
  write_file_atomic(partial, "not y");
  {
    FileLock live(f.repo.blob_lock_path(pending), std::chrono::milliseconds(0));
    CacheAuditOptions repair;
    repair.repair = true;
    EXPECT_TRUE(audit_cache(f.root(), repair).problems.empty());
    EXPECT_TRUE(fs::exists(partial));
  }
  CacheAudit seen = audit_cache(f.root());
  ASSERT_EQ(kinds(seen), std::vector<std::string>{"partial download"});
  CacheAuditOptions repair;
  repair.repair = true;
  EXPECT_EQ(audit_cache(f.root(), repair).unresolved(), 0u);
  EXPECT_FALSE(fs::exists(partial));
}

TEST(CacheAudit, DanglingAndEscapingEntriesBadRefsUnknownBlobsAndOldTemporariesAreFound) {
  Fixture f;
  fs::path snapshot = f.repo.snapshot_dir(kCommit);
  fs::create_symlink("../../blobs/" + std::string(40, 'e'), snapshot / "missing.py");
  fs::create_symlink("/etc/passwd", snapshot / "escape.py");
  write_file_atomic(f.repo.refs_dir() / "v2", "not a commit");
  write_file_atomic(f.repo.blobs_dir() / "notes.txt", "?");
  fs::path young = f.repo.refs_dir() / ".v3.tmp-abcdef";
  fs::path old = snapshot / ".x.py.tmp-123456";
  write_file_atomic(young, kCommit);
  write_file_atomic(old, "x");
  make_old(old);

  CacheAudit seen = audit_cache(f.root());
  std::vector<std::string> found = kinds(seen);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, (std::vector<std::string>{"bad ref", "dangling entry", "dangling entry", "stray temporary",
                                             "unknown blob"}))
      << render_audit(seen);
  std::string text = render_audit(seen);
  EXPECT_TRUE(contains(text, "snapshots/" + kCommit + "/escape.py: dangling entry: points at /etc/passwd")) << text;
  EXPECT_TRUE(contains(text, "--repair")) << text;

  CacheAuditOptions repair;
  repair.repair = true;
  CacheAudit repaired = audit_cache(f.root(), repair);
  EXPECT_EQ(repaired.unresolved(), 0u) << render_audit(repaired);
  EXPECT_TRUE(contains(render_audit(repaired), "all repaired"));
  EXPECT_TRUE(fs::exists("/etc/passwd"));  // the link went, never its target
  EXPECT_TRUE(fs::exists(young));         // maybe a write in progress
  EXPECT_FALSE(fs::exists(old));
  EXPECT_EQ(f.repo.read_ref("v1"), kCommit);
  EXPECT_FALSE(f.repo.read_ref("v2"));
  EXPECT_TRUE(audit_cache(f.root()).problems.empty());
}

TEST(CacheAudit, JsonNamesEveryProblemAndTheCommandExitsOneWhileProblemsRemain) {
  Fixture f;
  write_file_atomic(f.repo.blobs_dir() / "notes.txt", "?");
  CacheVerifyRequest request;
  request.cache_dir = f.root();
  request.json = true;
  CacheVerifyResult result = cache_verify(request);
  EXPECT_EQ(result.exit_code, 1);
  auto json = nlohmann::json::parse(result.out);
  EXPECT_EQ(json["unresolved"], 1);
  EXPECT_EQ(json["problems"][0]["kind"], "unknown blob");
  EXPECT_EQ(json["problems"][0]["path"], "kernels--org--relu/blobs/notes.txt");
  request.repair = true;
  EXPECT_EQ(cache_verify(request).exit_code, 0);
  request.repair = false;
  EXPECT_EQ(cache_verify(request).exit_code, 0);
}
