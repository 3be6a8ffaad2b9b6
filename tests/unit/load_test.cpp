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

  fs::path tmp_path_hub() { return tmp_.path() / "hub"; }

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
                                       "trust_remote_code=True or add the repository ID to the trust_remote_code "
                                       "allowlist to allow loading kernels from untrusted sources.")));
  auto [kind, message] = load_error([&] { load::check_trust("nobody/k", {}, ctx, warnings); });
  EXPECT_TRUE(message.starts_with("Kernel repository 'nobody/k' could not verify publisher trust status.")) << message;
  load::check_trust("good/k", {}, ctx, warnings);
  load::check_trust("shady/k", {.all = true}, ctx, warnings);
  EXPECT_TRUE(warnings.empty());
  // Asked once: the second check is answered in process.
  server.clear_log();
  load::check_trust("good/other", {}, ctx, warnings);
  EXPECT_TRUE(server.log().empty()) << server.log().dump();

  ctx.local_files_only = true;
  load::check_trust("shady/k", {}, ctx, warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].message,
            "Skipping publisher trust check for 'shady/k' because Hugging Face Hub is in offline mode.");
}

TEST_F(LoadTest, TrustRemoteCodeListsRepositoriesTrustedBesidesTrustedPublishers) {
  kb::testing::HubServer server(tmp_path_hub(), {"--trusted-org", "good", "--org", "shady"});
  ScopedEnv endpoint("HF_ENDPOINT", server.url());
  ScopedEnv hub("KB_HUB", std::nullopt);
  load::Context ctx = context(tmp_.path() / "cache");
  std::vector<load::Warning> warnings;
  load::Trust listed{.repos = {"shady/listed", "nobody/listed"}};
  // Listed repositories are loaded without asking the hub, even from an
  // organisation it does not know.
  server.clear_log();
  load::check_trust("shady/listed", listed, ctx, warnings);
  load::check_trust("nobody/listed", listed, ctx, warnings);
  EXPECT_TRUE(server.log().empty()) << server.log().dump();
  // Ids are matched exactly; others of the same organisation are not listed.
  for (const char* unlisted : {"shady/other", "shady/LISTED", "shady"})
    EXPECT_TRUE(load_error([&] { load::check_trust(unlisted, listed, ctx, warnings); })
                    .second.find("is not from a trusted publisher. Set trust_remote_code=True or add the repository "
                                 "ID to the trust_remote_code allowlist") != std::string::npos)
        << unlisted;
  EXPECT_TRUE(load_error([&] { load::check_trust("nobody/other", listed, ctx, warnings); })
                  .second.starts_with("Kernel repository 'nobody/other' could not verify publisher trust status. Set "
                                      "trust_remote_code=True or add the repository ID to the trust_remote_code "
                                      "allowlist"));
  // A trusted publisher needs no list entry.
  load::check_trust("good/k", listed, ctx, warnings);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(LoadTest, ARefusedTokenIsUnauthorizedWithALoginHint) {
  kb::testing::HubServer server(tmp_path_hub(), {"--token", "right", "--trusted-org", "good"});
  ScopedEnv endpoint("HF_ENDPOINT", server.url());
  ScopedEnv hub("KB_HUB", std::nullopt);
  ScopedEnv token("HF_TOKEN", "wrong");
  load::Context ctx = context(tmp_.path() / "cache");
  std::vector<load::Warning> warnings;
  for (const load::Trust& trust : {load::Trust{}, load::Trust{.repos = {"other/k"}}}) {
    auto [kind, message] = load_error([&] { load::check_trust("good/k", trust, ctx, warnings); });
    EXPECT_EQ(kind, ErrorKind::Unauthorized);
    EXPECT_TRUE(contains(message, "HTTP 401")) << message;
    EXPECT_TRUE(contains(message,
                         "Hugging Face Hub authentication failed while checking the publisher of kernel "
                         "repository 'good/k'. Your token may be invalid or expired. Run `hf auth login` to "
                         "log in again. If `HF_TOKEN` is set, update or unset it."))
        << message;
    EXPECT_FALSE(contains(message, "trust_remote_code")) << message;
  }
  // The list is consulted before the hub.
  load::check_trust("good/k", {.repos = {"good/k"}}, ctx, warnings);
}

TEST_F(LoadTest, BuildsWhoseArchsCannotRunOnTheDeviceAreRefusedUnlessTheCheckIsOff) {
  ScopedEnv no_cap(load::kTestCapabilityVariable, std::nullopt);
  ScopedEnv no_gcn(load::kTestGcnArchVariable, std::nullopt);
  fs::path dir = variant({});
  std::ofstream(dir / "metadata.json") << R"({"name": "arch-test", "id": "_arch_test_cuda_1234567", "version": 1,
    "license": "MIT", "python-depends": [], "backend": {"type": "cuda", "archs": ["9.0a", "10.0f"]}})";
  load::Context ctx = context(tmp_.path() / "cache");
  int asked = 0;
  load::DeviceArch device{load::CudaCapability{8, 6}, std::nullopt};
  ctx.device = [&] {
    ++asked;
    return device;
  };
  auto [kind, message] = load_error([&] { load::locate_local(tmp_.path() / "kernel", ctx); });
  EXPECT_EQ(kind, ErrorKind::Incompatible);
  EXPECT_EQ(message, load::arch_refusal_message("arch-test", "torch-universal",
                                                "CUDA capability 8.6 of the current device is not supported by the "
                                                "architectures of the build: 9.0a, 10.0f"));
  EXPECT_EQ(asked, 1);
  device.cuda = load::CudaCapability{10, 3};
  EXPECT_EQ(load::locate_local(tmp_.path() / "kernel", ctx).variant_dir.filename(), "torch-universal");
  // LOCAL_KERNELS loads go through the same check.
  device.cuda = load::CudaCapability{12, 0};
  ScopedEnv local("LOCAL_KERNELS", "org/k=" + (tmp_.path() / "kernel").string());
  load::Request mapped{"org/k", std::nullopt, std::nullopt, {}};
  EXPECT_EQ(load_error([&] { load::locate(mapped, ctx); }).first, ErrorKind::Incompatible);
  // check_arch=False: loaded, and the device is not even asked.
  ctx.check_arch = false;
  asked = 0;
  EXPECT_NO_THROW(load::locate_local(tmp_.path() / "kernel", ctx));
  EXPECT_EQ(asked, 0);
  // A C++ program that names no device: only the test variable can fake one.
  ctx.check_arch = true;
  ctx.device = nullptr;
  EXPECT_NO_THROW(load::locate_local(tmp_.path() / "kernel", ctx));
  ScopedEnv fake(load::kTestCapabilityVariable, "9.1");
  EXPECT_TRUE(contains(load_error([&] { load::locate_local(tmp_.path() / "kernel", ctx); }).second,
                       "CUDA capability 9.1 of the current device is not supported"));
  // A CPU build is never checked, and never asks for the device.
  variant({});
  ctx.device = [&]() -> load::DeviceArch {
    ADD_FAILURE() << "device asked for a CPU build";
    return {};
  };
  EXPECT_NO_THROW(load::locate_local(tmp_.path() / "kernel", ctx));
}

namespace {

TEST(RuntimeUserAgent, NamesTheCallerTheRuntimeAndTheEnvironmentUnlessTelemetryIsOff) {
  resolve::Environment env = resolve::make_environment("x86_64", "Linux", std::nullopt);
  ScopedEnv telemetry("HF_HUB_DISABLE_TELEMETRY", std::nullopt);
  EXPECT_EQ(load::runtime_user_agent("app/2", "kb-runtime-tvm-ffi/0.1.0", env, {"tvm-ffi/0.1.15"}),
            "app/2; kb-runtime-tvm-ffi/0.1.0; backend/cpu; platform/x86_64-linux; file_type/kernel; tvm-ffi/0.1.15");
  EXPECT_EQ(load::runtime_user_agent("", "kb-runtime/0.1.0", env, {}),
            "kb-runtime/0.1.0; backend/cpu; platform/x86_64-linux; file_type/kernel");
  for (const char* off : {"1", "ON", "yes", "True"}) {
    ScopedEnv disabled("HF_HUB_DISABLE_TELEMETRY", off);
    EXPECT_EQ(load::runtime_user_agent("app/2", "kb-runtime/0.1.0", env, {"torch/2.14.1"}), "kb-runtime/0.1.0");
  }
}

}  // namespace
