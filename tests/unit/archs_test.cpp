#include "libkb/load/archs.h"

#include <gtest/gtest.h>

#include "tests/unit/support.h"

using namespace kb;
using kb::testing::ScopedEnv;
using load::CudaCapability;
using load::DeviceArch;

namespace {

bool supports(std::vector<std::string> archs, CudaCapability capability) {
  return load::cuda_archs_support(archs, capability);
}

metadata::BackendInfo backend(config::Backend type, std::optional<std::vector<std::string>> archs) {
  return {type, std::move(archs)};
}

DeviceArch cuda(long long major, long long minor) { return {CudaCapability{major, minor}, std::nullopt}; }
DeviceArch rocm(std::string gcn) { return {std::nullopt, std::move(gcn)}; }

}  // namespace

TEST(CudaArchs, PlainArchsRunOnTheSameMajorWithTheSameOrANewerMinor) {
  EXPECT_TRUE(supports({"8.0"}, {8, 0}));
  EXPECT_TRUE(supports({"8.0"}, {8, 6}));
  EXPECT_FALSE(supports({"8.6"}, {8, 0}));
  EXPECT_FALSE(supports({"8.0"}, {7, 5}));
  EXPECT_FALSE(supports({"8.0"}, {9, 0}));
  EXPECT_TRUE(supports({"8.0", "9.0"}, {9, 0}));
  EXPECT_TRUE(supports({"12.0"}, {12, 1}));
}

TEST(CudaArchs, ArchSpecificArchsRunOnlyOnTheirCapability) {
  EXPECT_TRUE(supports({"9.0a"}, {9, 0}));
  EXPECT_FALSE(supports({"9.0a"}, {9, 1}));
  EXPECT_FALSE(supports({"9.0a"}, {8, 9}));
  EXPECT_FALSE(supports({"8.0", "9.0a"}, {10, 0}));
}

TEST(CudaArchs, FamilyArchsRunOnTheSameMajorWithTheSameOrANewerMinor) {
  EXPECT_TRUE(supports({"10.0f"}, {10, 0}));
  EXPECT_TRUE(supports({"10.0f"}, {10, 3}));
  EXPECT_FALSE(supports({"10.3f"}, {10, 0}));
  EXPECT_FALSE(supports({"10.0f"}, {12, 0}));
}

TEST(CudaArchs, PtxRunsOnEveryNewerCapabilityButKeepsTheSuffixRules) {
  EXPECT_TRUE(supports({"9.0+PTX"}, {9, 0}));
  EXPECT_TRUE(supports({"9.0+PTX"}, {9, 1}));
  EXPECT_TRUE(supports({"9.0+PTX"}, {10, 0}));
  EXPECT_TRUE(supports({"9.0+PTX"}, {12, 1}));
  EXPECT_FALSE(supports({"9.0+PTX"}, {8, 6}));
  EXPECT_TRUE(supports({"9.0a+PTX"}, {9, 0}));
  EXPECT_FALSE(supports({"9.0a+PTX"}, {10, 0}));
  EXPECT_TRUE(supports({"10.0f+PTX"}, {10, 3}));
  EXPECT_FALSE(supports({"10.0f+PTX"}, {12, 0}));
}

TEST(CudaArchs, UnreadableArchsDoNotCountUnlessNoneCanBeRead) {
  EXPECT_EQ(load::cuda_arch_supports("garbage", {9, 0}), std::nullopt);
  for (const char* unreadable : {"", "9", "9.", ".0", "9.0b", "sm_90", "9.0+ptx", "9.x", "a", "+PTX", "9.0.1"})
    EXPECT_EQ(load::cuda_arch_supports(unreadable, {9, 0}), std::nullopt) << unreadable;
  EXPECT_FALSE(supports({"garbage", "8.0"}, {9, 0}));
  EXPECT_TRUE(supports({"garbage"}, {9, 0}));
  EXPECT_TRUE(supports({"garbage", "sm_80"}, {9, 0}));
  // A number too large to hold still compares as the huge number it is.
  EXPECT_FALSE(supports({"9.99999999999999999999999+PTX"}, {9, 5}));
  EXPECT_TRUE(supports({"9.99999999999999999999999+PTX"}, {10, 0}));
  EXPECT_FALSE(supports({"99999999999999999999999.0+PTX"}, {9, 0}));
}

TEST(ArchIncompatibility, CudaBuildsNameTheCapabilityAndTheirArchs) {
  auto built = backend(config::Backend::Cuda, std::vector<std::string>{"9.0a", "10.0f"});
  EXPECT_EQ(load::arch_incompatibility(built, cuda(8, 6)),
            "CUDA capability 8.6 of the current device is not supported by the architectures of the build: 9.0a, "
            "10.0f");
  EXPECT_EQ(load::arch_incompatibility(built, cuda(9, 0)), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(built, cuda(10, 3)), std::nullopt);
  // No CUDA device (or a ROCm one): nothing to compare.
  EXPECT_EQ(load::arch_incompatibility(built, DeviceArch{}), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx90a")), std::nullopt);
}

TEST(ArchIncompatibility, RocmBuildsMatchTheGcnArchWithoutFeatureFlags) {
  auto built = backend(config::Backend::Rocm, std::vector<std::string>{"gfx90a", "gfx942"});
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx90a")), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx90a:sramecc+:xnack-")), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx942:sramecc+")), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx1100")),
            "ROCm arch gfx1100 of the current device is not supported by the architectures of the build: gfx90a, "
            "gfx942");
  EXPECT_EQ(load::arch_incompatibility(built, rocm("gfx908:xnack+")),
            "ROCm arch gfx908 of the current device is not supported by the architectures of the build: gfx90a, "
            "gfx942");
  // Names are matched exactly: a build for gfx90 is not one for gfx90a.
  EXPECT_TRUE(
      load::arch_incompatibility(backend(config::Backend::Rocm, std::vector<std::string>{"gfx90"}), rocm("gfx90a")));
  EXPECT_EQ(load::arch_incompatibility(built, cuda(9, 0)), std::nullopt);
}

TEST(ArchIncompatibility, BuildsWithoutArchsAndOtherBackendsAreNotChecked) {
  EXPECT_EQ(load::arch_incompatibility(backend(config::Backend::Cuda, std::nullopt), cuda(1, 0)), std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(backend(config::Backend::Cuda, std::vector<std::string>{}), cuda(1, 0)),
            std::nullopt);
  EXPECT_EQ(load::arch_incompatibility(backend(config::Backend::Rocm, std::nullopt), rocm("gfx1100")), std::nullopt);
  // archs on a backend that has none are ignored.
  for (config::Backend other : {config::Backend::Cpu, config::Backend::Metal, config::Backend::Xpu})
    EXPECT_EQ(load::arch_incompatibility(backend(other, std::vector<std::string>{"9.0a"}), cuda(1, 0)), std::nullopt);
  EXPECT_FALSE(load::declares_archs(backend(config::Backend::Cpu, std::vector<std::string>{"9.0a"})));
  EXPECT_TRUE(load::declares_archs(backend(config::Backend::Rocm, std::vector<std::string>{"gfx90a"})));
}

TEST(ArchIncompatibility, TheRefusalNamesKernelVariantReasonAndTheOptOut) {
  EXPECT_EQ(load::arch_refusal_message("relu", "torch29-cxx11-cu128-x86_64-linux", "REASON"),
            "Kernel 'relu' variant 'torch29-cxx11-cu128-x86_64-linux' does not support the current device: REASON. "
            "The declared architectures can be incomplete (e.g. when a kernel has a Triton fallback), pass "
            "`check_arch=False` to skip this check. Warning: the kernel may fail or crash the process at run time "
            "when it does not support the device.");
}

TEST(DeviceArchFacts, CapabilitiesParseAndTheTestVariablesReplaceDetection) {
  EXPECT_EQ(load::parse_cuda_capability("9.0", "x"), (CudaCapability{9, 0}));
  EXPECT_EQ(load::parse_cuda_capability(" 12.1 ", "x"), (CudaCapability{12, 1}));
  for (const char* bad : {"9", "9.0a", "9.0+PTX", "sm_90", ""}) {
    try {
      load::parse_cuda_capability(bad, "KB_TEST_DEVICE_CAPABILITY");
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_TRUE(std::string(e.what()).starts_with("KB_TEST_DEVICE_CAPABILITY: `")) << e.what();
    }
  }
  {
    ScopedEnv no_cap(load::kTestCapabilityVariable, std::nullopt);
    ScopedEnv no_gcn(load::kTestGcnArchVariable, std::nullopt);
    EXPECT_EQ(load::with_test_device(cuda(8, 0)), cuda(8, 0));
    EXPECT_EQ(load::with_test_device(DeviceArch{}), DeviceArch{});
  }
  ScopedEnv cap(load::kTestCapabilityVariable, "9.0");
  ScopedEnv gcn(load::kTestGcnArchVariable, "gfx942:sramecc+");
  DeviceArch faked = load::with_test_device(cuda(8, 0));
  EXPECT_EQ(faked.cuda, (CudaCapability{9, 0}));
  EXPECT_EQ(faked.rocm, "gfx942:sramecc+");
  ScopedEnv bad(load::kTestCapabilityVariable, "nine");
  EXPECT_THROW(load::with_test_device(DeviceArch{}), Error);
}
