// libkb/cache: the huggingface_hub-compatible cache layout, verification of
// every blob, path safety, refs, the cache root, and concurrent fetches.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include "libkb/cache/cache.h"
#include "libkb/cache/lock.h"
#include "libkb/cache/verify.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::cache;
using kb::testing::contains;
using kb::testing::error_of;
using kb::testing::ScopedEnv;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kCommit2 = "89abcdef0123456789abcdef0123456789abcdef";

struct CacheDir {
  CacheDir() : guard(make_temp_dir(fs::temp_directory_path(), "kb-cache-test")) {}
  fs::path path() const { return guard.path(); }
  TempDirGuard guard;
};

ExpectedHash git_hash_of(const std::string& content) {
  return ExpectedHash{ExpectedHash::GitBlobSha1, git_blob_sha1_hex(content), content.size()};
}

ExpectedHash sha256_of(const std::string& content) {
  return ExpectedHash{ExpectedHash::Sha256, to_hex(sha256_bytes(content)), content.size()};
}

Fetch writes(const std::string& content) {
  return [content](std::ostream& out) { out.write(content.data(), static_cast<std::streamsize>(content.size())); };
}

Fetch must_not_fetch() {
  return [](std::ostream&) { ADD_FAILURE() << "fetch called although the blob is cached"; };
}

// Every file or symlink below `dir` (directories themselves not listed).
std::vector<std::string> non_directories(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it)
    if (!it->is_directory() || it->is_symlink()) out.push_back(relative_slash_path(it->path(), dir));
  return out;
}

std::string git_hash_object(const std::string& content) {
  ProcessSpec spec;
  spec.argv = {"git", "hash-object", "--stdin"};
  spec.stdin_data = content;
  ProcessResult r = run_process(spec);
  EXPECT_TRUE(r.ok()) << r.err;
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
  return r.out;
}

std::string big_content() {
  std::string s;
  s.reserve(300000);
  for (uint32_t i = 0; i < 300000; ++i) s += static_cast<char>((i * 7919u) % 251u);
  return s;
}

}  // namespace

// ---------------------------------------------------------------- hashes

TEST(CacheHash, GitBlobSha1MatchesGitHashObject) {
  // `printf 'hello\n' | git hash-object --stdin`
  EXPECT_EQ(git_blob_sha1_hex("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
  // The empty blob every git user has seen.
  EXPECT_EQ(git_blob_sha1_hex(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  std::string binary("a\0b\0\xff\n", 6);
  for (const std::string& content : {std::string("hello\n"), binary, big_content()})
    EXPECT_EQ(git_blob_sha1_hex(content), git_hash_object(content));
}

TEST(CacheHash, HashFileAndVerifyFile) {
  CacheDir dir;
  std::string content = big_content();
  write_file_atomic(dir.path() / "f", content);
  EXPECT_EQ(hash_file(dir.path() / "f", ExpectedHash::GitBlobSha1).hex, git_hash_object(content));
  FileDigest d = hash_file(dir.path() / "f", ExpectedHash::Sha256);
  EXPECT_EQ(d.hex, to_hex(sha256_bytes(content)));
  EXPECT_EQ(d.size, content.size());

  EXPECT_NO_THROW(verify_file(dir.path() / "f", git_hash_of(content)));
  EXPECT_NO_THROW(verify_file(dir.path() / "f", sha256_of(content)));
  EXPECT_TRUE(file_matches(dir.path() / "f", sha256_of(content)));
  ExpectedHash wrong = sha256_of(content + "x");
  wrong.size = content.size();
  std::string m = error_of([&] { verify_file(dir.path() / "f", wrong); });
  EXPECT_TRUE(contains(m, (dir.path() / "f").string())) << m;
  EXPECT_TRUE(contains(m, wrong.hex)) << m;
  EXPECT_TRUE(contains(m, d.hex)) << m;
  EXPECT_FALSE(file_matches(dir.path() / "f", wrong));
  EXPECT_FALSE(file_matches(dir.path() / "missing", sha256_of(content)));
}

TEST(CacheHash, KindOfHexAndNormalisation) {
  EXPECT_EQ(kind_of_hex(std::string(40, 'a')), ExpectedHash::GitBlobSha1);
  EXPECT_EQ(kind_of_hex(std::string(64, 'F')), ExpectedHash::Sha256);
  EXPECT_EQ(kind_of_hex(std::string(41, 'a')), std::nullopt);
  EXPECT_EQ(kind_of_hex(std::string(39, 'a') + "g"), std::nullopt);
  EXPECT_EQ(normalized(ExpectedHash{ExpectedHash::Sha256, std::string(64, 'A'), 1}).hex, std::string(64, 'a'));
  EXPECT_TRUE(contains(error_of([] { normalized(ExpectedHash{ExpectedHash::Sha256, std::string(40, 'a'), 1}); }),
                       "64 hexadecimal digits"));
}

// ---------------------------------------------------------------- layout

TEST(CacheLayout, FolderNamesMatchHuggingFaceHub) {
  EXPECT_EQ(repo_folder_name("kernel", "kernels-community/relu"), "kernels--kernels-community--relu");
  EXPECT_EQ(repo_folder_name("model", "org/name"), "models--org--name");
  RepoCache c("/root-of-cache", "kernel", "org/name");
  EXPECT_EQ(c.repo_dir(), fs::path("/root-of-cache/kernels--org--name"));
  EXPECT_EQ(c.blobs_dir(), fs::path("/root-of-cache/kernels--org--name/blobs"));
  EXPECT_EQ(c.refs_dir(), fs::path("/root-of-cache/kernels--org--name/refs"));
  EXPECT_EQ(c.snapshot_dir(kCommit), fs::path("/root-of-cache/kernels--org--name/snapshots/" + kCommit));
  EXPECT_EQ(c.file_path(kCommit, "build/v/x.so"),
            fs::path("/root-of-cache/kernels--org--name/snapshots/" + kCommit + "/build/v/x.so"));
  // Upper-case commit ids name the same snapshot.
  std::string upper = kCommit;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  EXPECT_EQ(c.snapshot_dir(upper), c.snapshot_dir(kCommit));
  ExpectedHash h = git_hash_of("x");
  EXPECT_EQ(c.blob_path(h), c.blobs_dir() / h.hex);
  // The lock huggingface_hub takes for the same blob.
  EXPECT_EQ(c.blob_lock_path(h), fs::path("/root-of-cache/.locks/kernels--org--name/" + h.hex + ".lock"));
}

TEST(CacheLayout, InvalidRepoIdsTypesAndCommitsRefused) {
  for (const char* id : {"name", "a/b/c", "/name", "org/", "org/..", "o..rg/name", "org/na--me", "org/na me",
                         "org/-name", "org/name.", "org/n\\ame", ""}) {
    std::string m = error_of([&] { RepoCache("/c", "kernel", id); });
    EXPECT_TRUE(contains(m, std::string("invalid repository id '") + id + "'")) << id << ": " << m;
  }
  EXPECT_NO_THROW(RepoCache("/c", "kernel", "Org_1/my.kernel-2"));
  EXPECT_TRUE(contains(error_of([] { RepoCache("/c", "dataset", "org/name"); }), "unknown repository type 'dataset'"));
  RepoCache c("/c", "kernel", "org/name");
  for (const char* commit : {"main", "../x", "0123", "0123456789abcdef0123456789abcdef0123456g"})
    EXPECT_TRUE(contains(error_of([&] { c.snapshot_dir(commit); }), std::string("invalid commit id '") + commit))
        << commit;
}

TEST(CacheStore, SnapshotEntriesAreRelativeSymlinksToBlobs) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string top = "top level\n", nested = "nested content";
  fs::path p1 = c.store(kCommit, "README.md", git_hash_of(top), writes(top));
  fs::path p2 = c.store(kCommit, "build/torch-cpu/relu/_ops.py", git_hash_of(nested), writes(nested));

  fs::path repo = dir.path() / "kernels--org--relu";
  EXPECT_EQ(p1, repo / "snapshots" / kCommit / "README.md");
  EXPECT_EQ(p2, repo / "snapshots" / kCommit / "build/torch-cpu/relu/_ops.py");
  ASSERT_TRUE(fs::is_symlink(p1));
  ASSERT_TRUE(fs::is_symlink(p2));
  EXPECT_EQ(fs::read_symlink(p1).string(), "../../blobs/" + git_blob_sha1_hex(top));
  EXPECT_EQ(fs::read_symlink(p2).string(), "../../../../../blobs/" + git_blob_sha1_hex(nested));
  EXPECT_EQ(read_file(p1), top);
  EXPECT_EQ(read_file(p2), nested);
  EXPECT_TRUE(fs::is_regular_file(repo / "blobs" / git_blob_sha1_hex(nested)));
  EXPECT_TRUE(c.has_file(kCommit, "build/torch-cpu/relu/_ops.py"));
  EXPECT_FALSE(c.has_file(kCommit, "build/torch-cpu/relu/missing.py"));
  EXPECT_FALSE(c.has_file(kCommit2, "README.md"));
  // Only blobs and snapshot entries: no temporary file survives.
  auto files = non_directories(repo);
  std::sort(files.begin(), files.end());
  std::vector<std::string> want = {"blobs/" + git_blob_sha1_hex(top), "blobs/" + git_blob_sha1_hex(nested),
                                   "snapshots/" + kCommit + "/README.md",
                                   "snapshots/" + kCommit + "/build/torch-cpu/relu/_ops.py"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files, want);
  // The blob's lock file lives where huggingface_hub keeps its locks.
  EXPECT_TRUE(fs::exists(dir.path() / ".locks/kernels--org--relu" / (git_blob_sha1_hex(nested) + ".lock")));
  // A moved cache still works: the links are relative.
  fs::path moved = dir.path() / "moved";
  fs::create_directories(moved);
  fs::rename(repo, moved / "kernels--org--relu");
  EXPECT_EQ(read_file(RepoCache(moved, "kernel", "org/relu").file_path(kCommit, "build/torch-cpu/relu/_ops.py")),
            nested);
}

TEST(CacheStore, LfsFilesVerifiedBySha256) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string content = big_content();
  ExpectedHash h = sha256_of(content);
  fs::path p = c.store(kCommit, "build/torch-cpu/relu/_relu.so", h, writes(content));
  EXPECT_EQ(fs::read_symlink(p).string(), "../../../../../blobs/" + h.hex);
  EXPECT_EQ(read_file(p), content);
  EXPECT_EQ(to_hex(sha256_file_bytes(c.blobs_dir() / h.hex)), h.hex);

  // A wrong sha256 is refused just the same.
  ExpectedHash wrong = sha256_of(content + "!");
  wrong.size = content.size();
  std::string m = error_of([&] { c.store(kCommit2, "x.so", wrong, writes(content)); });
  EXPECT_TRUE(contains(m, "hash mismatch for x.so of org/relu")) << m;
  EXPECT_TRUE(contains(m, "expected sha256 " + wrong.hex)) << m;
  EXPECT_TRUE(contains(m, "got " + h.hex)) << m;
  EXPECT_FALSE(fs::exists(c.blobs_dir() / wrong.hex));
  EXPECT_FALSE(fs::is_symlink(c.snapshot_dir(kCommit2) / "x.so"));
}

TEST(CacheStore, WrongHashRejectedAndNothingCached) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string good = "the real content\n", evil = "tampered content\n";
  ExpectedHash h = git_hash_of(good);
  ASSERT_EQ(good.size(), evil.size());
  std::string m = error_of([&] { c.store(kCommit, "build/v/_ops.py", h, writes(evil)); });
  EXPECT_TRUE(contains(m, "hash mismatch for build/v/_ops.py of org/relu")) << m;
  EXPECT_TRUE(contains(m, "expected git-sha1 " + h.hex)) << m;
  EXPECT_TRUE(contains(m, "got " + git_blob_sha1_hex(evil))) << m;
  EXPECT_EQ(non_directories(c.repo_dir()), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(c.snapshot_dir(kCommit)));  // no snapshot an offline lookup could take as cached
  EXPECT_EQ(c.cached_commit(kCommit), std::nullopt);
  EXPECT_FALSE(c.has_file(kCommit, "build/v/_ops.py"));
  // The right content afterwards is accepted.
  EXPECT_EQ(read_file(c.store(kCommit, "build/v/_ops.py", h, writes(good))), good);
}

TEST(CacheStore, SizeMismatchRejected) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string content = "0123456789";
  ExpectedHash h = git_hash_of(content);

  std::string m = error_of([&] { c.store(kCommit, "short", h, writes("01234")); });
  EXPECT_TRUE(contains(m, "hash mismatch for short of org/relu")) << m;
  EXPECT_TRUE(contains(m, "(10 bytes)")) << m;
  // The actual hash is that of what arrived (git's header carries its size).
  EXPECT_TRUE(contains(m, "got " + git_blob_sha1_hex("01234") + " (5 bytes)")) << m;

  m = error_of([&] { c.store(kCommit, "long", h, writes(content + std::string(200000, 'x'))); });
  EXPECT_TRUE(contains(m, "size mismatch for long of org/relu")) << m;
  EXPECT_TRUE(contains(m, "got more than 10 bytes")) << m;

  ExpectedHash lfs = sha256_of(content);
  m = error_of([&] { c.store(kCommit, "lfs", lfs, writes(content + "!")); });
  EXPECT_TRUE(contains(m, "size mismatch for lfs")) << m;
  EXPECT_EQ(non_directories(c.repo_dir()), std::vector<std::string>{});
}

TEST(CacheStore, ThrowingFetchLeavesNothingAndRetrySucceeds) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string content = big_content();
  ExpectedHash h = sha256_of(content);
  auto interrupted = [&](std::ostream& out) {
    out.write(content.data(), 100000);
    throw Error("connection reset by peer");
  };
  EXPECT_EQ(error_of([&] { c.store(kCommit, "build/v/_relu.so", h, interrupted); }), "connection reset by peer");
  EXPECT_EQ(non_directories(c.repo_dir()), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(c.snapshot_dir(kCommit)));
  // Non-kb exceptions leave nothing behind either.
  EXPECT_THROW(c.store(kCommit, "build/v/_relu.so", h, [](std::ostream&) { throw std::runtime_error("x"); }),
               std::runtime_error);
  EXPECT_EQ(non_directories(c.repo_dir()), std::vector<std::string>{});

  int calls = 0;
  fs::path p = c.store(kCommit, "build/v/_relu.so", h, [&](std::ostream& out) {
    ++calls;
    writes(content)(out);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read_file(p), content);
}

TEST(CacheStore, VerifiedBlobIsNotFetchedAgain) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string content = "shared between commits\n";
  ExpectedHash h = git_hash_of(content);
  c.store(kCommit, "build/a/f.py", h, writes(content));
  // Same blob, another commit and path: linked, not fetched.
  fs::path p = c.store(kCommit2, "build/b/g.py", h, must_not_fetch());
  EXPECT_EQ(read_file(p), content);
  // Storing the same entry again changes nothing.
  EXPECT_EQ(c.store(kCommit, "build/a/f.py", h, must_not_fetch()), c.file_path(kCommit, "build/a/f.py"));
  EXPECT_EQ(read_file(c.file_path(kCommit, "build/a/f.py")), content);
}

TEST(CacheStore, CorruptBlobIsFetchedAgain) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  std::string content = "good bytes\n";
  ExpectedHash h = git_hash_of(content);
  c.store(kCommit, "f.py", h, writes(content));
  {
    std::ofstream(c.blob_path(h), std::ios::binary | std::ios::trunc) << "bad bytes!\n";
  }
  int calls = 0;
  fs::path p = c.store(kCommit2, "f.py", h, [&](std::ostream& out) {
    ++calls;
    out << content;
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read_file(p), content);
  EXPECT_EQ(read_file(c.file_path(kCommit, "f.py")), content);
}

TEST(CacheStore, ReplacesAStaleEntry) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  fs::create_directories(c.snapshot_dir(kCommit));
  write_file_atomic(c.file_path(kCommit, "f.py"), "a plain file copied by some other tool");
  std::string content = "content\n";
  fs::path p = c.store(kCommit, "f.py", git_hash_of(content), writes(content));
  EXPECT_TRUE(fs::is_symlink(p));
  EXPECT_EQ(read_file(p), content);
}

TEST(CacheStore, UnsafePathsRefusedBeforeTouchingTheFileSystem) {
  CacheDir dir;
  fs::path root = dir.path() / "cache";
  RepoCache c(root, "kernel", "org/relu");
  std::string content = "x";
  for (const std::string& bad :
       {std::string("../x"), std::string("/abs"), std::string("a/../b"), std::string("a//b"), std::string("a\\b"),
        std::string(""), std::string("./a"), std::string("a/."), std::string("a/"), std::string("a/..")}) {
    int calls = 0;
    std::string m = error_of([&] {
      c.store(kCommit, bad, git_hash_of(content), [&](std::ostream& out) {
        ++calls;
        out << content;
      });
    });
    std::string shown = bad.empty() ? "\"\"" : bad;
    EXPECT_TRUE(contains(m, "refusing unsafe path in hub tree: " + shown)) << bad << ": " << m;
    EXPECT_EQ(calls, 0) << bad;
    EXPECT_TRUE(contains(error_of([&] { c.file_path(kCommit, bad); }), "refusing unsafe path")) << bad;
    EXPECT_TRUE(contains(error_of([&] { c.has_file(kCommit, bad); }), "refusing unsafe path")) << bad;
    EXPECT_TRUE(contains(error_of([&] { check_hub_path(bad); }), "refusing unsafe path in hub tree")) << bad;
  }
  EXPECT_FALSE(fs::exists(root));
  EXPECT_EQ(error_of([] { check_hub_path("build/torch-cpu/relu/__init__.py"); }), "");
  EXPECT_EQ(error_of([] { check_hub_path("a..b/.hidden"); }), "");
}

TEST(CacheStore, NeverWritesThroughASymlinkInTheSnapshot) {
  CacheDir dir;
  RepoCache c(dir.path() / "cache", "kernel", "org/relu");
  fs::path outside = dir.path() / "outside";
  fs::create_directories(outside);
  fs::create_directories(c.snapshot_dir(kCommit));
  fs::create_directory_symlink(outside, c.snapshot_dir(kCommit) / "build");
  std::string content = "payload";
  std::string m = error_of([&] { c.store(kCommit, "build/evil.py", git_hash_of(content), writes(content)); });
  EXPECT_TRUE(contains(m, "refusing to write through the symlink")) << m;
  EXPECT_TRUE(fs::is_empty(outside));
}

// ---------------------------------------------------------------- refs

TEST(CacheRefs, WriteAndReadRefs) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  EXPECT_EQ(c.read_ref("v1"), std::nullopt);
  c.write_ref("v1", kCommit);
  EXPECT_EQ(c.read_ref("v1"), kCommit);
  // huggingface_hub writes the bare commit, no newline.
  EXPECT_EQ(read_file(dir.path() / "kernels--org--relu/refs/v1"), kCommit);
  c.write_ref("v1", kCommit2);
  EXPECT_EQ(c.read_ref("v1"), kCommit2);
  c.write_ref("refs/pr/3", kCommit);
  EXPECT_EQ(read_file(dir.path() / "kernels--org--relu/refs/refs/pr/3"), kCommit);
  // Whitespace around the content is stripped.
  write_file_atomic(c.refs_dir() / "main", "  " + kCommit + "\n");
  EXPECT_EQ(c.read_ref("main"), kCommit);
  EXPECT_TRUE(contains(error_of([&] { c.write_ref("../main", kCommit); }), "invalid ref name '../main'"));
  EXPECT_TRUE(contains(error_of([&] { c.read_ref("/etc/passwd"); }), "invalid ref name"));
  EXPECT_TRUE(contains(error_of([&] { c.write_ref("main", "not-a-commit"); }), "invalid commit id 'not-a-commit'"));
  EXPECT_EQ(read_file(c.refs_dir() / "main"), "  " + kCommit + "\n");
}

TEST(CacheRefs, VersionRefsSkipJunk) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  EXPECT_TRUE(c.version_refs().empty());  // no refs/ at all
  c.write_ref("v1", kCommit);
  c.write_ref("v10", kCommit2);
  write_file_atomic(c.refs_dir() / "v2", "not a commit\n");
  write_file_atomic(c.refs_dir() / "v3", "");
  write_file_atomic(c.refs_dir() / "vx", kCommit);
  write_file_atomic(c.refs_dir() / "v", kCommit);
  write_file_atomic(c.refs_dir() / "v-4", kCommit);
  write_file_atomic(c.refs_dir() / "v99999999999999999999", kCommit);
  write_file_atomic(c.refs_dir() / "main", kCommit);
  fs::create_directories(c.refs_dir() / "v5");
  fs::create_symlink(c.refs_dir() / "nowhere", c.refs_dir() / "v6");  // unreadable
  write_file_atomic(c.refs_dir() / "v7", "  " + kCommit2 + "\n");
  std::map<int, std::string> want = {{1, kCommit}, {7, kCommit2}, {10, kCommit2}};
  EXPECT_EQ(c.version_refs(), want);
}

TEST(CacheRefs, ModelRefsOverrideKernelRefsOffline) {
  CacheDir dir;
  RepoCache kernel(dir.path(), "kernel", "org/relu");
  RepoCache model(dir.path(), "model", "org/relu");
  kernel.write_ref("v1", kCommit);
  kernel.write_ref("v2", kCommit);
  model.write_ref("v2", kCommit2);
  model.write_ref("v3", kCommit2);
  std::map<int, std::string> want = {{1, kCommit}, {2, kCommit2}, {3, kCommit2}};
  EXPECT_EQ(cached_version_refs(dir.path(), "org/relu"), want);
  EXPECT_TRUE(cached_version_refs(dir.path(), "org/other").empty());
}

TEST(CacheRefs, CachedCommitNeedsASnapshot) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  c.write_ref("v1", kCommit);
  EXPECT_EQ(c.cached_commit("v1"), std::nullopt);  // ref but nothing downloaded
  EXPECT_EQ(c.cached_commit(kCommit), std::nullopt);
  c.store(kCommit, "f", git_hash_of("f"), writes("f"));
  EXPECT_EQ(c.cached_commit("v1"), kCommit);
  EXPECT_EQ(c.cached_commit(kCommit), kCommit);
  EXPECT_EQ(c.cached_commit("v2"), std::nullopt);
  EXPECT_EQ(c.cached_commit("../v1"), std::nullopt);
}

// ---------------------------------------------------------------- root and offline

TEST(CacheRoot, EnvironmentPrecedence) {
  ScopedEnv home("HOME", "/home/someone");
  ScopedEnv kc("KERNELS_CACHE", std::nullopt);
  ScopedEnv hc("HF_HUB_CACHE", std::nullopt);
  ScopedEnv legacy("HUGGINGFACE_HUB_CACHE", std::nullopt);
  ScopedEnv hh("HF_HOME", std::nullopt);
  ScopedEnv xdg("XDG_CACHE_HOME", std::nullopt);
  EXPECT_EQ(default_cache_root(), fs::path("/home/someone/.cache/huggingface/hub"));
  {
    ScopedEnv x("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_root(), fs::path("/xdg/huggingface/hub"));
    ScopedEnv h("HF_HOME", "/hf-home");
    EXPECT_EQ(default_cache_root(), fs::path("/hf-home/hub"));
    ScopedEnv l("HUGGINGFACE_HUB_CACHE", "/legacy");
    EXPECT_EQ(default_cache_root(), fs::path("/legacy"));
    ScopedEnv c("HF_HUB_CACHE", "/hf-hub-cache");
    EXPECT_EQ(default_cache_root(), fs::path("/hf-hub-cache"));
    ScopedEnv k("KERNELS_CACHE", "/kernels-cache");
    EXPECT_EQ(default_cache_root(), fs::path("/kernels-cache"));
    ScopedEnv empty("KERNELS_CACHE", "");  // empty counts as unset
    EXPECT_EQ(default_cache_root(), fs::path("/hf-hub-cache"));
  }
  ScopedEnv tilde("HF_HOME", "~/hf");
  EXPECT_EQ(default_cache_root(), fs::path("/home/someone/hf/hub"));
}

TEST(CacheRoot, OfflineMode) {
  ScopedEnv t("TRANSFORMERS_OFFLINE", std::nullopt);
  {
    ScopedEnv o("HF_HUB_OFFLINE", std::nullopt);
    EXPECT_FALSE(offline_mode());
  }
  for (const char* on : {"1", "ON", "yes", "True"}) {
    ScopedEnv o("HF_HUB_OFFLINE", on);
    EXPECT_TRUE(offline_mode()) << on;
  }
  for (const char* off : {"0", "false", "no", ""}) {
    ScopedEnv o("HF_HUB_OFFLINE", off);
    EXPECT_FALSE(offline_mode()) << off;
  }
  ScopedEnv o("HF_HUB_OFFLINE", std::nullopt);
  ScopedEnv t1("TRANSFORMERS_OFFLINE", "1");
  EXPECT_TRUE(offline_mode());
}

// ---------------------------------------------------------------- locking

TEST(CacheLock, WaitIsBoundedWithAClearError) {
  CacheDir dir;
  RepoCache c(dir.path(), "kernel", "org/relu");
  c.set_lock_timeout(std::chrono::milliseconds(200));
  std::string content = "x";
  ExpectedHash h = git_hash_of(content);
  FileLock held(c.blob_lock_path(h), std::chrono::seconds(5));
  auto start = std::chrono::steady_clock::now();
  std::string m = error_of([&] { c.store(kCommit, "f", h, must_not_fetch()); });
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(contains(m, "timed out after 200 ms waiting for the lock " + c.blob_lock_path(h).string())) << m;
  EXPECT_TRUE(contains(m, "fetching f of org/relu")) << m;
  EXPECT_GE(waited, std::chrono::milliseconds(200));
  EXPECT_FALSE(c.has_file(kCommit, "f"));
}

TEST(CacheLock, ExcludesOtherThreads) {
  CacheDir dir;
  fs::path lock_path = dir.path() / "locks/x.lock";
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        FileLock lock(lock_path, std::chrono::seconds(30));
        int now = ++inside;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        --inside;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_inside.load(), 1);
}

TEST(CacheConcurrency, EightThreadsFetchOnce) {
  CacheDir dir;
  std::string content = big_content();
  ExpectedHash h = sha256_of(content);
  std::atomic<int> fetches{0};
  std::vector<std::string> results(8), errors(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      try {
        RepoCache c(dir.path(), "kernel", "org/relu");
        c.set_lock_timeout(std::chrono::seconds(60));
        fs::path p = c.store(kCommit, "build/v/_relu.so", h, [&](std::ostream& out) {
          ++fetches;
          out.write(content.data(), 1000);
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          out.write(content.data() + 1000, static_cast<std::streamsize>(content.size() - 1000));
        });
        results[i] = read_file(p);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fetches.load(), 1);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(errors[i], "") << i;
    EXPECT_TRUE(results[i] == content) << i;
  }
}

TEST(CacheConcurrency, EightProcessesFetchOnce) {
  CacheDir dir;
  std::string content = big_content();
  ExpectedHash h = git_hash_of(content);
  fs::path counter = dir.path() / "fetches.log";
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < 8; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: wait for the start signal, store, report through the exit code.
      ::close(go[1]);
      char byte;
      while (::read(go[0], &byte, 1) < 0 && errno == EINTR) {
      }
      int rc = 0;
      try {
        RepoCache c(dir.path() / "cache", "kernel", "org/relu");
        c.set_lock_timeout(std::chrono::seconds(60));
        fs::path p = c.store(kCommit, "build/torch-cpu/relu/_relu.so", h, [&](std::ostream& out) {
          int fd = ::open(counter.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
          std::string line = std::to_string(::getpid()) + "\n";
          if (fd >= 0) {
            if (::write(fd, line.data(), line.size()) < 0) rc = 5;
            ::close(fd);
          }
          out.write(content.data(), 4096);
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          out.write(content.data() + 4096, static_cast<std::streamsize>(content.size() - 4096));
        });
        if (read_file(p) != content) rc = 3;
      } catch (const std::exception& e) {
        std::ofstream(dir.path() / ("error-" + std::to_string(i))) << e.what();
        rc = 4;
      }
      ::_exit(rc);
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // every child starts now

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::vector<int> codes(children.size(), -1);
  size_t done = 0;
  while (done < children.size() && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < children.size(); ++i) {
      if (codes[i] != -1) continue;
      int status = 0;
      if (::waitpid(children[i], &status, WNOHANG) == children[i]) {
        codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ++done;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (size_t i = 0; i < children.size(); ++i) {
    if (codes[i] == -1) {
      ::kill(children[i], SIGKILL);
      ::waitpid(children[i], nullptr, 0);
    }
    std::error_code ec;
    fs::path err = dir.path() / ("error-" + std::to_string(i));
    EXPECT_EQ(codes[i], 0) << "child " << i << (fs::exists(err, ec) ? ": " + read_file(err) : std::string());
  }
  std::string log = read_file(counter);
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  RepoCache c(dir.path() / "cache", "kernel", "org/relu");
  EXPECT_EQ(read_file(c.file_path(kCommit, "build/torch-cpu/relu/_relu.so")), content);
  EXPECT_EQ(non_directories(c.blobs_dir()), std::vector<std::string>{h.hex});
}
