// libkb/cache/listing: what `cache ls` finds in a Hugging Face-layout cache,
// how it sizes, dates and verifies each kernel version, and how it prints.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "libkb/cache/cache.h"
#include "libkb/cache/listing.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::cache;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

const std::string kCommitA(40, 'a');
const std::string kCommitB(40, 'b');
const std::string kCuda = "torch28-cxx11-cu128-x86_64-linux";
const std::string kCpu = "torch28-cxx11-cpu-x86_64-linux";

struct TempCache {
  TempCache() : guard(make_temp_dir(fs::temp_directory_path(), "kb-listing-test")) {}
  fs::path root() const { return guard.path(); }
  TempDirGuard guard;
};

// Stores `files` (path -> content) as the snapshot `commit` of a kernel
// repository, through RepoCache::store as the loaders do (blobs named by
// their git blob id), and points `refs` at it.
void store_snapshot(const fs::path& root, const std::string& repo_id, const std::string& commit,
                    const std::map<std::string, std::string>& files, const std::vector<std::string>& refs) {
  RepoCache repo(root, "kernel", repo_id);
  for (const auto& [path, content] : files) {
    ExpectedHash hash{ExpectedHash::GitBlobSha1, git_blob_sha1_hex(content), content.size()};
    repo.store(commit, path, hash, [&](std::ostream& out) { out << content; });
  }
  for (const std::string& ref : refs) repo.write_ref(ref, commit);
}

std::map<std::string, std::string> variant_files(const std::vector<std::string>& variants) {
  std::map<std::string, std::string> files = {{"README.md", "Kernel description"}};
  for (const std::string& v : variants) {
    files["build/" + v + "/metadata.json"] = "{}";
    files["build/" + v + "/__init__.py"] = "# kernel " + v;
  }
  return files;
}

TEST(CacheListing, ListsVersionRefsWithTheirVariantsAndSkipsOtherRefsAndRepoTypes) {
  TempCache cache;
  store_snapshot(cache.root(), "org/relu", kCommitA, variant_files({kCuda, kCpu}), {"v1", "main", "v10"});
  store_snapshot(cache.root(), "org/relu", kCommitB, variant_files({kCpu, "unknown-framework-cpu-x86_64-linux"}),
                 {"v2", "v1.0", "release/v3"});
  store_snapshot(cache.root(), "org/unversioned", kCommitA, variant_files({kCpu}), {"main"});
  // A model repository with a version-like ref is not a kernel.
  fs::create_directories(cache.root() / "models--org--model" / "snapshots" / kCommitA);
  write_file_atomic(cache.root() / "models--org--model" / "refs" / "v1", kCommitA);

  CacheListing listing = list_cached_kernels(cache.root());
  ASSERT_TRUE(listing.found);
  EXPECT_TRUE(listing.warnings.empty());
  ASSERT_EQ(listing.kernels.size(), 1u);
  const CachedKernel& relu = listing.kernels[0];
  EXPECT_EQ(relu.repo_id, "org/relu");
  ASSERT_EQ(relu.versions.size(), 3u);
  // Numeric order: v1 < v2 < v10; other refs ("main", "v1.0", "release/v3") are not versions.
  EXPECT_EQ(relu.versions[0].version, "v1");
  EXPECT_EQ(relu.versions[1].version, "v2");
  EXPECT_EQ(relu.versions[2].version, "v10");
  EXPECT_EQ(relu.versions[0].commit, kCommitA);
  EXPECT_EQ(relu.versions[0].variants, (std::vector<std::string>{kCpu, kCuda}));
  // Names that are not variants are left out.
  EXPECT_EQ(relu.versions[1].variants, (std::vector<std::string>{kCpu}));
  ASSERT_TRUE(relu.versions[0].verification);
  EXPECT_EQ(relu.versions[0].verification->status, CachedVerification::Verified);
}

TEST(CacheListing, SizesCountSharedBlobsOnce) {
  TempCache cache;
  store_snapshot(cache.root(), "org/relu", kCommitA, variant_files({kCpu}), {"v1"});
  // The same README and CPU files in a second version share blobs.
  store_snapshot(cache.root(), "org/relu", kCommitB, variant_files({kCpu, kCuda}), {"v2"});
  auto files_a = variant_files({kCpu});
  auto files_b = variant_files({kCpu, kCuda});
  uint64_t size_a = 0, size_b = 0;
  for (const auto& [_, c] : files_a) size_a += c.size();
  for (const auto& [_, c] : files_b) size_b += c.size();
  // metadata.json "{}" is identical in both variants of version 2: one blob.
  size_b -= 2;

  CacheListing listing = list_cached_kernels(cache.root());
  ASSERT_EQ(listing.kernels.size(), 1u);
  EXPECT_EQ(listing.kernels[0].versions[0].size_on_disk, size_a);
  EXPECT_EQ(listing.kernels[0].versions[1].size_on_disk, size_b);
  EXPECT_EQ(listing.kernels[0].size_on_disk, size_b);  // version 1's blobs are all in version 2
}

TEST(CacheListing, TimesAreTheNewestBlobTimes) {
  TempCache cache;
  store_snapshot(cache.root(), "org/relu", kCommitA, variant_files({kCpu}), {"v1"});
  RepoCache repo(cache.root(), "kernel", "org/relu");
  double newest_access = 0, newest_modification = 0;
  int i = 0;
  for (const auto& entry : fs::directory_iterator(repo.blobs_dir())) {
    // Accessed before modified: a read would update the access time (relatime).
    timespec times[2] = {{1'600'000'000 + 100 * i, 0}, {1'700'000'000 + 100 * i, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, entry.path().c_str(), times, 0), 0);
    newest_access = 1'600'000'000 + 100 * i;
    newest_modification = 1'700'000'000 + 100 * i;
    ++i;
  }
  CacheListing listing = list_cached_kernels(cache.root());
  ASSERT_EQ(listing.kernels.size(), 1u);
  EXPECT_EQ(listing.kernels[0].versions[0].last_accessed, newest_access);
  EXPECT_EQ(listing.kernels[0].versions[0].last_modified, newest_modification);
  EXPECT_EQ(listing.kernels[0].last_modified, newest_modification);
  // Hashing the files for the verification does not count as an access.
  EXPECT_EQ(list_cached_kernels(cache.root()).kernels[0].versions[0].last_accessed, newest_access);
}

TEST(CacheListing, VerificationFindsFilesChangedAfterTheyWereCached) {
  TempCache cache;
  store_snapshot(cache.root(), "org/relu", kCommitA, variant_files({kCpu, kCuda}), {"v1"});
  store_snapshot(cache.root(), "org/relu", kCommitB, variant_files({kCuda}), {"v2"});
  RepoCache repo(cache.root(), "kernel", "org/relu");
  fs::path blob = fs::canonical(repo.file_path(kCommitA, "build/" + kCpu + "/__init__.py"));
  { std::ofstream(blob, std::ios::app) << "import os  # tampered\n"; }
  // A copied file (no blob name) cannot be checked.
  fs::path copied = repo.snapshot_dir(kCommitB) / "extra.txt";
  { std::ofstream(copied) << "copied by hand"; }

  CacheListing listing = list_cached_kernels(cache.root());
  ASSERT_EQ(listing.kernels.size(), 1u);
  const auto& v1 = *listing.kernels[0].versions[0].verification;
  EXPECT_EQ(v1.status, CachedVerification::Modified);
  EXPECT_EQ(v1.mismatched, (std::vector<std::string>{"build/" + kCpu + "/__init__.py"}));
  const auto& v2 = *listing.kernels[0].versions[1].verification;
  EXPECT_EQ(v2.status, CachedVerification::Unverifiable);
  EXPECT_EQ(v2.unrecorded, (std::vector<std::string>{"extra.txt"}));

  EXPECT_FALSE(list_cached_kernels(cache.root(), false).kernels[0].versions[0].verification);

  nlohmann::ordered_json json = listing_json(listing);
  EXPECT_EQ(json["repos"][0]["versions"][0]["verification"]["status"], "modified");
  EXPECT_EQ(json["repos"][0]["versions"][1]["verification"]["unrecorded"][0], "extra.txt");

  CacheLsOutput out = render_cache_ls(listing, {.columns = 400, .no_truncate = false, .now = 1e10}, false);
  EXPECT_TRUE(contains(out.err, "kernel/org/relu v1: cached files differ")) << out.err;
  EXPECT_TRUE(contains(out.err, "build/" + kCpu + "/__init__.py")) << out.err;
}

TEST(CacheListing, InconsistentRepositoriesBecomeWarnings) {
  TempCache cache;
  store_snapshot(cache.root(), "org/good", kCommitA, variant_files({kCpu}), {"v1"});
  store_snapshot(cache.root(), "org/broken", kCommitA, variant_files({kCpu}), {"v1"});
  RepoCache broken(cache.root(), "kernel", "org/broken");
  fs::remove(fs::canonical(broken.file_path(kCommitA, "README.md")));
  fs::create_directories(cache.root() / "not-a-repo");
  fs::create_directories(cache.root() / "kernels--org--nosnapshots");
  store_snapshot(cache.root(), "org/dangling", kCommitA, variant_files({kCpu}), {"v1"});
  RepoCache dangling(cache.root(), "kernel", "org/dangling");
  dangling.write_ref("v2", kCommitB);
  // kb's own records in the cache root are not repositories.
  fs::create_directories(cache.root() / ".kb-trust" / "x");

  CacheListing listing = list_cached_kernels(cache.root());
  ASSERT_EQ(listing.kernels.size(), 1u);
  EXPECT_EQ(listing.kernels[0].repo_id, "org/good");
  ASSERT_EQ(listing.warnings.size(), 4u);
  std::string all;
  for (const auto& w : listing.warnings) all += w + "\n";
  EXPECT_TRUE(contains(all, "Blob missing (broken symlink)")) << all;
  EXPECT_TRUE(contains(all, "Repo path is not a valid HuggingFace cache directory")) << all;
  EXPECT_TRUE(contains(all, "Snapshots dir doesn't exist in cached repo")) << all;
  EXPECT_TRUE(contains(all, "Reference(s) refer to missing commit hashes: {'" + kCommitB + "': {'v2'}}")) << all;

  EXPECT_EQ(render_cache_warnings(listing, false),
            "Warning: Found 4 cache inconsistencies. Re-run with `--show-warnings` to display them.\n");
  std::string details = render_cache_warnings(listing, true);
  EXPECT_TRUE(contains(details, "Repo ignored.\n")) << details;
}

TEST(CacheListing, MissingDirectoryIsEmptyAndAFileIsAnError) {
  TempCache cache;
  CacheListing listing = list_cached_kernels(cache.root() / "missing");
  EXPECT_FALSE(listing.found);
  EXPECT_TRUE(listing.kernels.empty());
  write_file_atomic(cache.root() / "file", "x");
  EXPECT_TRUE(contains(error_of([&] { list_cached_kernels(cache.root() / "file"); }),
                       "Scan cache expects a directory but found a file"));
  CacheLsResult result = cache_ls({.cache_dir = cache.root() / "file", .json = true});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(contains(result.err, "Cannot scan kernel cache:")) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(CacheListing, TableHasOneLinePerVariantAndFitsTheTerminal) {
  TempCache cache;
  store_snapshot(cache.root(), "org/a-kernel-with-a-rather-long-name", kCommitA, variant_files({kCpu, kCuda}), {"v1"});
  CacheListing listing = list_cached_kernels(cache.root());
  CacheLsOutput wide = render_cache_ls(listing, {.columns = 300, .no_truncate = false, .now = 1e10}, false);
  std::vector<std::string> lines = split(trim(wide.out), '\n');
  ASSERT_EQ(lines.size(), 4u) << wide.out;
  EXPECT_EQ(split(lines[0], ' ').front(), "ID");
  size_t variants_at = lines[0].find("VARIANTS");
  ASSERT_NE(variants_at, std::string::npos);
  EXPECT_EQ(trim(lines[2].substr(variants_at)), kCpu);  // cells are padded, as tabulate pads them
  EXPECT_EQ(lines[3].substr(variants_at), kCuda);
  EXPECT_EQ(trim(lines[3].substr(0, variants_at)), "");  // continuation line
  EXPECT_TRUE(contains(lines[2], " yes "));
  EXPECT_EQ(wide.err, "");

  CacheLsOutput narrow = render_cache_ls(listing, {.columns = 80, .no_truncate = false, .now = 1e10}, false);
  for (const std::string& line : split(trim(narrow.out), '\n')) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_TRUE(contains(narrow.out, "..."));
  EXPECT_TRUE(contains(narrow.err, "--no-truncate"));

  CacheLsOutput full = render_cache_ls(listing, {.columns = 80, .no_truncate = true, .now = 1e10}, false);
  EXPECT_TRUE(contains(full.out, kCuda));
  EXPECT_EQ(full.err, "");

  CacheListing empty = list_cached_kernels(cache.root() / "none");
  EXPECT_EQ(render_cache_ls(empty, {}, false).out,
            "No cached kernel versions found in " + (cache.root() / "none").string() + ".\n");
}

TEST(CacheListing, SizesAndAgesPrintAsTheHuggingFaceToolsPrintThem) {
  EXPECT_EQ(format_size(0), "0.0");
  EXPECT_EQ(format_size(999), "999.0");
  EXPECT_EQ(format_size(1234567), "1.2M");
  EXPECT_EQ(format_size(3'200'000'000ULL), "3.2G");
  EXPECT_EQ(format_timesince(100, 110), "a few seconds ago");
  EXPECT_EQ(format_timesince(0, 45), "45 seconds ago");
  EXPECT_EQ(format_timesince(0, 60), "1 minute ago");
  EXPECT_EQ(format_timesince(0, 3 * 3600), "3 hours ago");
  EXPECT_EQ(format_timesince(0, 86400), "1 day ago");
  EXPECT_EQ(format_timesince(0, 14 * 86400), "2 weeks ago");
  EXPECT_EQ(format_timesince(0, 400 * 86400), "1 year ago");
}

}  // namespace
