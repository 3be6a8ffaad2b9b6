#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "libkb/git/git.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

using namespace kb;

namespace {

// Runs the git CLI (an independent implementation) in `dir`.
std::string git_cli(const fs::path& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-c", "user.name=kb test", "-c", "user.email=kb@example.invalid",
                                   "-c", "init.defaultBranch=main", "-c", "protocol.file.allow=always"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process({.argv = argv, .cwd = dir});
  if (!r.ok()) throw Error("git " + join(args, " ") + " failed: " + r.err);
  return trim(r.out);
}

class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_temp_dir(fs::temp_directory_path(), "kb-git-test");
    repo_ = root_ / "repo";
    fs::create_directories(repo_ / "kernels" / "relu");
    git_cli(repo_, {"init", "-q"});
    write_file_atomic(repo_ / "kernels" / "relu" / "build.toml", "[general]\nname = \"relu\"\n");
    write_file_atomic(repo_ / "README.md", "hello\n");
    git_cli(repo_, {"add", "."});
    git_cli(repo_, {"commit", "-q", "-m", "initial"});
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string cli_tree_prefix() { return git_cli(repo_, {"rev-parse", "HEAD^{tree}"}).substr(0, 7); }

  fs::path root_;
  fs::path repo_;
};

}  // namespace

TEST_F(GitRepoTest, CleanTreeGivesSevenHexOfHeadTree) {
  std::string expected = cli_tree_prefix();
  ASSERT_EQ(expected.size(), 7u);
  EXPECT_EQ(git::tree_unique_id(repo_), expected);
  EXPECT_EQ(git::unique_id(repo_), expected);
  // The tree id, not the commit id.
  EXPECT_NE(expected, git_cli(repo_, {"rev-parse", "HEAD"}).substr(0, 7));
}

TEST_F(GitRepoTest, KernelInSubdirectoryUsesEnclosingRepository) {
  EXPECT_EQ(git::unique_id(repo_ / "kernels" / "relu"), cli_tree_prefix());
}

TEST_F(GitRepoTest, ModifiedTrackedFileIsDirty) {
  write_file_atomic(repo_ / "README.md", "changed\n");
  EXPECT_EQ(git::unique_id(repo_ / "kernels" / "relu"), cli_tree_prefix() + "_dirty");
  auto provenance = git::kernel_provenance(repo_);
  ASSERT_TRUE(provenance);
  EXPECT_TRUE(provenance->dirty);
}

TEST_F(GitRepoTest, StagedChangeIsDirty) {
  write_file_atomic(repo_ / "new.txt", "staged\n");
  git_cli(repo_, {"add", "new.txt"});
  EXPECT_EQ(git::unique_id(repo_), cli_tree_prefix() + "_dirty");
}

TEST_F(GitRepoTest, UntrackedFileIsNotDirty) {
  write_file_atomic(repo_ / "kernels" / "relu" / "untracked.py", "x = 1\n");
  EXPECT_EQ(git::unique_id(repo_), cli_tree_prefix());
  EXPECT_FALSE(git::kernel_provenance(repo_)->dirty);
}

TEST_F(GitRepoTest, ChangedSubmoduleIsNotDirty) {
  fs::path sub = root_ / "sub";
  fs::create_directories(sub);
  git_cli(sub, {"init", "-q"});
  write_file_atomic(sub / "lib.h", "int f();\n");
  git_cli(sub, {"add", "."});
  git_cli(sub, {"commit", "-q", "-m", "sub"});
  git_cli(repo_, {"submodule", "add", "-q", sub.string(), "third_party/sub"});
  git_cli(repo_, {"commit", "-q", "-m", "add submodule"});
  ASSERT_EQ(git::unique_id(repo_), cli_tree_prefix());
  // A change inside the submodule shows in `git status` but does not count.
  write_file_atomic(repo_ / "third_party" / "sub" / "lib.h", "int g();\n");
  ASSERT_NE(git_cli(repo_, {"status", "--porcelain"}), "");
  EXPECT_EQ(git::unique_id(repo_), cli_tree_prefix());
}

TEST_F(GitRepoTest, ProvenanceIsHeadCommit) {
  auto provenance = git::kernel_provenance(repo_ / "kernels" / "relu");
  ASSERT_TRUE(provenance);
  EXPECT_EQ(provenance->commit, git_cli(repo_, {"rev-parse", "HEAD"}));
  EXPECT_FALSE(provenance->dirty);
}

TEST_F(GitRepoTest, RepositoryWithoutCommitsFallsBackToRandom) {
  fs::path empty = root_ / "empty";
  fs::create_directories(empty);
  git_cli(empty, {"init", "-q"});
  EXPECT_EQ(git::tree_unique_id(empty), std::nullopt);
  EXPECT_EQ(git::kernel_provenance(empty), std::nullopt);
  EXPECT_TRUE(std::regex_match(git::unique_id(empty), std::regex("[a-z2-7]{13}")));
}

TEST(Git, NoRepositoryGivesRandomBase32) {
  fs::path dir = make_temp_dir(fs::temp_directory_path(), "kb-git-norepo");
  TempDirGuard guard(dir);
  // Precondition: the temporary directory is not inside any repository.
  ASSERT_FALSE(run_process({.argv = {"git", "rev-parse", "--git-dir"}, .cwd = dir}).ok());
  EXPECT_EQ(git::tree_unique_id(dir), std::nullopt);
  EXPECT_EQ(git::kernel_provenance(dir), std::nullopt);
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    std::string id = git::unique_id(dir);
    EXPECT_TRUE(std::regex_match(id, std::regex("[a-z2-7]{13}"))) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 20u);
}

TEST(Git, Base32MatchesRfc4648Vectors) {
  EXPECT_EQ(git::base32_lower(""), "");
  EXPECT_EQ(git::base32_lower("f"), "my");
  EXPECT_EQ(git::base32_lower("fo"), "mzxq");
  EXPECT_EQ(git::base32_lower("foo"), "mzxw6");
  EXPECT_EQ(git::base32_lower("foob"), "mzxw6yq");
  EXPECT_EQ(git::base32_lower("fooba"), "mzxw6ytb");
  EXPECT_EQ(git::base32_lower("foobar"), "mzxw6ytboi");
  // Eight bytes (one 64-bit value) take 13 characters.
  EXPECT_EQ(git::base32_lower(std::string(8, '\xff')), "7777777777776");
}

TEST(Git, ObjectIdsAre40Or64HexDigits) {
  std::string upper(40, 'A');
  EXPECT_EQ(git::parse_object_id(upper), std::string(40, 'a'));
  EXPECT_EQ(git::parse_object_id(std::string(64, '0')), std::string(64, '0'));
  EXPECT_FALSE(git::is_object_id(std::string(39, 'a')));
  EXPECT_FALSE(git::is_object_id(std::string(40, 'g')));
  try {
    git::parse_object_id("abc123");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Invalid git object id, expected 40 or 64 hexadecimal digits: abc123");
  }
}
