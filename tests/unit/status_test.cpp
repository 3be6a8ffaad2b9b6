// kernel-status.toml: parsing with the existing runtime's messages, and the
// one-hop redirect of an install.
#include <gtest/gtest.h>

#include <fstream>

#include "libkb/fetch/install.h"
#include "libkb/hub/status.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

TEST(KernelStatus, ParsesRedirectsWithMainAsTheDefaultRevision) {
  auto r = hub::parse_kernel_status("kind = \"redirect\"\ndestination = \"acme/new\"\n");
  EXPECT_EQ(r.destination, "acme/new");
  EXPECT_EQ(r.revision, "main");
  EXPECT_EQ(hub::parse_kernel_status("kind = \"redirect\"\ndestination = \"a/b\"\nrevision = \"v2\"\n").revision, "v2");
}

TEST(KernelStatus, MalformedFilesGiveTheExistingMessages) {
  EXPECT_EQ(error_of([] { hub::parse_kernel_status("destination = \"a/b\"\n"); }),
            "kernel-status.toml must contain a 'kind' field");
  EXPECT_EQ(error_of([] { hub::parse_kernel_status("kind = \"\"\n"); }), "kernel-status.toml must contain a 'kind' field");
  EXPECT_EQ(error_of([] { hub::parse_kernel_status("kind = \"retired\"\n"); }), "Unknown kernel status kind: 'retired'");
  EXPECT_EQ(error_of([] { hub::parse_kernel_status("kind = \"redirect\"\n"); }),
            "kernel-status.toml must contain a 'destination' field");
  EXPECT_TRUE(contains(error_of([] { hub::parse_kernel_status("kind = \n"); }), "kernel-status.toml:1:"));
}

namespace {

class RedirectTest : public ::testing::Test {
 protected:
  RedirectTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-status")), hub_(hub::open_local_hub(tmp_.path() / "hub")) {}

  hub::FileOperation add(const std::string& path, const std::string& content) {
    fs::path p = tmp_.path() / "src" / std::to_string(counter_++) / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return {hub::FileOperation::Kind::Add, path, p};
  }

  fetch::InstallRequest request(const std::string& repo, const std::string& revision) {
    return {repo, revision, resolve::make_environment("x86_64", "Linux", std::nullopt), tmp_.path() / "cache", false, 2};
  }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> hub_;
  int counter_ = 0;
};

}  // namespace

TEST_F(RedirectTest, AnInstallFollowsOneRedirectAndWarns) {
  hub_->publish("acme/new", {"main", "m", {add("build/torch-cpu/__init__.py", "NEW = 1\n")}});
  hub_->publish("acme/old", {"v1", "m", {add("kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/new\"\n"),
                                         add("build/torch-cpu/__init__.py", "OLD = 1\n")}});
  auto installed = fetch::install_variant(*hub_, request("acme/old", "v1"));
  EXPECT_EQ(installed.repo_id, "acme/new");
  EXPECT_EQ(fs::path(installed.variant_dir).parent_path().parent_path().parent_path().parent_path().filename(),
            "kernels--acme--new");
  EXPECT_EQ(read_file(installed.variant_dir / "__init__.py"), "NEW = 1\n");
  ASSERT_EQ(installed.warnings.size(), 1u);
  EXPECT_EQ(installed.warnings[0], "'acme/old' redirected to 'acme/new'");
  // Recorded with the commit: a second install of that commit reads no status again.
  auto again = fetch::install_variant(*hub_, request("acme/old", hub_->resolve_revision("acme/old", "v1")));
  EXPECT_EQ(again.repo_id, "acme/new");
}

TEST_F(RedirectTest, OnlyOneHopIsFollowedAndAMalformedStatusIsAnError) {
  hub_->publish("acme/c", {"main", "m", {add("build/torch-cpu/__init__.py", "C = 1\n")}});
  hub_->publish("acme/b", {"main", "m", {add("kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/c\"\n"),
                                         add("build/torch-cpu/__init__.py", "B = 1\n")}});
  hub_->publish("acme/a", {"main", "m", {add("kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/b\"\n")}});
  auto installed = fetch::install_variant(*hub_, request("acme/a", "main"));
  EXPECT_EQ(installed.repo_id, "acme/b");
  EXPECT_EQ(read_file(installed.variant_dir / "__init__.py"), "B = 1\n");
  hub_->publish("acme/bad", {"main", "m", {add("kernel-status.toml", "kind = \"gone\"\n")}});
  EXPECT_EQ(error_of([&] { fetch::install_variant(*hub_, request("acme/bad", "main")); }),
            "Unknown kernel status kind: 'gone'");
}
