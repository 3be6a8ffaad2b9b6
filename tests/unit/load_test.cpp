#include "libkb/load/load.h"

#include <gtest/gtest.h>

#include <fstream>

#include "libkb/util/fs.h"
#include "tests/unit/hub_server.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::ScopedEnv;
using load::ErrorKind;
using load::LoadError;

namespace {

resolve::Environment cpu_env() {
  resolve::TorchFacts t;
  t.version = "2.10.0";
  t.cxx11_abi = true;
  return resolve::make_environment("x86_64", "Linux", t);
}

load::Context context(const fs::path& cache) {
  load::Context ctx = load::make_context(cpu_env(), config::Backend::Cpu);
  ctx.cache_root = cache;
  ctx.local_files_only = false;
  return ctx;
}

// The kind and message of what `f` throws.
std::pair<ErrorKind, std::string> load_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const LoadError& e) {
    return {e.kind(), e.what()};
  }
  ADD_FAILURE() << "no LoadError";
  return {ErrorKind::InvalidArgument, ""};
}

std::string metadata_json(const std::vector<std::string>& depends) {
  std::string list;
  for (const auto& d : depends) list += (list.empty() ? "\"" : ", \"") + d + "\"";
  return R"({"name": "dep-test", "id": "_dep_test_cpu_1234567", "version": 1, "license": "MIT", "python-depends": [)" +
         list + R"(], "backend": {"type": "cpu"}})";
}

class LoadTest : public ::testing::Test {
 protected:
  LoadTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-load")) {}

  fs::path variant(const std::vector<std::string>& depends) {
    fs::path dir = tmp_.path() / "kernel" / "build" / "torch-universal";
    fs::create_directories(dir);
    std::ofstream(dir / "metadata.json") << metadata_json(depends);
    std::ofstream(dir / "__init__.py") << "VALUE = 1\n";
    return dir;
  }

  TempDirGuard tmp_;
  ScopedEnv no_local_{"LOCAL_KERNELS", std::nullopt};
  ScopedEnv no_offline_{"HF_HUB_OFFLINE", std::nullopt};
};

}  // namespace

TEST_F(LoadTest, RevisionAndVersionRulesKeepTheExistingMessages) {
  load::Context ctx = context(tmp_.path() / "cache");
  std::vector<load::Warning> warnings;
  EXPECT_EQ(load_error([&] { load::select_revision("org/k", "main", 1, ctx, warnings); }),
            std::make_pair(ErrorKind::InvalidArgument, std::string("Only one of `revision` or `version` must be specified.")));
  auto [kind, message] = load_error([&] { load::select_revision("org/k", std::nullopt, std::nullopt, ctx, warnings); });
  EXPECT_EQ(kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(message.starts_with("A kernel version or revision must be specified.")) << message;
  EXPECT_EQ(load::select_revision("org/k", "some-branch", std::nullopt, ctx, warnings), "some-branch");
  EXPECT_TRUE(warnings.empty());
}

TEST_F(LoadTest, LocalKernelsAndPythonDependsFailWithTheirKinds) {
  load::Context ctx = context(tmp_.path() / "cache");
  {
    ScopedEnv bad("LOCAL_KERNELS", "org/k=/x:broken");
    EXPECT_EQ(load_error([&] { load::locate({"org/other", std::nullopt, 1, {}}, ctx); }).first,
              ErrorKind::InvalidArgument);
  }
  variant({"einops"});
  ScopedEnv local("LOCAL_KERNELS", "org/k=" + (tmp_.path() / "kernel").string());
  // Without an importability check (a C++ program) python-depends are not asked.
  load::Located found = load::locate({"org/k", std::nullopt, std::nullopt, {}}, ctx);
  EXPECT_EQ(found.variant_dir.filename(), "torch-universal");
  EXPECT_FALSE(found.repo_info.has_value());
  std::vector<std::string> asked;
  ctx.importable = [&](const std::string& name) {
    asked.push_back(name);
    return false;
  };
  EXPECT_EQ(load_error([&] { load::locate({"org/k", std::nullopt, std::nullopt, {}}, ctx); }),
            std::make_pair(ErrorKind::MissingDependency,
                           std::string("Kernel module `dep_test` requires Python dependency `einops`. Please install "
                                       "with: pip install einops")));
  EXPECT_EQ(asked, std::vector<std::string>{"einops"});
  variant({"no-such-dependency"});
  EXPECT_EQ(load_error([&] { load::locate_local(tmp_.path() / "kernel", ctx); }),
            std::make_pair(ErrorKind::InvalidArgument,
                           std::string("Kernel module `dep_test` uses unsupported kernel dependency: no-such-dependency")));
  EXPECT_EQ(load_error([&] { load::locate_local(tmp_.path() / "missing", ctx); }).first, ErrorKind::NotFound);
}

TEST_F(LoadTest, TrustFollowsTheHubsPublishersAndIsRememberedPerProcess) {
  kb::testing::HubServer server(tmp_.path() / "hub", {"--trusted-org", "good", "--org", "shady"});
  ScopedEnv endpoint("HF_ENDPOINT", server.url());
  ScopedEnv hub("KB_HUB", std::nullopt);
  load::Context ctx = context(tmp_.path() / "cache");
  std::vector<load::Warning> warnings;
  EXPECT_EQ(load_error([&] { load::check_trust("shady/k", {}, ctx, warnings); }),
            std::make_pair(ErrorKind::InvalidArgument,
                           std::string("Kernel repository 'shady/k' is not from a trusted publisher. Set "
                                       "trust_remote_code=True to allow loading kernels from untrusted sources.")));
  auto [kind, message] = load_error([&] { load::check_trust("nobody/k", {}, ctx, warnings); });
  EXPECT_TRUE(message.starts_with("Kernel repository 'nobody/k' could not verify publisher trust status.")) << message;
  load::check_trust("good/k", {}, ctx, warnings);
  load::check_trust("shady/k", {.all = true}, ctx, warnings);
  EXPECT_TRUE(warnings.empty());
  // Asked once: the second check is answered in process.
  server.clear_log();
  load::check_trust("good/other", {}, ctx, warnings);
  EXPECT_TRUE(server.log().empty()) << server.log().dump();

  load::check_trust("good/k", {.identities = std::vector<std::string>{"someone@example.com"}}, ctx, warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(warnings[0].message.starts_with("Signing identity verification is not yet implemented."));
  warnings.clear();
  ctx.local_files_only = true;
  load::check_trust("shady/k", {}, ctx, warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].message,
            "Skipping publisher trust check for 'shady/k' because Hugging Face Hub is in offline mode.");
}
