#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "libkb/fetch/install.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

// A hub in front of another that counts requests and can misbehave.
class TestHub : public hub::Hub {
 public:
  explicit TestHub(hub::Hub& inner) : inner_(inner) {}
  std::string describe() const override { return inner_.describe(); }
  std::string resolve_revision(std::string_view repo, std::string_view rev) override {
    ++requests;
    return inner_.resolve_revision(repo, rev);
  }
  std::vector<hub::RefInfo> list_branches(std::string_view repo) override {
    ++requests;
    return inner_.list_branches(repo);
  }
  std::vector<hub::TreeEntry> list_tree(std::string_view repo, std::string_view commit, std::string_view path,
                                        bool recursive) override {
    ++requests;
    auto out = inner_.list_tree(repo, commit, path, recursive);
    if (hostile && recursive) out.push_back({"build/torch-cpu/../../escape", false, 1, std::string(40, 'a'), {}});
    return out;
  }
  void fetch_file(std::string_view repo, std::string_view commit, const hub::TreeEntry& e,
                  const std::function<void(const char*, size_t)>& sink) override {
    ++requests;
    ++downloads;
    if (!corrupt) return inner_.fetch_file(repo, commit, e, sink);
    inner_.fetch_file(repo, commit, e, [&](const char* data, size_t n) {
      std::string flipped(data, n);
      if (!flipped.empty()) flipped[0] ^= 1;
      sink(flipped.data(), flipped.size());
    });
  }
  hub::PublishResult publish(std::string_view repo, const hub::PublishRequest& r) override { return inner_.publish(repo, r); }

  std::atomic<int> requests{0}, downloads{0};
  bool corrupt = false, hostile = false;

 private:
  hub::Hub& inner_;
};

class InstallTest : public ::testing::Test {
 protected:
  InstallTest()
      : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-install")),
        local_(hub::open_local_hub(tmp_.path() / "hub")),
        hub_(*local_) {
    std::vector<hub::FileOperation> ops;
    for (std::string v : {"torch-cpu", "torch-cuda"}) {
      ops.push_back(add("build/" + v + "/__init__.py", "BACKEND = '" + v + "'\n"));
      ops.push_back(add("build/" + v + "/sub/data.txt", "data of " + v));
      ops.push_back(add("build/" + v + "/__pycache__/x.cpython-311.pyc", "bytecode"));
    }
    commit_ = local_->publish("acme/relu", {"v1", "m", ops}).commit;
  }

  hub::FileOperation add(const std::string& path, const std::string& content) {
    fs::path p = tmp_.path() / "src" / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return {hub::FileOperation::Kind::Add, path, p};
  }

  fetch::InstallRequest request(const std::string& revision = "v1", bool offline = false) {
    return {"acme/relu", revision, resolve::make_environment("x86_64", "Linux", std::nullopt), tmp_.path() / "cache",
            offline, 4};
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> local_;
  TestHub hub_;
  std::string commit_;
};

}  // namespace

TEST_F(InstallTest, FetchesOnlyTheChosenVariantWithoutBytecodeIntoTheCache) {
  auto installed = fetch::install_variant(hub_, request());
  EXPECT_EQ(installed.variant, "torch-cpu");
  EXPECT_EQ(installed.commit, commit_);
  EXPECT_EQ(installed.variant_dir,
            tmp_.path() / "cache" / "kernels--acme--relu" / "snapshots" / commit_ / "build" / "torch-cpu");
  EXPECT_EQ(read(installed.variant_dir / "__init__.py"), "BACKEND = 'torch-cpu'\n");
  EXPECT_EQ(read(installed.variant_dir / "sub" / "data.txt"), "data of torch-cpu");
  EXPECT_TRUE(fs::is_symlink(installed.variant_dir / "__init__.py"));
  EXPECT_FALSE(fs::exists(installed.variant_dir / "__pycache__"));
  EXPECT_FALSE(fs::exists(installed.variant_dir.parent_path() / "torch-cuda"));
  EXPECT_EQ(hub_.downloads.load(), 2);
  EXPECT_EQ(read(tmp_.path() / "cache" / "kernels--acme--relu" / "refs" / "v1"), commit_);
}

TEST_F(InstallTest, ASecondInstallNeedsOneRequestAndOfflineNone) {
  fetch::install_variant(hub_, request());
  hub_.requests = 0;
  auto again = fetch::install_variant(hub_, request());
  EXPECT_EQ(hub_.requests.load(), 1);
  EXPECT_EQ(again.variant, "torch-cpu");
  hub_.requests = 0;
  auto offline = fetch::install_variant(hub_, request("v1", true));
  EXPECT_EQ(hub_.requests.load(), 0);
  EXPECT_EQ(offline.variant_dir, again.variant_dir);
  EXPECT_TRUE(contains(error_of([&] { fetch::install_variant(hub_, request("v2", true)); }),
                       "Cannot find a local snapshot for acme/relu (revision: v2)"));
}

TEST_F(InstallTest, ACorruptedDownloadIsRejectedAndNotCachedThenARetrySucceeds) {
  hub_.corrupt = true;
  std::string error = error_of([&] { fetch::install_variant(hub_, request()); });
  EXPECT_TRUE(contains(error, "hash mismatch")) << error;
  fs::path snapshot = tmp_.path() / "cache" / "kernels--acme--relu" / "snapshots" / commit_;
  EXPECT_FALSE(fs::exists(snapshot / "build" / "torch-cpu" / "__init__.py"));
  hub_.corrupt = false;
  EXPECT_EQ(read(fetch::install_variant(hub_, request()).variant_dir / "__init__.py"), "BACKEND = 'torch-cpu'\n");
}

TEST_F(InstallTest, AHostileTreeStoresNothing) {
  hub_.hostile = true;
  EXPECT_TRUE(contains(error_of([&] { fetch::install_variant(hub_, request()); }), "refusing unsafe path in hub tree"));
  EXPECT_EQ(hub_.downloads.load(), 0);
  EXPECT_FALSE(fs::exists(tmp_.path() / "cache" / "kernels--acme--relu" / "snapshots" / commit_ / "build"));
}

TEST_F(InstallTest, ASymbolicLinkInTheTreeIsRefusedBeforeAnyDownload) {
  // A commit made with the git CLI: build/torch-cpu/escape -> /etc/passwd.
  fs::path work = tmp_.path() / "work";
  auto git = [&](const std::vector<std::string>& args) {
    ProcessSpec spec;
    spec.argv = {"git", "-C", work.string(), "-c", "user.name=t", "-c", "user.email=t@t"};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    auto r = run_process(spec);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  };
  fs::create_directories(work);
  git({"clone", "-q", (tmp_.path() / "hub" / "acme" / "relu.git").string(), "."});
  git({"checkout", "-q", "v1"});
  fs::create_symlink("/etc/passwd", work / "build" / "torch-cpu" / "escape");
  git({"add", "build/torch-cpu/escape"});
  git({"commit", "-q", "-m", "link"});
  git({"push", "-q", "origin", "v1"});

  auto tree = local_->list_tree("acme/relu", "v1", "build/torch-cpu", true);
  auto link = std::find_if(tree.begin(), tree.end(), [](const hub::TreeEntry& e) { return e.path.ends_with("escape"); });
  ASSERT_NE(link, tree.end());
  EXPECT_TRUE(link->symlink);
  EXPECT_EQ(error_of([&] { fetch::install_variant(hub_, request()); }),
            "refusing symbolic link in hub tree: build/torch-cpu/escape");
  EXPECT_EQ(hub_.downloads.load(), 0);
}

TEST_F(InstallTest, NoCompatibleVariantListsEveryOne) {
  auto r = request();
  r.env = resolve::make_environment("x86_64", "Linux", std::nullopt);
  r.env.backend.kind = variant::ComputeKind::Rocm;
  r.env.backend.major = 6;
  EXPECT_EQ(error_of([&] { fetch::install_variant(hub_, r); }),
            "Cannot find a build variant for this system in acme/relu (revision: v1):\n\n"
            "torch-cpu: backend (cpu) does not match system backend (rocm) and is not universal\n"
            "torch-cuda: backend (cuda) does not match system backend (rocm) and is not universal");
}

TEST_F(InstallTest, VersionsResolveToBranchesOnlineAndToCachedRefsOffline) {
  fs::path cache = tmp_.path() / "cache";
  EXPECT_EQ(fetch::resolve_version(&hub_, "acme/relu", 1, cache, false), commit_);
  EXPECT_EQ(error_of([&] { fetch::resolve_version(&hub_, "acme/relu", 3, cache, false); }),
            "Version 3 not found, available versions: 1");
  EXPECT_EQ(fetch::resolve_version(nullptr, "acme/relu", 1, cache, true), commit_) << "remembered from the online lookup";
  EXPECT_TRUE(contains(error_of([&] { fetch::resolve_version(nullptr, "acme/other", 1, cache, true); }),
                       "is not available in the local cache and Hugging Face Hub is in offline mode"));
}

TEST_F(InstallTest, AWarmInstallStillPrefersTheHubsBestVariantOverACachedWorseOne) {
  local_->publish("acme/relu", {"v2", "m", {add("build/torch-universal/__init__.py", "U"),
                                            add("build/torch-cpu/__init__.py", "C")}});
  // A ROCm process caches torch-universal (the only variant it accepts)...
  auto rocm = request("v2");
  rocm.env.backend.kind = variant::ComputeKind::Rocm;
  rocm.env.backend.major = 6;
  EXPECT_EQ(fetch::install_variant(hub_, rocm).variant, "torch-universal");
  // ...a CPU process must still get torch-cpu, which it prefers, not the cached one.
  hub_.requests = 0;
  auto cpu = fetch::install_variant(hub_, request("v2"));
  EXPECT_EQ(cpu.variant, "torch-cpu");
  EXPECT_EQ(read(cpu.variant_dir / "__init__.py"), "C");
  // Both are cached now: one request each.
  hub_.requests = 0;
  EXPECT_EQ(fetch::install_variant(hub_, rocm).variant, "torch-universal");
  EXPECT_EQ(fetch::install_variant(hub_, request("v2")).variant, "torch-cpu");
  EXPECT_EQ(hub_.requests.load(), 2);
}
