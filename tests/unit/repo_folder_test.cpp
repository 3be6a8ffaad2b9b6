#include "libkb/fetch/repo_folder.h"

#include <gtest/gtest.h>

#include <fstream>

#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

class RepoFolderTest : public ::testing::Test {
 protected:
  RepoFolderTest()
      : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-repo-folder")),
        hub_(hub::open_local_hub(tmp_.path() / "hub")) {}

  hub::FileOperation add(const std::string& path, const std::string& content) {
    fs::path p = tmp_.path() / "src" / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return {hub::FileOperation::Kind::Add, path, p};
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> hub_;
};

}  // namespace

TEST_F(RepoFolderTest, StoresOnlyTheFolderAndRecordsTheRef) {
  std::string commit = hub_->publish("acme/relu", {"v1",
                                                   "m",
                                                   {add("benchmarks/benchmark.py", "# bench\n"),
                                                    add("benchmarks/data/sizes.txt", "1 2 3"),
                                                    add("build/torch-cpu/__init__.py", "X = 1\n")}})
                           .commit;
  fs::path cache = tmp_.path() / "cache";
  auto snap = fetch::fetch_repo_folder(*hub_, cache, "acme/relu", "v1", "benchmarks");
  EXPECT_EQ(snap.commit, commit);
  EXPECT_TRUE(snap.folder_exists);
  EXPECT_EQ(snap.files, 2u);
  EXPECT_EQ(read(snap.root / "benchmarks" / "benchmark.py"), "# bench\n");
  EXPECT_EQ(read(snap.root / "benchmarks" / "data" / "sizes.txt"), "1 2 3");
  EXPECT_FALSE(fs::exists(snap.root / "build"));
  EXPECT_EQ(read(cache / "kernels--acme--relu" / "refs" / "v1"), commit);
}

TEST_F(RepoFolderTest, ARepositoryWithoutTheFolderIsAnAnswerNotAnError) {
  hub_->publish("acme/relu", {"v1", "m", {add("build/torch-cpu/__init__.py", "X = 1\n")}});
  auto snap = fetch::fetch_repo_folder(*hub_, tmp_.path() / "cache", "acme/relu", "v1", "benchmarks");
  EXPECT_FALSE(snap.folder_exists);
  EXPECT_EQ(snap.files, 0u);
}

TEST_F(RepoFolderTest, AMissingRevisionOrUnsafeFolderThrows) {
  hub_->publish("acme/relu", {"v1", "m", {add("benchmarks/benchmark.py", "# bench\n")}});
  EXPECT_TRUE(contains(
      error_of([&] { fetch::fetch_repo_folder(*hub_, tmp_.path() / "c", "acme/relu", "v9", "benchmarks"); }), "v9"));
  EXPECT_FALSE(
      error_of([&] { fetch::fetch_repo_folder(*hub_, tmp_.path() / "c", "acme/relu", "v1", "../x"); }).empty());
}

TEST_F(RepoFolderTest, OfflineReadsWhatAnEarlierFetchStored) {
  hub_->publish("acme/relu", {"v1", "m", {add("benchmarks/benchmark.py", "# bench\n")}});
  fs::path cache = tmp_.path() / "cache";
  EXPECT_TRUE(contains(error_of([&] { fetch::cached_repo_folder(cache, "acme/relu", "v1", "benchmarks"); }),
                       "Cannot find a local snapshot of acme/relu (revision: v1)"));
  auto online = fetch::fetch_repo_folder(*hub_, cache, "acme/relu", "v1", "benchmarks");
  auto offline = fetch::cached_repo_folder(cache, "acme/relu", "v1", "benchmarks");
  EXPECT_EQ(offline.commit, online.commit);
  EXPECT_EQ(offline.root, online.root);
  EXPECT_TRUE(offline.folder_exists);
  EXPECT_EQ(offline.files, 1u);
  EXPECT_EQ(read(offline.root / "benchmarks" / "benchmark.py"), "# bench\n");
}
