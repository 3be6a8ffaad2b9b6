#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "libkb/resolve/resolve.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

using namespace kb;
using resolve::Environment;
using resolve::TorchFacts;
using variant::Variant;
namespace fs = std::filesystem;

namespace {

using kb::testing::error_of;

TorchFacts torch_facts(const std::string& version, std::optional<std::string> cuda = {}) {
  TorchFacts t;
  t.version = version;
  t.cxx11_abi = true;
  t.cuda = cuda;
  return t;
}

Environment linux_env(const std::string& torch, std::optional<std::string> cuda = {}) {
  return resolve::make_environment("x86_64", "Linux", torch_facts(torch, cuda));
}

std::vector<Variant> variants(const std::vector<std::string>& names) {
  std::vector<Variant> out;
  for (const auto& n : names) out.push_back(Variant::parse(n));
  return out;
}

// The candidate set the existing runtime's tests resolve against.
const std::vector<std::string> kCandidates = {
    "torch210-cxx11-cu128-x86_64-linux", "torch210-cxx11-cu126-x86_64-linux", "torch210-cxx11-cu130-x86_64-linux",
    "torch210-cxx11-rocm70-x86_64-linux", "torch210-cxx11-cpu-x86_64-linux", "torch210-cpu-aarch64-darwin",
    "torch210-metal-aarch64-darwin", "torch-cuda", "torch-cpu"};

std::string best(const Environment& env, const std::vector<std::string>& names = kCandidates) {
  auto r = resolve::resolve(variants(names), env);
  return r.best() ? r.best()->variant.str() : "<none>";
}

std::string reason(const std::string& name, const Environment& env) {
  return resolve::rejection_reason(Variant::parse(name), env).value_or("<accepted>");
}

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "{}";
}

}  // namespace

TEST(ResolveBackend, DetectionFollowsTorchFacts) {
  EXPECT_EQ(resolve::detect_backend(std::nullopt).str(), "cpu");
  EXPECT_EQ(resolve::detect_backend(torch_facts("2.14.1+cu130", "13.0")).str(), "cu130");
  TorchFacts rocm = torch_facts("2.10.0");
  rocm.hip = "6.3.42131-fa1d09cbd";
  EXPECT_EQ(resolve::detect_backend(rocm).str(), "rocm63");
  TorchFacts xpu = torch_facts("2.10.0");
  xpu.xpu = "20250300";
  EXPECT_EQ(resolve::detect_backend(xpu).str(), "xpu20253");
  TorchFacts neuron = torch_facts("2.10.0", "12.8");
  neuron.neuron = true;  // checked before CUDA: the extension loads into CUDA builds
  EXPECT_EQ(resolve::detect_backend(neuron).str(), "neuron");
  TorchFacts mps = torch_facts("2.10.0");
  mps.mps = true;
  EXPECT_EQ(resolve::detect_backend(mps).str(), "metal");
}

TEST(ResolveBackend, OverrideIsCpuOrTheDetectedBackend) {
  auto cuda = resolve::detect_backend(torch_facts("2.10", "12.8"));
  EXPECT_EQ(resolve::select_backend(cuda, "cpu").str(), "cpu");
  EXPECT_EQ(resolve::select_backend(cuda, "cuda").str(), "cu128");
  EXPECT_EQ(resolve::select_backend(cuda, std::nullopt).str(), "cu128");
  EXPECT_EQ(error_of([&] { resolve::select_backend(cuda, "xpu"); }),
            "Invalid backend 'xpu', system supported backends: cpu, cuda");
}

TEST(ResolveEnvironment, TruncatesTorchAndTagsAbiOnLinuxOnly) {
  Environment env = linux_env("1.13.0a0");
  EXPECT_EQ(env.torch->str(), "1.13");
  EXPECT_EQ(env.cxx11_abi, true);
  EXPECT_EQ(env.cpu, "x86_64");
  EXPECT_EQ(env.os, "linux");
  Environment mac = resolve::make_environment("arm64", "Darwin", torch_facts("2.10.1"));
  EXPECT_EQ(mac.cpu, "aarch64");
  EXPECT_FALSE(mac.cxx11_abi.has_value());
  Environment none = resolve::make_environment("x86_64", "Linux", std::nullopt);
  EXPECT_FALSE(none.torch.has_value());
  EXPECT_EQ(none.backend.str(), "cpu");
}

TEST(ResolvePreference, MatchesTheExistingRuntimesExamples) {
  EXPECT_EQ(best(linux_env("2.10", "12.8")), "torch210-cxx11-cu128-x86_64-linux");
  EXPECT_EQ(best(linux_env("2.10", "12.9")), "torch210-cxx11-cu128-x86_64-linux");
  EXPECT_EQ(best(linux_env("2.10", "12.5")), "torch-cuda");
  EXPECT_EQ(best(linux_env("2.10", "11.8")), "torch-cuda");
  EXPECT_EQ(best(linux_env("2.10")), "torch210-cxx11-cpu-x86_64-linux");
  EXPECT_EQ(best(resolve::make_environment("aarch64", "Darwin", torch_facts("2.10"))), "torch210-cpu-aarch64-darwin");
  TorchFacts rocm = torch_facts("2.10");
  rocm.hip = "7.0.1";
  EXPECT_EQ(best(resolve::make_environment("x86_64", "Linux", rocm)), "torch210-cxx11-rocm70-x86_64-linux");
  rocm.version = "2.9";
  EXPECT_EQ(best(resolve::make_environment("x86_64", "Linux", rocm)), "<none>");
  EXPECT_EQ(best(resolve::make_environment("aarch64", "Linux", torch_facts("2.10", "12.8"))), "torch-cuda");
}

TEST(ResolvePreference, MetalNeedsMacos26) {
  TorchFacts mps = torch_facts("2.10");
  mps.mps = true;
  Environment env = resolve::make_environment("arm64", "Darwin", mps);
  std::vector<std::string> names = kCandidates;
  names.push_back("torch-metal");
  env.macos = Version::parse("26.0");
  EXPECT_EQ(best(env, names), "torch210-metal-aarch64-darwin");
  env.macos = Version::parse("15.7");
  EXPECT_EQ(best(env, names), "torch-metal");
  EXPECT_EQ(reason("torch210-metal-aarch64-darwin", env),
            "Metal kernels require macOS 26.0 or later, system macOS version is 15.7");
  env.macos.reset();
  EXPECT_EQ(best(env, names), "torch-metal");
}

TEST(ResolvePreference, StableAbiNewestFirstThenUntaggedThenNoarchThenUniversal) {
  Environment env = linux_env("2.12", "13.0");
  std::vector<std::string> names = {"torch-universal",
                                    "torch-cuda",
                                    "torch212-cxx11-cu130-x86_64-linux",
                                    "torch212-cu130-x86_64-linux",
                                    "torch-stable-abi29-cu130-x86_64-linux",
                                    "torch-stable-abi211-cu130-x86_64-linux",
                                    "torch-stable-abi213-cu130-x86_64-linux"};
  auto r = resolve::resolve(variants(names), env);
  std::vector<std::string> order;
  for (const auto& d : r.trace) order.push_back(d.variant.str() + (d.accepted ? "" : " x"));
  EXPECT_EQ(order, (std::vector<std::string>{"torch-stable-abi211-cu130-x86_64-linux",
                                             "torch-stable-abi29-cu130-x86_64-linux", "torch212-cu130-x86_64-linux",
                                             "torch212-cxx11-cu130-x86_64-linux", "torch-cuda", "torch-universal",
                                             "torch-stable-abi213-cu130-x86_64-linux x"}));
}

TEST(ResolvePreference, HighestCompatibleCudaMinorWins) {
  auto r = resolve::resolve(variants({"torch210-cxx11-cu126-x86_64-linux", "torch210-cxx11-cu128-x86_64-linux"}),
                            linux_env("2.10", "12.9"));
  ASSERT_TRUE(r.best());
  EXPECT_EQ(r.best()->variant.str(), "torch210-cxx11-cu128-x86_64-linux");
  EXPECT_EQ(r.accepted().size(), 2u);
}

TEST(ResolveRejection, EveryReasonReadsAsTheExistingRuntimes) {
  Environment env = linux_env("2.10", "12.8");
  EXPECT_EQ(reason("torch210-cxx11-cu128-aarch64-linux", env), "CPU (aarch64) does not match system CPU (x86_64)");
  EXPECT_EQ(reason("torch210-cpu-x86_64-darwin", env), "OS (darwin) does not match system OS (linux)");
  EXPECT_EQ(reason("torch211-cxx11-cu128-x86_64-linux", env),
            "Torch version (2.11) does not match environment Torch version (2.10)");
  EXPECT_EQ(reason("torch210-cxx98-cu128-x86_64-linux", env),
            "Torch CXX11 ABI (False) does not match environment Torch CXX11 ABI (True)");
  EXPECT_EQ(reason("torch-stable-abi211-cu128-x86_64-linux", env),
            "Torch stable ABI version (2.11) is too new for environment Torch version (2.10)");
  EXPECT_EQ(reason("tvm-ffi01-cu128-x86_64-linux", env),
            "tvm-ffi version (0.1) does not match environment tvm-ffi version (None)");
  EXPECT_EQ(reason("torch210-cxx11-cu130-x86_64-linux", env),
            "CUDA version (13.0) is not compatible with system CUDA version (12.8)");
  EXPECT_EQ(reason("torch210-cxx11-rocm70-x86_64-linux", env),
            "backend (rocm70) does not match selected backend (cu128)");
  EXPECT_EQ(reason("torch-rocm", env), "backend (rocm) does not match system backend (cuda) and is not universal");
  Environment no_torch = resolve::make_environment("x86_64", "Linux", std::nullopt);
  EXPECT_EQ(reason("torch210-cxx11-cpu-x86_64-linux", no_torch),
            "Torch version (2.10) does not match environment Torch version (None)");
  EXPECT_EQ(reason("torch-cpu", no_torch), "<accepted>") << "noarch variants need no torch";
  EXPECT_EQ(reason("torch210-cpu-x86_64-linux", env), "backend (cpu) does not match selected backend (cu128)");
}

TEST(ResolveRejection, FrameworkVersionsPrintMajorDotMinor) {
  Environment env = linux_env("3.0", "13.0");
  EXPECT_EQ(reason("torch-stable-abi-9.0-cuda-13.0-cpython-3.9-abi3-x86_64-linux", env),
            "Torch stable ABI version (9.0) is too new for environment Torch version (3.0)");
  EXPECT_EQ(reason("torch20-cxx11-cu130-x86_64-linux", env),
            "Torch version (2.0) does not match environment Torch version (3.0)");
}

TEST(ResolveRejection, BackendOverrideSelectsCpuVariants) {
  Environment env = resolve::make_environment("x86_64", "Linux", torch_facts("2.10", "12.8"), "cpu");
  EXPECT_EQ(best(env), "torch210-cxx11-cpu-x86_64-linux");
}

TEST(ResolveRejection, FreeThreadedPythonRejectsAbi3IncludingLegacyNames) {
  Environment env = linux_env("2.10");
  env.python = Version::parse("3.14");
  env.free_threaded = true;
  auto r = resolve::resolve(variants(kCandidates), env);
  ASSERT_TRUE(r.best());
  EXPECT_EQ(r.best()->variant.str(), "torch-cpu");
  EXPECT_EQ(r.trace.size(), kCandidates.size()) << "every variant is decided, none dropped";
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(reason("torch210-cxx11-cpu-x86_64-linux", env),
            "abi3 is not supported on free-threaded Python, abi3t is required");
}

// -- the Python ABI of dotted names ------------------------------------------

Environment cuda128_env(const std::string& python, bool free_threaded) {
  Environment env = linux_env("2.10", "12.8");
  env.python = Version::parse(python);
  env.free_threaded = free_threaded;
  return env;
}

std::vector<std::string> accepted_names(const std::vector<std::string>& names, const Environment& env) {
  std::vector<std::string> out;
  for (const Variant& v : resolve::resolve(variants(names), env).accepted()) out.push_back(v.str());
  return out;
}

const std::vector<std::string> kPythonAbiCandidates = {"torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                                       "torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux",
                                                       "torch210-cu128-x86_64-linux", "torch-cuda"};

TEST(ResolvePythonAbi, GilPythonBefore315LoadsOnlyAbi3) {
  for (const char* python : {"3.10", "3.14"}) {
    SCOPED_TRACE(python);
    Environment env = cuda128_env(python, false);
    EXPECT_EQ(accepted_names(kPythonAbiCandidates, env),
              (std::vector<std::string>{"torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                        "torch210-cu128-x86_64-linux", "torch-cuda"}));
    EXPECT_EQ(reason("torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux", env),
              "Python 3.15 or later is required, system Python version is " + std::string(python));
  }
}

TEST(ResolvePythonAbi, GilPythonFrom315LoadsBothPreferringAbi3) {
  Environment env = cuda128_env("3.16", false);
  std::vector<std::string> got = accepted_names(kPythonAbiCandidates, env);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2], "torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux");
  EXPECT_EQ(got[3], "torch-cuda");
}

TEST(ResolvePythonAbi, FreeThreadedPythonLoadsOnlyAbi3t) {
  Environment env = cuda128_env("3.15", true);
  EXPECT_EQ(accepted_names(kPythonAbiCandidates, env),
            (std::vector<std::string>{"torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux", "torch-cuda"}));
  EXPECT_EQ(reason("torch210-cu128-x86_64-linux", env),
            "abi3 is not supported on free-threaded Python, abi3t is required");
  EXPECT_EQ(accepted_names(kPythonAbiCandidates, cuda128_env("3.14", true)), std::vector<std::string>{"torch-cuda"});
}

TEST(ResolvePythonAbi, NewestPythonFirstButNeverAboveTheBackendMinor) {
  const std::vector<std::string> names = {
      "torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux", "torch-2.10-cuda-12.8-cpython-3.12-abi3-x86_64-linux",
      "torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux", "torch-2.10-cuda-12.8-cpython-3.16-abi3t-x86_64-linux",
      "torch-2.10-cuda-12.6-cpython-3.12-abi3-x86_64-linux"};
  auto tags = [&](const Environment& env) {
    std::vector<std::string> out;
    for (const std::string& n : accepted_names(names, env)) out.push_back(n.substr(11, n.size() - 11 - 13));
    return out;
  };
  EXPECT_EQ(tags(cuda128_env("3.11", false)), (std::vector<std::string>{"cuda-12.8-cpython-3.9-abi3"}));
  EXPECT_EQ(tags(cuda128_env("3.16", false)),
            (std::vector<std::string>{"cuda-12.8-cpython-3.12-abi3", "cuda-12.8-cpython-3.9-abi3",
                                      "cuda-12.8-cpython-3.16-abi3t", "cuda-12.8-cpython-3.15-abi3t",
                                      "cuda-12.6-cpython-3.12-abi3"}));
  EXPECT_EQ(reason(names[1], cuda128_env("3.11", false)),
            "Python 3.12 or later is required, system Python version is 3.11");
}

TEST(ResolvePythonAbi, WithoutAPythonOnlyTheGilRuleIsSkipped) {
  Environment env = linux_env("2.10", "12.8");  // a libtorch program: no Python loads the kernel
  EXPECT_EQ(reason("torch-2.10-cuda-12.8-cpython-3.15-abi3t-x86_64-linux", env), "<accepted>");
}

// -- dotted names resolve like legacy ones -------------------------------------

TEST(ResolveDotted, BackendsCompareByValueAndReasonsSpellTheName) {
  Environment env = linux_env("2.10", "12.8");
  EXPECT_EQ(
      best(env,
           {"torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux", "torch-2.10-cuda-12.6-cpython-3.9-abi3-x86_64-linux",
            "torch-2.10-cuda-13.0-cpython-3.9-abi3-x86_64-linux", "torch-2.10-cpu-cpython-3.9-abi3-x86_64-linux"}),
      "torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux");
  EXPECT_EQ(reason("torch-2.10-cuda-13.0-cpython-3.9-abi3-x86_64-linux", env),
            "CUDA version (13.0) is not compatible with system CUDA version (12.8)");
  EXPECT_EQ(reason("torch-2.10-cpu-cpython-3.9-abi3-x86_64-linux", env),
            "backend (cpu) does not match selected backend (cu128)");
  TorchFacts xpu = torch_facts("2.10");
  xpu.xpu = "20250300";
  Environment xenv = resolve::make_environment("x86_64", "Linux", xpu);
  EXPECT_EQ(
      accepted_names({"torch-2.10-xpu-2025.3-cpython-3.9-abi3-x86_64-linux", "torch210-xpu20252-x86_64-linux"}, xenv),
      std::vector<std::string>{"torch-2.10-xpu-2025.3-cpython-3.9-abi3-x86_64-linux"});
  EXPECT_EQ(reason("torch-2.10-xpu-2025.2-cpython-3.9-abi3-x86_64-linux", xenv),
            "backend (xpu-2025.2) does not match selected backend (xpu20253)");
}

// -- ROCm: minor releases are backward compatible, as CUDA's ---------------------

Environment rocm_env(const std::string& hip) {
  TorchFacts t = torch_facts("2.15");
  t.hip = hip;
  return resolve::make_environment("x86_64", "Linux", t);
}

TEST(ResolveRocm, NewestMinorNotAboveTheSystemsSameMajorOnly) {
  const std::vector<std::string> names = {"torch215-cxx11-rocm72-x86_64-linux", "torch215-cxx11-rocm100-x86_64-linux",
                                          "torch215-cxx11-rocm101-x86_64-linux", "torch215-cxx11-rocm102-x86_64-linux"};
  EXPECT_EQ(accepted_names(names, rocm_env("10.1.0")),
            (std::vector<std::string>{"torch215-cxx11-rocm101-x86_64-linux", "torch215-cxx11-rocm100-x86_64-linux"}));
  EXPECT_EQ(accepted_names(names, rocm_env("7.2.1")), std::vector<std::string>{"torch215-cxx11-rocm72-x86_64-linux"});
  EXPECT_EQ(accepted_names(names, rocm_env("10.0.0")), std::vector<std::string>{"torch215-cxx11-rocm100-x86_64-linux"});
  EXPECT_EQ(reason("torch215-cxx11-rocm102-x86_64-linux", rocm_env("10.1.0")),
            "ROCm version (10.2) is not compatible with system ROCm version (10.1)");
  EXPECT_EQ(reason("torch215-cxx11-rocm72-x86_64-linux", rocm_env("10.1.0")),
            "ROCm version (7.2) is not compatible with system ROCm version (10.1)");
  EXPECT_EQ(reason("torch-2.15-cxx11-rocm-7.14-cpython-3.9-abi3-x86_64-linux", rocm_env("7.14.0")), "<accepted>");
  EXPECT_EQ(reason("torch215-cxx11-rocm714-x86_64-linux", rocm_env("7.2.0")),
            "ROCm version (7.14) is not compatible with system ROCm version (7.2)");
}

// -- noarch: cann by its own name, MLX ------------------------------------------

TEST(ResolveNoarch, CannMatchesTorchCannNotNpu) {
  TorchFacts t = torch_facts("2.10");
  t.cann = Version::parse("8.1");
  Environment env = resolve::make_environment("aarch64", "Linux", t);
  EXPECT_EQ(accepted_names({"torch-cann", "torch-npu"}, env), std::vector<std::string>{"torch-cann"});
  EXPECT_EQ(reason("torch-npu", env), "backend (npu) does not match system backend (cann) and is not universal");
}

TEST(ResolveNoarch, MlxNeedsMlxAndTheBackend) {
  Environment env = resolve::make_environment("arm64", "Darwin", std::nullopt);
  env.backend = variant::Compute{variant::ComputeKind::Metal};
  env.macos = Version::parse("26.0");
  EXPECT_EQ(reason("mlx-metal", env), "MLX is not installed in the environment");
  env.mlx = true;
  EXPECT_EQ(accepted_names({"mlx-cuda", "mlx-metal", "mlx-metal-4.0"}, env), std::vector<std::string>{"mlx-metal"});
  EXPECT_EQ(reason("mlx-cuda", env), "backend (cuda) does not match system backend (metal) and is not universal");
}

// -- SDKs ---------------------------------------------------------------------

const std::vector<std::string> kSdkCandidates = {"sdk",
                                                 "sdk-cuda",
                                                 "sdk-cpu",
                                                 "sdk-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                                 "sdk-cuda-12.8-cpython-3.15-abi3t-x86_64-linux",
                                                 "sdk-cuda-12.6-cpython-3.9-abi3-x86_64-linux",
                                                 "sdk-cuda-13.0-cpython-3.9-abi3-x86_64-linux",
                                                 "sdk-cuda-12.8-cpython-3.9-abi3-aarch64-linux",
                                                 "sdk-rocm-6.3-cpython-3.9-abi3-x86_64-linux",
                                                 "sdk-metal-cpython-3.9-abi3-aarch64-darwin",
                                                 "sdk-cpython-3.9-abi3-x86_64-linux",
                                                 "sdk-cpython-3.15-abi3t-x86_64-linux",
                                                 "sdk-cpython-3.9-abi3-aarch64-linux",
                                                 "torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux"};

TEST(ResolveSdk, NeedNoFrameworkAndRankBackendFirstAgnosticLast) {
  Environment env = resolve::make_environment("x86_64", "Linux", std::nullopt);
  env.backend = variant::Compute::parse("cu128");
  env.python = Version::parse("3.15");
  EXPECT_EQ(accepted_names(kSdkCandidates, env),
            (std::vector<std::string>{
                "sdk-cuda-12.8-cpython-3.9-abi3-x86_64-linux", "sdk-cuda-12.8-cpython-3.15-abi3t-x86_64-linux",
                "sdk-cuda-12.6-cpython-3.9-abi3-x86_64-linux", "sdk-cpython-3.9-abi3-x86_64-linux",
                "sdk-cpython-3.15-abi3t-x86_64-linux", "sdk-cuda", "sdk"}));
  EXPECT_EQ(reason("sdk-cpu", env), "backend (cpu) does not match system backend (cuda)");
  EXPECT_EQ(reason("sdk-cuda-13.0-cpython-3.9-abi3-x86_64-linux", env),
            "CUDA version (13.0) is not compatible with system CUDA version (12.8)");
  EXPECT_EQ(reason("sdk-cpython-3.9-abi3-aarch64-linux", env), "CPU (aarch64) does not match system CPU (x86_64)");
  EXPECT_EQ(reason("sdk-rocm-6.3-cpython-3.9-abi3-x86_64-linux", env),
            "backend (rocm-6.3) does not match selected backend (cu128)");
  env.free_threaded = true;
  EXPECT_EQ(accepted_names(kSdkCandidates, env),
            (std::vector<std::string>{"sdk-cuda-12.8-cpython-3.15-abi3t-x86_64-linux",
                                      "sdk-cpython-3.15-abi3t-x86_64-linux", "sdk-cuda", "sdk"}));
}

TEST(ResolveSdk, MetalSdkNeedsMacos26) {
  Environment env = resolve::make_environment("arm64", "Darwin", std::nullopt);
  env.backend = variant::Compute{variant::ComputeKind::Metal};
  env.macos = Version::parse("25.4");
  EXPECT_EQ(reason("sdk-metal-cpython-3.9-abi3-aarch64-darwin", env),
            "Metal kernels require macOS 26.0 or later, system macOS version is 25.4");
  env.macos = Version::parse("26.0");
  EXPECT_EQ(reason("sdk-metal-cpython-3.9-abi3-aarch64-darwin", env), "<accepted>");
}

TEST(ResolvePreference, FrameworksThenSdksThenNoarchThenNameOnlySdks) {
  const std::vector<std::string> expected = {"torch-stable-abi-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                             "torch-2.10-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                             "tvm-ffi-0.1-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                             "sdk-cuda-12.8-cpython-3.9-abi3-x86_64-linux",
                                             "sdk-cpython-3.9-abi3-x86_64-linux",
                                             "torch-cuda",
                                             "torch-universal",
                                             "sdk-cuda",
                                             "sdk"};
  Environment env = linux_env("2.10", "12.8");
  env.tvm_ffi = Version::parse("0.1");
  EXPECT_EQ(accepted_names(std::vector<std::string>(expected.rbegin(), expected.rend()), env), expected);
}

TEST(ResolveTrace, RendersPreferredAcceptedAndRejectedLines) {
  auto r = resolve::resolve(variants({"torch-cpu", "torch210-cxx11-cpu-x86_64-linux", "torch-cuda"}), linux_env("2.10"));
  EXPECT_EQ(resolve::render_trace(r.trace),
            "torch210-cxx11-cpu-x86_64-linux compatible, preferred ✅\n"
            "torch-cpu compatible ✅\n"
            "torch-cuda: backend (cuda) does not match system backend (cpu) and is not universal");
}

TEST(ResolveTrace, ALegacyNameAndItsDottedTwinAreBothPreferred) {
  auto r = resolve::resolve(
      variants({"torch210-cxx11-cpu-x86_64-linux", "torch-2.10-cxx11-cpu-cpython-3.9-abi3-x86_64-linux",
                "torch-2.10-cxx11-cpu-cpython-3.10-abi3-x86_64-linux", "torch-cpu"}),
      linux_env("2.10"));
  EXPECT_EQ(resolve::render_trace(r.trace),
            "torch-2.10-cxx11-cpu-cpython-3.10-abi3-x86_64-linux compatible, preferred ✅\n"
            "torch-2.10-cxx11-cpu-cpython-3.9-abi3-x86_64-linux compatible ✅\n"
            "torch210-cxx11-cpu-x86_64-linux compatible ✅\n"
            "torch-cpu compatible ✅");
  r = resolve::resolve(
      variants({"torch210-cxx11-cpu-x86_64-linux", "torch-2.10-cxx11-cpu-cpython-3.9-abi3-x86_64-linux", "torch-cpu"}),
      linux_env("2.10"));
  EXPECT_EQ(resolve::render_trace(r.trace),
            "torch-2.10-cxx11-cpu-cpython-3.9-abi3-x86_64-linux compatible, preferred ✅\n"
            "torch210-cxx11-cpu-x86_64-linux compatible, preferred ✅\n"
            "torch-cpu compatible ✅");
}

TEST(ResolveTrace, OrderDoesNotDependOnInputOrder) {
  std::vector<std::string> a = {"torch-cpu", "torch-universal", "tvm-ffi01-cpu-x86_64-linux"};
  std::vector<std::string> b(a.rbegin(), a.rend());
  Environment env = linux_env("2.10");
  env.tvm_ffi = Version::parse("0.1");
  EXPECT_EQ(resolve::render_trace(resolve::resolve(variants(a), env).trace),
            resolve::render_trace(resolve::resolve(variants(b), env).trace));
}

TEST(ResolveTvmFfiProgram, OnlyTvmFfiVariantsOfItsVersionAreAccepted) {
  // A program without torch and Python: no torch, noarch or SDK variant can
  // load in it, even those a torch-less Python would accept.
  Environment env = resolve::make_environment("x86_64", "Linux", std::nullopt);
  env.tvm_ffi = Version::parse("0.1");
  env.tvm_ffi_only = true;
  const std::string not_tvm_ffi = "not a tvm-ffi variant (a program without torch and Python loads only tvm-ffi variants)";
  EXPECT_EQ(reason("torch-universal", env), not_tvm_ffi);
  EXPECT_EQ(reason("torch-cpu", env), not_tvm_ffi);
  EXPECT_EQ(reason("torch210-cxx11-cpu-x86_64-linux", env), not_tvm_ffi);
  EXPECT_EQ(reason("tvm-ffi01-cpu-x86_64-linux", env), "<accepted>");
  EXPECT_EQ(reason("tvm-ffi-0.1-cpu-cpython-3.9-abi3-x86_64-linux", env), "<accepted>");
  EXPECT_EQ(reason("tvm-ffi02-cpu-x86_64-linux", env),
            "tvm-ffi version (0.2) does not match environment tvm-ffi version (0.1)");
  EXPECT_EQ(reason("tvm-ffi01-cu128-x86_64-linux", env), "backend (cu128) does not match selected backend (cpu)");
  EXPECT_EQ(best(env, {"torch-universal", "tvm-ffi02-cpu-x86_64-linux", "tvm-ffi01-cpu-x86_64-linux"}),
            "tvm-ffi01-cpu-x86_64-linux");
  EXPECT_EQ(best(env, {"torch-universal", "tvm-ffi02-cpu-x86_64-linux"}), "<none>");
  EXPECT_EQ(env.describe(), "tvm-ffi 0.1, cpu, x86_64-linux");
  // Without the flag (a torch-less Python), noarch variants stay loadable.
  env.tvm_ffi_only = false;
  EXPECT_EQ(reason("torch-universal", env), "<accepted>");
}

TEST(ResolveLocal, AcceptsRepoRootBuildDirAndVariantDir) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-resolve"));
  fs::path root = tmp.path() / "relu";
  touch(root / "build" / "torch210-cxx11-cpu-x86_64-linux" / "metadata.json");
  touch(root / "build" / "torch210-cxx11-cu128-x86_64-linux" / "metadata.json");
  fs::create_directories(root / "build" / "not-a-variant");
  Environment env = linux_env("2.10");
  fs::path want = root / "build" / "torch210-cxx11-cpu-x86_64-linux";
  EXPECT_EQ(resolve::choose_local_variant(root, env).variant_dir, want);
  EXPECT_EQ(resolve::choose_local_variant(root / "build", env).variant_dir, want);
  auto explicit_dir = resolve::choose_local_variant(root / "build" / "torch210-cxx11-cu128-x86_64-linux", env);
  EXPECT_EQ(explicit_dir.variant_dir, root / "build" / "torch210-cxx11-cu128-x86_64-linux");
  EXPECT_FALSE(explicit_dir.variant.has_value());
}

TEST(ResolveLocal, NoCompatibleVariantListsEveryOneWithItsReason) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-resolve"));
  fs::path root = tmp.path() / "relu";
  touch(root / "build" / "torch211-cxx11-cpu-x86_64-linux" / "metadata.json");
  touch(root / "build" / "torch210-cxx11-cu130-x86_64-linux" / "metadata.json");
  std::string m = error_of([&] { resolve::choose_local_variant(root, linux_env("2.10")); });
  EXPECT_EQ(m, "Cannot find a build variant for this system in " + root.string() +
                   " (torch 2.10, cxx11, cpu, x86_64-linux):\n\n"
                   "torch210-cxx11-cu130-x86_64-linux: backend (cu130) does not match selected backend (cpu)\n"
                   "torch211-cxx11-cpu-x86_64-linux: Torch version (2.11) does not match environment Torch "
                   "version (2.10)");
}

TEST(ResolveLocal, MissingAndEmptyPathsAreClearErrors) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-resolve"));
  EXPECT_EQ(error_of([&] { resolve::choose_local_variant(tmp.path() / "nope", linux_env("2.10")); }),
            "Could not find kernel in " + (tmp.path() / "nope").string());
  std::string empty = error_of([&] { resolve::choose_local_variant(tmp.path(), linux_env("2.10")); });
  EXPECT_NE(empty.find("expected a kernel directory with build/"), std::string::npos) << empty;
}

namespace {

Environment cuda_torch_without_device(std::optional<bool> device_available = false,
                                      std::optional<std::string> backend = {}) {
  TorchFacts t = torch_facts("2.10.0+cu128", "12.8");
  t.device_available = device_available;
  return resolve::make_environment("x86_64", "Linux", t, backend);
}

}  // namespace

TEST(ResolveCpuFallback, CudaTorchWithoutDeviceAcceptsCpuAfterCudaVariants) {
  Environment env = cuda_torch_without_device();
  EXPECT_TRUE(env.cpu_fallback);
  auto r = resolve::resolve(variants(kCandidates), env);
  // The CUDA variants still win; CPU ones follow them, arch before noarch.
  ASSERT_NE(r.best(), nullptr);
  EXPECT_EQ(r.best()->variant.str(), "torch210-cxx11-cu128-x86_64-linux");
  std::vector<std::string> accepted;
  for (const auto& v : r.accepted()) accepted.push_back(v.str());
  EXPECT_EQ(accepted, (std::vector<std::string>{"torch210-cxx11-cu128-x86_64-linux", "torch210-cxx11-cu126-x86_64-linux",
                                                "torch-cuda", "torch210-cxx11-cpu-x86_64-linux", "torch-cpu"}));
  // Without any CUDA variant, the CPU one loads, and the trace says why.
  auto only_cpu = resolve::resolve(variants({"torch210-cxx11-cpu-x86_64-linux", "torch210-cxx11-cu130-x86_64-linux"}), env);
  ASSERT_NE(only_cpu.best(), nullptr);
  EXPECT_EQ(only_cpu.best()->variant.str(), "torch210-cxx11-cpu-x86_64-linux");
  EXPECT_EQ(resolve::render_trace(only_cpu.trace),
            "torch210-cxx11-cpu-x86_64-linux compatible, preferred (CPU fallback: torch is built for CUDA (cu128) but "
            "no CUDA device is available) ✅\n"
            "torch210-cxx11-cu130-x86_64-linux: CUDA version (13.0) is not compatible with system CUDA version (12.8)");
}

TEST(ResolveCpuFallback, CpuStillNeedsTheRightTorchAndPlatform) {
  Environment env = cuda_torch_without_device();
  EXPECT_EQ(reason("torch29-cxx11-cpu-x86_64-linux", env),
            "Torch version (2.9) does not match environment Torch version (2.10)");
  EXPECT_EQ(reason("torch210-cpu-aarch64-darwin", env), "CPU (aarch64) does not match system CPU (x86_64)");
  EXPECT_EQ(reason("torch210-cxx11-cpu-x86_64-linux", env), "<accepted>");
}

TEST(ResolveCpuFallback, OnlyWithoutADeviceAndWithoutAnOverride) {
  // A device (or not asking) keeps the existing runtime's rule: CPU variants are rejected.
  for (std::optional<bool> available : {std::optional<bool>(true), std::optional<bool>()}) {
    Environment env = cuda_torch_without_device(available);
    EXPECT_FALSE(env.cpu_fallback);
    EXPECT_EQ(reason("torch210-cxx11-cpu-x86_64-linux", env),
              "backend (cpu) does not match selected backend (cu128)");
  }
  // Naming the backend is a request for it, even without a device.
  Environment cuda = cuda_torch_without_device(false, "cuda");
  EXPECT_FALSE(cuda.cpu_fallback);
  EXPECT_EQ(best(cuda, {"torch210-cxx11-cpu-x86_64-linux"}), "<none>");
  // A CPU torch has nothing to fall back from.
  TorchFacts cpu = torch_facts("2.10.0");
  cpu.device_available = false;
  EXPECT_FALSE(resolve::make_environment("x86_64", "Linux", cpu).cpu_fallback);
}

TEST(ResolveCpuFallback, CudaRuntimeWithoutTorchOrDeviceResolvesForTheCpu) {
  // A Python without torch, on a machine with libcudart 13.0 but no GPU:
  // nothing could run a CUDA build, so the CPU one loads.
  Environment env = resolve::make_cuda_runtime_environment("x86_64", "Linux", Version::parse("13.0"), false);
  env.tvm_ffi = Version::parse("0.1");
  EXPECT_FALSE(env.cpu_fallback);
  EXPECT_EQ(env.backend.str(), "cpu");
  auto r = resolve::resolve(
      variants({"tvm-ffi01-cu130-x86_64-linux", "tvm-ffi01-cpu-x86_64-linux", "torch210-cxx11-cpu-x86_64-linux"}), env);
  ASSERT_NE(r.best(), nullptr);
  EXPECT_EQ(r.best()->variant.str(), "tvm-ffi01-cpu-x86_64-linux");
  EXPECT_EQ(reason("tvm-ffi01-cu130-x86_64-linux", env), "backend (cu130) does not match selected backend (cpu)");
  // Naming the backend still selects the CUDA build.
  Environment cuda = resolve::make_cuda_runtime_environment("x86_64", "Linux", Version::parse("13.0"), false, "cuda");
  EXPECT_EQ(cuda.backend.str(), "cu130");
}

TEST(ResolveCpuFallback, CudaRuntimeWithADeviceOrAnOverrideKeepsTheRule) {
  for (std::optional<bool> available : {std::optional<bool>(true), std::optional<bool>()}) {
    Environment env = resolve::make_cuda_runtime_environment("x86_64", "Linux", Version::parse("12.8"), available);
    EXPECT_FALSE(env.cpu_fallback);
    EXPECT_EQ(reason("torch-cpu", env), "backend (cpu) does not match system backend (cuda) and is not universal");
  }
  Environment cuda = resolve::make_cuda_runtime_environment("x86_64", "Linux", Version::parse("12.8"), false, "cuda");
  EXPECT_FALSE(cuda.cpu_fallback);
  Environment cpu = resolve::make_cuda_runtime_environment("x86_64", "Linux", Version::parse("12.8"), false, "cpu");
  EXPECT_FALSE(cpu.cpu_fallback);
  EXPECT_EQ(cpu.backend.str(), "cpu");
}
