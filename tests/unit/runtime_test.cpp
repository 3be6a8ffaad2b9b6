#include <gtest/gtest.h>

#include <cstdlib>

#include "libkb/runtime/local_kernels.h"
#include "libkb/runtime/python_depends.h"
#include "tests/unit/support.h"

using namespace kb;
using kb::testing::error_of;
using config::Backend;

namespace {

struct ScopedLocalKernels : kb::testing::ScopedEnv {
  explicit ScopedLocalKernels(const char* value) : ScopedEnv("LOCAL_KERNELS", std::string(value)) {}
};

bool nothing_importable(const std::string&) { return false; }
bool everything_importable(const std::string&) { return true; }

}  // namespace

TEST(LocalKernels, ParsesEntriesSplitAtTheFirstEquals) {
  auto map = runtime::parse_local_kernels("org/relu=/k/relu:org/odd=/k/a=b:org/relu=/k/relu2");
  ASSERT_EQ(map.size(), 2u);
  EXPECT_EQ(map.at("org/relu"), "/k/relu2") << "later duplicates win";
  EXPECT_EQ(map.at("org/odd"), "/k/a=b");
}

TEST(LocalKernels, EntryWithoutEqualsIsAnErrorNamingIt) {
  EXPECT_EQ(error_of([] { runtime::parse_local_kernels("org/relu=/k:broken"); }),
            "Invalid LOCAL_KERNELS entry: broken. Expected format: repo_id_1=path_1:repo_id_2=path_2");
  EXPECT_EQ(error_of([] { runtime::parse_local_kernels(""); }),
            "Invalid LOCAL_KERNELS entry: . Expected format: repo_id_1=path_1:repo_id_2=path_2");
}

TEST(LocalKernels, OverrideReadsTheEnvironmentAndRejectsMalformedValuesForAnyRepo) {
  ::unsetenv("LOCAL_KERNELS");
  EXPECT_FALSE(runtime::local_kernel_override("org/relu"));
  {
    ScopedLocalKernels env("org/relu=/k/relu:org/other=/k/other");
    EXPECT_EQ(runtime::local_kernel_override("org/other"), std::filesystem::path("/k/other"));
    EXPECT_FALSE(runtime::local_kernel_override("org/missing"));
  }
  ScopedLocalKernels bad("org/relu");
  EXPECT_NE(error_of([] { runtime::local_kernel_override("org/unrelated"); }).find("Invalid LOCAL_KERNELS entry"),
            std::string::npos);
}

TEST(PythonDepends, UnknownDependencyIsRejected) {
  EXPECT_EQ(error_of([] { runtime::validate_python_depends("relu", {"torch"}, Backend::Cpu, everything_importable); }),
            "Kernel module `relu` uses unsupported kernel dependency: torch");
}

TEST(PythonDepends, MissingPackageNamesThePipPackage) {
  EXPECT_EQ(error_of([] { runtime::validate_python_depends("relu", {"einops"}, Backend::Cpu, nothing_importable); }),
            "Kernel module `relu` requires Python dependency `einops`. Please install with: pip install einops");
  EXPECT_EQ(error_of([] { runtime::validate_python_depends("relu", {"einops"}, Backend::Cpu, everything_importable); }),
            "");
}

TEST(PythonDepends, BackendTablesApplyToTheirBackendOnly) {
  std::vector<std::string> asked;
  auto record = [&](const std::string& name) {
    asked.push_back(name);
    return true;
  };
  runtime::validate_python_depends("k", {"nvidia-cutlass-dsl"}, Backend::Cuda, record);
  EXPECT_EQ(asked, std::vector<std::string>{"cutlass"});
  EXPECT_NE(error_of([] {
              runtime::validate_python_depends("k", {"nvidia-cutlass-dsl"}, Backend::Cpu, everything_importable);
            }).find("unsupported kernel dependency: nvidia-cutlass-dsl"),
            std::string::npos);
  // onednn has no import name: nothing to check.
  runtime::validate_python_depends("k", {"onednn"}, Backend::Xpu, nothing_importable);
}
