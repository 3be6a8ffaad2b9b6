// kernel-status.toml is not followed (as in kernels >= 0.17): an install
// gets the build of the repository asked for, whatever its status file says.
#include <gtest/gtest.h>

#include <fstream>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

class KernelStatusIgnoredTest : public ::testing::Test {
 protected:
  KernelStatusIgnoredTest()
      : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-status")), hub_(hub::open_local_hub(tmp_.path() / "hub")) {}

  hub::FileOperation add(const std::string& path, const std::string& content) {
    fs::path p = tmp_.path() / "src" / std::to_string(counter_++) / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return {hub::FileOperation::Kind::Add, path, p};
  }

  fetch::InstallRequest request(const std::string& repo, const std::string& revision) {
    return {repo, revision, resolve::make_environment("x86_64", "Linux", std::nullopt), tmp_.path() / "cache", false, 2};
  }

  fs::path repo_dir(const std::string& repo) { return cache::RepoCache(tmp_.path() / "cache", "kernel", repo).repo_dir(); }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> hub_;
  int counter_ = 0;
};

}  // namespace

TEST_F(KernelStatusIgnoredTest, ARedirectingRepositoryInstallsItsOwnBuild) {
  hub_->publish("acme/new", {"main", "m", {add("build/torch-cpu/__init__.py", "NEW = 1\n")}});
  hub_->publish("acme/old", {"v1", "m", {add("kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/new\"\n"),
                                         add("build/torch-cpu/__init__.py", "OLD = 1\n")}});
  auto installed = fetch::install_variant(*hub_, request("acme/old", "v1"));
  EXPECT_EQ(installed.commit, hub_->resolve_revision("acme/old", "v1"));
  EXPECT_EQ(installed.variant_dir, repo_dir("acme/old") / "snapshots" / installed.commit / "build/torch-cpu");
  EXPECT_EQ(read_file(installed.variant_dir / "__init__.py"), "OLD = 1\n");
  EXPECT_FALSE(fs::exists(repo_dir("acme/new")));
  // Installing the commit again (from what the first install recorded) still gives its own build.
  auto again = fetch::install_variant(*hub_, request("acme/old", installed.commit));
  EXPECT_EQ(again.variant_dir, installed.variant_dir);
  EXPECT_FALSE(fs::exists(repo_dir("acme/new")));
}

TEST_F(KernelStatusIgnoredTest, ARepositoryWithOnlyARedirectHasNoVariantForThisSystem) {
  hub_->publish("acme/b", {"main", "m", {add("build/torch-cpu/__init__.py", "B = 1\n")}});
  hub_->publish("acme/a", {"main", "m", {add("kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/b\"\n")}});
  std::string error = error_of([&] { fetch::install_variant(*hub_, request("acme/a", "main")); });
  EXPECT_TRUE(contains(error, "Cannot find a build variant for this system in acme/a (revision: main)")) << error;
  EXPECT_FALSE(fs::exists(repo_dir("acme/b")));
}

TEST_F(KernelStatusIgnoredTest, AMalformedStatusFileIsNotRead) {
  hub_->publish("acme/bad", {"main", "m", {add("kernel-status.toml", "kind = \"gone\"\n"),
                                           add("build/torch-cpu/__init__.py", "BAD = 1\n")}});
  EXPECT_EQ(read_file(fetch::install_variant(*hub_, request("acme/bad", "main")).variant_dir / "__init__.py"),
            "BAD = 1\n");
}

// Earlier versions of kb recorded a commit's redirect in the cache beside
// the commit's variant list; such a record is left alone and not obeyed.
TEST_F(KernelStatusIgnoredTest, ARedirectRecordedInTheCacheByAnEarlierVersionIsNotFollowed) {
  hub_->publish("acme/new", {"main", "m", {add("build/torch-cpu/__init__.py", "NEW = 1\n")}});
  std::string commit =
      hub_->publish("acme/old", {"main", "m", {add("build/torch-cpu/__init__.py", "OLD = 1\n")}}).commit;
  fs::path record = repo_dir("acme/old") / ".kb-complete" / commit / ".status";
  fs::create_directories(record.parent_path());
  write_file_atomic(record, "acme/new\nmain");
  auto installed = fetch::install_variant(*hub_, request("acme/old", commit));
  EXPECT_EQ(read_file(installed.variant_dir / "__init__.py"), "OLD = 1\n");
  EXPECT_FALSE(fs::exists(repo_dir("acme/new")));
  EXPECT_EQ(read_file(record), "acme/new\nmain");
}
