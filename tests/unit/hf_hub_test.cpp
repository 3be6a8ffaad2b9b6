// The Hugging Face Hub client against the loopback hub fixture: publishing
// (regular and LFS files), listings, downloads, errors, retries and faults.
#include <gtest/gtest.h>

#include <fstream>

#include "libkb/cache/cache.h"
#include "libkb/fetch/install.h"
#include "libkb/hub/hub.h"
#include "libkb/hub/trust.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "tests/unit/hub_server.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;
using kb::testing::HubServer;
using nlohmann::json;

namespace {

const std::string kToken = "hf_test_token";

class HfHubTest : public ::testing::Test {
 protected:
  HfHubTest()
      : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-hf")),
        server_(tmp_.path() / "server", {"--token", kToken, "--trusted-org", "acme", "--org", "shady"}) {}

  std::unique_ptr<hub::Hub> open(std::optional<std::string> token = kToken, int attempts = 3) {
    hub::HfHubOptions o;
    o.endpoint = server_.url();
    o.token = std::move(token);
    o.user_agent = "kb-test/1; backend/cpu";
    o.max_attempts = attempts;
    return hub::open_hf_hub(o);
  }

  hub::FileOperation add(const std::string& path, const std::string& content) {
    fs::path p = tmp_.path() / "src" / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return {hub::FileOperation::Kind::Add, path, p};
  }

  // Two variants; the .so goes through LFS (the fixture's *.so pattern).
  std::string publish_relu(hub::Hub& hub) {
    std::vector<hub::FileOperation> ops;
    for (std::string v : {"torch-cpu", "torch-cuda"}) {
      ops.push_back(add("build/" + v + "/__init__.py", "BACKEND = '" + v + "'\n"));
      ops.push_back(add("build/" + v + "/_relu.abi3.so", std::string(3000, 'x') + v));
      ops.push_back(add("build/" + v + "/__pycache__/x.cpython-311.pyc", "bytecode"));
    }
    return hub.publish("acme/relu", {"v1", "Uploaded using `kb`.", ops}).commit;
  }

  static std::string fetch(hub::Hub& hub, const std::string& repo, const std::string& commit, const hub::TreeEntry& e) {
    std::string out;
    hub.fetch_file(repo, commit, e, [&](const char* data, size_t n) { out.append(data, n); });
    return out;
  }

  fetch::InstallRequest request(const std::string& revision = "v1") {
    return {"acme/relu", revision, resolve::make_environment("x86_64", "Linux", std::nullopt), tmp_.path() / "cache",
            false, 4};
  }

  // The requests the fixture logged whose target matches `part`.
  std::vector<json> requests(const std::string& part) {
    std::vector<json> out;
    for (const json& r : server_.log())
      if (contains(r["target"].get<std::string>(), part)) out.push_back(r);
    return out;
  }

  TempDirGuard tmp_;
  HubServer server_;
};

}  // namespace

TEST_F(HfHubTest, PublishThenListBranchesTreesAndDownloadEveryKindOfFile) {
  auto hub = open();
  std::string commit = publish_relu(*hub);
  EXPECT_EQ(commit.size(), 40u);
  auto versions = hub::version_branches(hub->list_branches("acme/relu"));
  ASSERT_EQ(versions.count(1), 1u);
  EXPECT_EQ(versions[1], commit);
  EXPECT_EQ(hub->resolve_revision("acme/relu", "v1"), commit);

  auto variants = hub->list_tree("acme/relu", commit, "build", false);
  ASSERT_EQ(variants.size(), 2u);
  EXPECT_TRUE(variants[0].directory);
  EXPECT_EQ(variants[0].path, "build/torch-cpu");

  auto files = hub->list_tree("acme/relu", commit, "build/torch-cpu", true);
  ASSERT_EQ(files.size(), 3u);
  for (const auto& e : files) {
    EXPECT_FALSE(e.directory) << e.path;
    std::string content = fetch(*hub, "acme/relu", commit, e);
    EXPECT_EQ(content.size(), e.size) << e.path;
    if (e.path.ends_with(".so")) {
      ASSERT_TRUE(e.lfs_sha256) << "the fixture stores *.so in LFS";
      EXPECT_EQ(*e.lfs_sha256, to_hex(sha256_bytes(content)));
      EXPECT_EQ(content, std::string(3000, 'x') + "torch-cpu");
    } else {
      EXPECT_FALSE(e.lfs_sha256);
      EXPECT_EQ(e.blob_id, git_blob_sha1_hex(content));
    }
  }
}

TEST_F(HfHubTest, RepublishingTheSameFilesMakesNoCommitAndDeletionsRemoveFolders) {
  auto hub = open();
  std::string first = publish_relu(*hub);
  std::string again = publish_relu(*hub);
  EXPECT_EQ(again, first);
  std::vector<hub::FileOperation> ops = {{hub::FileOperation::Kind::Delete, "build/torch-cuda", {}},
                                         {hub::FileOperation::Kind::Delete, "build/absent", {}}};
  auto result = hub->publish("acme/relu", {"v1", "prune", ops});
  EXPECT_TRUE(result.changed);
  auto variants = hub->list_tree("acme/relu", result.commit, "build", false);
  ASSERT_EQ(variants.size(), 1u);
  EXPECT_EQ(variants[0].path, "build/torch-cpu");
  auto none = hub->publish("acme/relu", {"v1", "prune", ops});
  EXPECT_FALSE(none.changed);
}

TEST_F(HfHubTest, LargeFilesUploadOnceAndTheTokenNeverLeavesTheEndpoint) {
  auto hub = open();
  publish_relu(*hub);
  auto uploads = requests("/_lfs/objects/");
  // Two distinct .so contents, each stored once; the storage host is another
  // origin, so it never sees the token.
  ASSERT_EQ(uploads.size(), 2u);
  for (const json& r : uploads) EXPECT_FALSE(r["headers"].contains("Authorization")) << r.dump();
  for (const json& r : requests("/api/kernels/acme/relu/refs"))
    EXPECT_EQ(r["headers"]["Authorization"], "Bearer " + kToken);
  for (const json& r : requests("/api/")) EXPECT_EQ(r["headers"]["User-Agent"], "kb-test/1; backend/cpu");
}

TEST_F(HfHubTest, TreeListingsFollowEveryPage) {
  auto hub = open();
  std::string commit = publish_relu(*hub);
  server_.config({{"page_size", 2}});
  server_.clear_log();
  auto files = hub->list_tree("acme/relu", commit, "", true);
  // .gitattributes + 6 files under build/; the hub also lists the 5 folders:
  // 12 entries, 2 a page.
  EXPECT_EQ(files.size(), 7u);
  auto pages = requests("/tree/");
  ASSERT_EQ(pages.size(), 6u);
  for (size_t i = 1; i < pages.size(); ++i) EXPECT_TRUE(contains(pages[i]["target"], "cursor=")) << pages[i];
}

TEST_F(HfHubTest, InstallFetchesOnlyTheChosenVariantVerifiedIntoTheCache) {
  auto hub = open();
  std::string commit = publish_relu(*hub);
  server_.clear_log();
  auto installed = fetch::install_variant(*hub, request());
  EXPECT_EQ(installed.variant, "torch-cpu");
  EXPECT_EQ(installed.commit, commit);
  EXPECT_EQ(read_file(installed.variant_dir / "_relu.abi3.so"), std::string(3000, 'x') + "torch-cpu");
  EXPECT_FALSE(fs::exists(installed.variant_dir / "__pycache__"));
  EXPECT_TRUE(requests("torch-cuda/_relu").empty());
  // Warm: one revision request.
  server_.clear_log();
  fetch::install_variant(*hub, request());
  auto log = server_.log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_TRUE(contains(log[0]["target"], "/revision/v1"));
}

TEST_F(HfHubTest, TransientFailuresAreRetriedAndAnInterruptedDownloadResumes) {
  auto hub = open();
  std::string commit = publish_relu(*hub);
  server_.fault({{"path", "/refs$"}, {"kind", "status"}, {"status", 503}, {"count", 2}});
  server_.fault({{"path", "/revision/"}, {"kind", "status"}, {"status", 429}, {"headers", {{"Retry-After", "0"}}}});
  server_.fault({{"path", "/tree/"}, {"kind", "reset"}});
  server_.fault({{"path", "/_lfs/objects/"}, {"kind", "truncate"}, {"bytes", 1000}});
  server_.clear_log();
  EXPECT_EQ(hub::version_branches(hub->list_branches("acme/relu"))[1], commit);
  EXPECT_EQ(requests("/refs").size(), 3u);
  auto installed = fetch::install_variant(*hub, request());
  EXPECT_EQ(read_file(installed.variant_dir / "_relu.abi3.so"), std::string(3000, 'x') + "torch-cpu");
  // The download broke after 1000 bytes and went on from there.
  auto downloads = requests("/_lfs/objects/");
  ASSERT_EQ(downloads.size(), 2u);
  EXPECT_EQ(downloads[1]["headers"]["Range"], "bytes=1000-");
}

TEST_F(HfHubTest, RetriesAreBoundedAndTheErrorSaysWhatFailed) {
  auto hub = open(kToken, 3);
  publish_relu(*hub);
  server_.fault({{"path", "/refs$"}, {"kind", "status"}, {"status", 502}, {"count", -1}});
  server_.clear_log();
  std::string error = error_of([&] { hub->list_branches("acme/relu"); });
  EXPECT_TRUE(contains(error, "listing the branches of acme/relu: HTTP 502")) << error;
  EXPECT_EQ(requests("/refs").size(), 3u);
}

TEST_F(HfHubTest, ACorruptedDownloadIsRejectedAndNothingIsCached) {
  auto hub = open();
  std::string commit = publish_relu(*hub);
  server_.fault({{"path", "/_lfs/objects/"}, {"kind", "corrupt"}, {"count", -1}});
  std::string error = error_of([&] { fetch::install_variant(*hub, request()); });
  EXPECT_TRUE(contains(error, "hash mismatch")) << error;
  cache::RepoCache repo(tmp_.path() / "cache", "kernel", "acme/relu");
  EXPECT_FALSE(fs::exists(repo.file_path(commit, "build/torch-cpu/_relu.abi3.so")));
  for (auto& blob : fs::directory_iterator(repo.blobs_dir()))
    EXPECT_FALSE(blob.path().string().ends_with(".incomplete")) << blob.path();
  server_.clear_faults();
  EXPECT_TRUE(fs::exists(fetch::install_variant(*hub, request()).variant_dir / "_relu.abi3.so"));
}

TEST_F(HfHubTest, MissingRepositoryRevisionAndFileAreNamed) {
  auto hub = open();
  publish_relu(*hub);
  auto repo = error_of([&] { hub->resolve_revision("acme/nothing", "v1"); });
  EXPECT_TRUE(contains(repo, "Repository not found: acme/nothing")) << repo;
  try {
    hub->resolve_revision("acme/relu", "v9");
    FAIL() << "v9 resolved";
  } catch (const hub::NotFound& e) {
    EXPECT_EQ(e.kind(), hub::NotFound::What::Revision);
    EXPECT_TRUE(contains(e.what(), "Revision not found: `v9` in acme/relu")) << e.what();
  }
  EXPECT_FALSE(hub->read_repo_file("acme/relu", "v1", "kernel-status.toml"));
  EXPECT_FALSE(hub->read_repo_file("acme/nothing", "main", "kernel-status.toml"));
  EXPECT_THROW(hub->read_repo_file("acme/relu", "v9", "kernel-status.toml"), hub::NotFound);
  EXPECT_EQ(*hub->read_repo_file("acme/relu", "v1", "build/torch-cpu/__init__.py"), "BACKEND = 'torch-cpu'\n");
  EXPECT_TRUE(hub->file_exists("acme/relu", "v1", "build/torch-cpu/__init__.py"));
  EXPECT_TRUE(hub->file_exists("acme/relu", "v1", "build/torch-cpu/_relu.abi3.so"));  // LFS: a redirect
  EXPECT_FALSE(hub->file_exists("acme/relu", "v1", "build/torch-cpu/metadata.json"));
}

TEST_F(HfHubTest, AuthenticationErrorsSayWhatToDo) {
  auto anonymous = open(std::nullopt);
  std::string error = error_of([&] {
    anonymous->publish("acme/relu", {"v1", "m", {add("build/torch-cpu/__init__.py", "x")}});
  });
  EXPECT_TRUE(contains(error, "HTTP 401")) << error;
  EXPECT_TRUE(contains(error, "HF_TOKEN")) << error;
  auto wrong = open("not-the-token");
  error = error_of([&] { wrong->list_branches("acme/relu"); });
  EXPECT_TRUE(contains(error, "token in use was refused")) << error;
}

TEST_F(HfHubTest, PrivateRepositoriesNeedTheToken) {
  auto hub = open();
  hub::PublishRequest req{"v1", "m", {add("build/torch-cpu/__init__.py", "x")}};
  req.private_repo = true;
  hub->publish("acme/secret", req);
  EXPECT_EQ(hub::version_branches(hub->list_branches("acme/secret")).size(), 1u);
  auto anonymous = open(std::nullopt);
  try {
    anonymous->list_branches("acme/secret");
    FAIL() << "a private repository was listed without a token";
  } catch (const hub::NotFound& e) {
    EXPECT_EQ(e.kind(), hub::NotFound::What::Repository);
    EXPECT_TRUE(contains(e.what(), "HF_TOKEN")) << e.what();
  }
}

TEST_F(HfHubTest, PublisherTrustComesFromTheOrganizationOverview) {
  auto hub = open();
  EXPECT_EQ(hub->publisher_trusted("acme"), std::optional<bool>(true));
  EXPECT_EQ(hub->publisher_trusted("shady"), std::optional<bool>(false));
  EXPECT_THROW(hub->publisher_trusted("nobody"), Error);
  server_.set_org("nobody", true);
  EXPECT_EQ(hub->publisher_trusted("nobody"), std::optional<bool>(true));
}

TEST_F(HfHubTest, PullRequestsLeaveTheBranchAloneAndOnlyTargetExistingBranches) {
  auto hub = open();
  std::string v1 = publish_relu(*hub);
  hub::PublishRequest req{"v1", "m", {add("build/torch-cpu/__init__.py", "PROPOSED = 1\n")}};
  req.create_pr = true;
  auto result = hub->publish("acme/relu", req);
  EXPECT_TRUE(result.pull_request_url.ends_with("/kernels/acme/relu/discussions/1")) << result.pull_request_url;
  EXPECT_EQ(hub->resolve_revision("acme/relu", "v1"), v1);
  EXPECT_EQ(hub->resolve_revision("acme/relu", "refs/pr/1"), result.commit);
  EXPECT_EQ(*hub->read_repo_file("acme/relu", "refs/pr/1", "build/torch-cpu/__init__.py"), "PROPOSED = 1\n");
  req.branch = "v2";
  std::string error = error_of([&] { hub->publish("acme/relu", req); });
  EXPECT_TRUE(contains(error, "pull requests can only target an existing branch: `v2`")) << error;
}

TEST(HfHubSelection, KbHubDefaultsToTheHuggingFaceHubAtHfEndpoint) {
  kb::testing::ScopedEnv endpoint("HF_ENDPOINT", "http://127.0.0.1:9/");
  kb::testing::ScopedEnv hub("KB_HUB", std::nullopt);
  EXPECT_EQ(hub::hf_endpoint(), "http://127.0.0.1:9");
  EXPECT_EQ(hub::open_hub()->describe(), "Hugging Face Hub at http://127.0.0.1:9");
  EXPECT_EQ(hub::open_hub(std::string("hf"))->describe(), "Hugging Face Hub at http://127.0.0.1:9");
}

TEST(HfHubSelection, TokenFromTheEnvironmentElseTheTokenFile) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-token"));
  kb::testing::ScopedEnv a("HF_TOKEN", std::nullopt);
  kb::testing::ScopedEnv b("HUGGING_FACE_HUB_TOKEN", std::nullopt);
  kb::testing::ScopedEnv c("HF_TOKEN_PATH", std::nullopt);
  kb::testing::ScopedEnv d("HF_HOME", tmp.path().string());
  EXPECT_FALSE(hub::hf_token());
  write_file_atomic(tmp.path() / "token", "hf_from_file\n");
  EXPECT_EQ(hub::hf_token(), std::optional<std::string>("hf_from_file"));
  kb::testing::ScopedEnv e("HF_TOKEN", "hf_from_env");
  EXPECT_EQ(hub::hf_token(), std::optional<std::string>("hf_from_env"));
}

TEST_F(HfHubTest, PositiveTrustIsRememberedForAnHourAndNegativeNever) {
  auto hub = open();
  fs::path cache = tmp_.path() / "cache";
  server_.clear_log();
  EXPECT_EQ(hub::publisher_trusted_cached(*hub, "acme", cache), std::optional<bool>(true));
  EXPECT_EQ(hub::publisher_trusted_cached(*hub, "acme", cache), std::optional<bool>(true));
  EXPECT_EQ(requests("/api/organizations/acme/overview").size(), 1u);
  EXPECT_EQ(hub::publisher_trusted_cached(*hub, "shady", cache), std::optional<bool>(false));
  EXPECT_EQ(hub::publisher_trusted_cached(*hub, "shady", cache), std::optional<bool>(false));
  EXPECT_EQ(requests("/api/organizations/shady/overview").size(), 2u);
  // Expired: asked again.
  EXPECT_EQ(hub::publisher_trusted_cached(*hub, "acme", cache, std::chrono::seconds(0)), std::optional<bool>(true));
  EXPECT_EQ(requests("/api/organizations/acme/overview").size(), 2u);
  // Another hub (endpoint) does not share the record.
  auto local = hub::open_local_hub(tmp_.path() / "local");
  EXPECT_EQ(hub::publisher_trusted_cached(*local, "acme", cache), std::nullopt);
  EXPECT_THROW(hub::publisher_trusted_cached(*hub, "../etc", cache), Error);
}

TEST_F(HfHubTest, ALargeFileUploadIsStreamedAgainFromTheStartWhenRetried) {
  auto hub = open();
  // The first storage PUT is dropped without an answer; the retry must send
  // the whole file again from its start, or the hub's sha256 check refuses it.
  server_.fault({{"path", "/_lfs/objects/"}, {"method", "PUT"}, {"kind", "reset"}});
  std::string content(200000, 'z');
  auto result = hub->publish("acme/big", {"v1", "m", {add("build/torch-cpu/_big.abi3.so", content)}});
  auto puts = requests("/_lfs/objects/");
  ASSERT_EQ(puts.size(), 2u);
  auto files = hub->list_tree("acme/big", result.commit, "build/torch-cpu", true);
  ASSERT_EQ(files.size(), 1u);
  ASSERT_TRUE(files[0].lfs_sha256);
  EXPECT_EQ(*files[0].lfs_sha256, to_hex(sha256_bytes(content)));
  EXPECT_EQ(fetch(*hub, "acme/big", result.commit, files[0]), content);
}
