#include <gtest/gtest.h>

#include <algorithm>

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "libkb/hub/hub.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

class LocalHubTest : public ::testing::Test {
 protected:
  LocalHubTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-hub")), hub_(hub::open_local_hub(tmp_.path() / "hub")) {}

  fs::path file(const std::string& name, const std::string& content) {
    fs::path p = tmp_.path() / "src" / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  hub::FileOperation add(const std::string& path, const std::string& content) {
    return {hub::FileOperation::Kind::Add, path, file(path, content)};
  }

  std::string fetch(const std::string& repo, const std::string& commit, const hub::TreeEntry& e) {
    std::string out;
    hub_->fetch_file(repo, commit, e, [&](const char* data, size_t n) { out.append(data, n); });
    return out;
  }

  // What the git CLI says of the bare repository, so the hub is checked
  // against an independent reader.
  std::string git(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"git", "--git-dir", (tmp_.path() / "hub" / "acme" / "relu.git").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessSpec spec;
    spec.argv = argv;
    auto r = run_process(spec);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> hub_;
};

}  // namespace

TEST(HubRepoId, AcceptsOwnerSlashNameOnly) {
  hub::validate_repo_id("kernels-community/relu_2.x");
  for (const char* bad : {"relu", "a/b/c", "../x", "a/..", "a/.hidden", "/abs", "a/", "a/b c", "-a/b"})
    EXPECT_TRUE(contains(error_of([&] { hub::validate_repo_id(bad); }), "invalid repository id")) << bad;
}

TEST(HubBytecode, PycFilesAndPycacheFoldersOnly) {
  EXPECT_TRUE(hub::is_bytecode("build/v/x.cpython-311.pyc"));
  EXPECT_TRUE(hub::is_bytecode("build/v/__pycache__/x.txt"));
  EXPECT_TRUE(hub::is_bytecode("__pycache__"));
  EXPECT_FALSE(hub::is_bytecode("build/v/x.py"));
  EXPECT_FALSE(hub::is_bytecode("build/v/not__pycache__/x.py"));
  EXPECT_FALSE(hub::is_bytecode("build/v/x.pyc.txt"));
}

TEST(HubVersions, CommitOfAVersionAndTheNewerVersionNotice) {
  std::map<int, std::string> versions = {{1, "a"}, {2, "b"}, {10, "c"}};
  EXPECT_EQ(hub::version_commit(versions, 2), "b");
  EXPECT_EQ(error_of([&] { hub::version_commit(versions, 3); }), "Version 3 not found, available versions: 1, 2, 10");
  EXPECT_EQ(error_of([&] { hub::version_commit({}, 1); }), "Version 1 not found, available versions: ");
  EXPECT_EQ(hub::newer_version_notice("acme/relu", 2, versions),
            std::optional<std::string>("You are using version 2 of 'acme/relu', but version 10 is available."));
  EXPECT_FALSE(hub::newer_version_notice("acme/relu", 10, versions));
  EXPECT_FALSE(hub::newer_version_notice("acme/relu", 1, {}));
}

TEST(HubVersions, BranchesNamedVIntAreVersions) {
  auto v = hub::version_branches({{"main", "a"}, {"v1", "b"}, {"v10", "c"}, {"v2beta", "d"}, {"v", "e"}, {"v2", "f"}});
  EXPECT_EQ(v, (std::map<int, std::string>{{1, "b"}, {2, "f"}, {10, "c"}}));
}

TEST_F(LocalHubTest, PublishCreatesTheRepositoryAndAVersionBranch) {
  auto result = hub_->publish("acme/relu", {"v1", "Upload relu", {add("build/torch-cpu/__init__.py", "x = 1\n"),
                                                                   add("build/torch-cpu/metadata.json", "{}")}});
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(git({"rev-parse", "refs/heads/v1"}), result.commit);
  EXPECT_EQ(git({"show", "v1:build/torch-cpu/__init__.py"}), "x = 1");
  EXPECT_EQ(git({"log", "--format=%s", "-1", "v1"}), "Upload relu");
  auto branches = hub_->list_branches("acme/relu");
  ASSERT_EQ(branches.size(), 2u);
  EXPECT_EQ(branches[0].name, "main");
  EXPECT_EQ(branches[1].name, "v1");
  EXPECT_EQ(hub_->resolve_revision("acme/relu", "v1"), result.commit);
  EXPECT_EQ(hub_->resolve_revision("acme/relu", result.commit), result.commit);
}

TEST_F(LocalHubTest, LargeFilesAreFetchedInChunksNotWhole) {
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  std::string commit = hub_->publish("acme/relu", {"v1", "m", {add("build/torch-cpu/_big.so", big)}}).commit;
  auto files = hub_->list_tree("acme/relu", commit, "build/torch-cpu", true);
  ASSERT_EQ(files.size(), 1u);
  std::string got;
  size_t chunks = 0, largest = 0;
  hub_->fetch_file("acme/relu", commit, files[0], [&](const char* data, size_t n) {
    got.append(data, n);
    ++chunks;
    largest = std::max(largest, n);
  });
  EXPECT_EQ(got, big);
  EXPECT_GE(chunks, 3u);
  EXPECT_LE(largest, size_t{1} << 20);
}

TEST_F(LocalHubTest, TreeListingsCarrySizesAndGitBlobIds) {
  auto c = hub_->publish("acme/relu", {"v1", "m", {add("build/a/__init__.py", "hello\n"), add("build/a/sub/x.bin", "12345"),
                                                   add("build/b/__init__.py", "")}})
               .commit;
  auto top = hub_->list_tree("acme/relu", c, "build", false);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].path, "build/a");
  EXPECT_TRUE(top[0].directory);
  auto files = hub_->list_tree("acme/relu", c, "build/a", true);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].path, "build/a/__init__.py");
  EXPECT_EQ(files[0].size, 6u);
  // `git hash-object` of "hello\n".
  EXPECT_EQ(files[0].blob_id, "ce013625030ba8dba906f756967f9e9ca394464a");
  EXPECT_EQ(files[1].path, "build/a/sub/x.bin");
  EXPECT_EQ(fetch("acme/relu", c, files[1]), "12345");
  EXPECT_EQ(hub_->list_tree("acme/relu", c, "", true).size(), 3u);
}

TEST_F(LocalHubTest, RepublishingTheSameFilesChangesNothingAndDeletesRemoveFolders) {
  auto first = hub_->publish("acme/relu", {"v1", "m", {add("build/old/f", "1"), add("build/new/f", "2")}});
  auto again = hub_->publish("acme/relu", {"v1", "m", {add("build/new/f", "2")}});
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.commit, first.commit);
  auto pruned = hub_->publish("acme/relu", {"v1", "m", {{hub::FileOperation::Kind::Delete, "build/old", {}}}});
  EXPECT_TRUE(pruned.changed);
  EXPECT_EQ(git({"ls-tree", "-r", "--name-only", "v1"}), "build/new/f");
  EXPECT_EQ(git({"rev-parse", "v1^"}), first.commit) << "history is kept";
}

TEST_F(LocalHubTest, NewBranchesStartFromMainAndVersionsAreIndependent) {
  auto v1 = hub_->publish("acme/relu", {"v1", "m", {add("build/x/f", "1")}});
  // Branches read from packed-refs as well as loose refs (git gc packs them).
  git({"pack-refs", "--all"});
  EXPECT_EQ(hub::version_branches(hub_->list_branches("acme/relu")).at(1), v1.commit);
  hub_->publish("acme/relu", {"v2", "m", {add("build/y/f", "2")}});
  EXPECT_EQ(git({"ls-tree", "-r", "--name-only", "v2"}), "build/y/f");
  EXPECT_EQ(hub::version_branches(hub_->list_branches("acme/relu")).size(), 2u);
}

TEST_F(LocalHubTest, MissingRepositoryRevisionAndFolderAreClearErrors) {
  EXPECT_TRUE(contains(error_of([&] { hub_->list_branches("acme/nope"); }), "Repository not found: acme/nope"));
  hub_->publish("acme/relu", {"v1", "m", {add("build/x/f", "1")}});
  EXPECT_TRUE(contains(error_of([&] { hub_->resolve_revision("acme/relu", "v9"); }), "Revision not found: `v9`"));
  EXPECT_TRUE(contains(error_of([&] { hub_->resolve_revision("acme/relu", "v1~1"); }), "Revision not found"));
  auto c = hub_->resolve_revision("acme/relu", "v1");
  EXPECT_TRUE(contains(error_of([&] { hub_->list_tree("acme/relu", c, "build/zz", false); }), "no folder `build/zz`"));
  EXPECT_TRUE(contains(error_of([&] { hub_->publish("acme/relu", {"bad..name", "m", {}}); }), "invalid branch name"));
  EXPECT_TRUE(contains(error_of([&] { hub_->publish("../escape", {"v1", "m", {}}); }), "invalid repository id"));
}

namespace {

// A second machine's view: a hub with its own, empty mirror directory.
class GitHubTest : public ::testing::Test {
 protected:
  GitHubTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-github")) {}

  fs::path file(const std::string& name, const std::string& content) {
    fs::path p = tmp_.path() / "src" / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::unique_ptr<hub::Hub> client(const std::string& url, const std::string& name) {
    return hub::open_git_hub(url, tmp_.path() / "mirrors" / name);
  }
  std::string fetch(hub::Hub& h, const std::string& commit, const std::string& path) {
    for (const auto& e : h.list_tree("acme/relu", commit, "", true))
      if (e.path == path) {
        std::string out;
        h.fetch_file("acme/relu", commit, e, [&](const char* d, size_t n) { out.append(d, n); });
        return out;
      }
    return "<missing>";
  }
  std::string git(const fs::path& repo, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"git", "--git-dir", repo.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process({.argv = argv});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return trim(r.out);
  }

  TempDirGuard tmp_;
};

// A free loopback port (bound then released; the daemon takes it right after).
int free_port() {
  auto r = run_process({.argv = {"python3", "-c",
                                 "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
                                 "print(s.getsockname()[1])"}});
  return std::stoi(trim(r.out));
}

}  // namespace

TEST_F(GitHubTest, PublishOverFileUrlCreatesTheRepositoryAndAnotherClientReadsIt) {
  std::string url = "file://" + (tmp_.path() / "server").string();
  auto writer = client(url, "writer");
  auto published = writer->publish("acme/relu", {"v1", "Upload", {{hub::FileOperation::Kind::Add, "build/x/__init__.py",
                                                                    file("a", "print(1)\n")}}});
  fs::path remote = tmp_.path() / "server" / "acme" / "relu.git";
  EXPECT_EQ(git(remote, {"rev-parse", "refs/heads/v1"}), published.commit);
  auto reader = client(url, "reader");
  EXPECT_EQ(reader->resolve_revision("acme/relu", "v1"), published.commit);
  EXPECT_EQ(fetch(*reader, published.commit, "build/x/__init__.py"), "print(1)\n");
  // A later publish by another client is seen after the next fetch.
  auto second = writer->publish("acme/relu", {"v2", "Upload", {{hub::FileOperation::Kind::Add, "build/y/f", file("b", "2")}}});
  EXPECT_EQ(hub::version_branches(reader->list_branches("acme/relu")).at(2), second.commit);
  EXPECT_TRUE(contains(error_of([&] { reader->list_branches("acme/missing"); }), "Repository not found: acme/missing"));
}

TEST_F(GitHubTest, PublishAndFetchThroughAGitDaemonOnLoopback) {
  fs::path root = tmp_.path() / "daemon";
  fs::create_directories(root / "acme");
  ASSERT_TRUE(run_process({.argv = {"git", "init", "-q", "--bare", "-b", "main", (root / "acme" / "relu.git").string()}}).ok());
  int port = free_port();
  fs::path pid_file = tmp_.path() / "daemon.pid";
  auto started = run_process({.argv = {"git", "daemon", "--detach", "--reuseaddr", "--export-all",
                                       "--enable=receive-pack", "--listen=127.0.0.1", "--port=" + std::to_string(port),
                                       "--pid-file=" + pid_file.string(), "--base-path=" + root.string(), root.string()}});
  ASSERT_TRUE(started.ok()) << started.err;
  struct Stop {
    fs::path pid;
    ~Stop() {
      std::ifstream in(pid);
      int p = 0;
      if (in >> p && p > 0) ::kill(p, SIGTERM);
    }
  } stop{pid_file};
  std::string url = "git://127.0.0.1:" + std::to_string(port);
  auto writer = client(url, "writer");
  // The daemon needs a moment to listen: retry the first contact, bounded.
  std::string error;
  for (int attempt = 0; attempt < 50; ++attempt) {
    error = error_of([&] { writer->list_branches("acme/relu"); });
    if (error.empty() || !contains(error, "Repository not found")) break;
    ::usleep(100 * 1000);
  }
  auto published = writer->publish("acme/relu", {"v1", "Upload", {{hub::FileOperation::Kind::Add, "build/x/f", file("a", "over git://")}}});
  EXPECT_EQ(git(root / "acme" / "relu.git", {"rev-parse", "refs/heads/v1"}), published.commit);
  auto reader = client(url, "reader");
  EXPECT_EQ(fetch(*reader, reader->resolve_revision("acme/relu", "v1"), "build/x/f"), "over git://");
  EXPECT_TRUE(contains(error_of([&] { writer->publish("acme/new", {"v1", "m", {}}); }), "create it on the git server first"));
}
