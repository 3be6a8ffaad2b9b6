#include <gtest/gtest.h>

#include <algorithm>

#include "libkb/pipeline/plan.h"
#include "libkb/util/error.h"

using namespace kb;
using config::Backend;

namespace {

toolchain::PythonToolchain torch_toolchain(const std::string& version, std::optional<std::string> cuda = {}) {
  toolchain::PythonToolchain t;
  t.python = "/opt/python-" + version + "/bin/python3";
  t.machine = "x86_64";
  t.system = "Linux";
  t.torch.version_raw = version + (cuda ? "+cu" + cuda->substr(0, 2) + "0" : "");
  t.torch.version = leading_version(version);
  t.torch.cxx11_abi = true;
  t.torch.cuda = cuda;
  t.torch.cmake_dir = "/opt/torch/share/cmake/Torch";
  return t;
}

config::KernelComponent component(const std::string& name, Backend backend) {
  config::KernelComponent k;
  k.name = name;
  k.backend = backend;
  k.src = {name + "/kernel.cpp"};
  k.depends = {"torch"};
  return k;
}

config::BuildConfig relu_config(std::vector<Backend> backends) {
  config::BuildConfig c;
  c.general.name = "relu";
  c.general.version = 1;
  c.general.license = "Apache-2.0";
  c.general.backends = backends;
  c.framework = config::Framework::Torch;
  c.torch.src = {"torch-ext/torch_binding.cpp"};
  for (Backend b : backends)
    if (b == Backend::Cpu || b == Backend::Cuda || b == Backend::Rocm)
      c.kernels.push_back(component("relu_" + std::string(config::backend_name(b)), b));
  return c;
}

std::vector<std::string> names(const pipeline::Plan& plan) {
  std::vector<std::string> out;
  for (const auto& v : plan.planned) out.push_back(v.variant);
  return out;
}

const pipeline::SkippedBackend* skipped(const pipeline::Plan& plan, Backend b) {
  for (const auto& s : plan.skipped)
    if (s.backend == b) return &s;
  return nullptr;
}

const toolchain::Nvcc kNvcc13{"/usr/local/cuda/bin/nvcc", Version::parse("13.0"), false};

}  // namespace

TEST(Plan, EveryToolchainBuildsCpuAndItsOwnGpuBackend) {
  auto plan = pipeline::plan_variants(relu_config({Backend::Cpu, Backend::Cuda}), "abc1234",
                                      {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0", "13.0")}, kNvcc13);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"torch113-cxx11-cpu-x86_64-linux", "torch211-cxx11-cpu-x86_64-linux",
                                                   "torch211-cxx11-cu130-x86_64-linux"}));
  EXPECT_TRUE(plan.skipped.empty());
  EXPECT_EQ(plan.planned[2].ops_name, "_relu_cuda_abc1234");
  ASSERT_TRUE(plan.planned[2].nvcc);
  EXPECT_FALSE(plan.planned[0].nvcc);
  EXPECT_FALSE(plan.planned[0].noarch);
}

TEST(Plan, BackendWithoutToolchainIsSkippedWithReason) {
  auto plan = pipeline::plan_variants(relu_config({Backend::Cpu, Backend::Cuda, Backend::Rocm}), "id",
                                      {torch_toolchain("1.13.0a0")}, kNvcc13);
  EXPECT_EQ(names(plan), std::vector<std::string>{"torch113-cxx11-cpu-x86_64-linux"});
  ASSERT_TRUE(skipped(plan, Backend::Cuda));
  EXPECT_NE(skipped(plan, Backend::Cuda)->reason.find("no CUDA build of torch"), std::string::npos);
  ASSERT_TRUE(skipped(plan, Backend::Rocm));
  EXPECT_NE(skipped(plan, Backend::Rocm)->reason.find("ROCm"), std::string::npos);
}

TEST(Plan, CudaNeedsMatchingNvcc) {
  auto config = relu_config({Backend::Cuda});
  auto no_nvcc = pipeline::plan_variants(config, "id", {torch_toolchain("2.11.0", "13.0")}, std::nullopt);
  EXPECT_TRUE(no_nvcc.planned.empty());
  ASSERT_TRUE(skipped(no_nvcc, Backend::Cuda));
  EXPECT_NE(skipped(no_nvcc, Backend::Cuda)->reason.find("nvcc"), std::string::npos);

  toolchain::Nvcc nvcc12{"/usr/bin/nvcc", Version::parse("12.6"), false};
  auto mismatch = pipeline::plan_variants(config, "id", {torch_toolchain("2.11.0", "13.0")}, nvcc12);
  EXPECT_TRUE(mismatch.planned.empty());
  EXPECT_NE(skipped(mismatch, Backend::Cuda)->reason.find("does not match"), std::string::npos);
}

TEST(Plan, NoToolchainsAtAll) {
  auto plan = pipeline::plan_variants(relu_config({Backend::Cpu}), "id", {}, std::nullopt);
  EXPECT_TRUE(plan.planned.empty());
  ASSERT_TRUE(skipped(plan, Backend::Cpu));
  EXPECT_NE(skipped(plan, Backend::Cpu)->reason.find("no Python interpreter with torch"), std::string::npos);
}

TEST(Plan, BackendWithoutComponentIsNoarch) {
  auto config = relu_config({Backend::Cpu});
  config.general.backends.push_back(Backend::Metal);
  auto plan = pipeline::plan_variants(config, "id", {torch_toolchain("1.13.0a0")}, std::nullopt);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"torch113-cxx11-cpu-x86_64-linux", "torch-metal"}));
  EXPECT_TRUE(plan.planned[1].noarch);
  EXPECT_EQ(plan.planned[1].ops_name, "_relu_metal_id");
}

TEST(Plan, TorchNoarchNeedsNoToolchain) {
  config::BuildConfig c;
  c.general.name = "silu-and-mul";
  c.general.backends = {Backend::Cpu, Backend::Cuda};
  c.framework = config::Framework::TorchNoarch;
  auto plan = pipeline::plan_variants(c, "id", {}, std::nullopt);
  EXPECT_EQ(names(plan), (std::vector<std::string>{"torch-cpu", "torch-cuda"}));
  EXPECT_EQ(plan.planned[0].ops_name, "_silu_and_mul_cpu_id");
}

TEST(Plan, TorchBoundsFilterToolchains) {
  auto config = relu_config({Backend::Cpu});
  config.torch.minver = Version::parse("2.0");
  auto plan =
      pipeline::plan_variants(config, "id", {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0")}, std::nullopt);
  EXPECT_EQ(names(plan), std::vector<std::string>{"torch211-cxx11-cpu-x86_64-linux"});

  config.torch.maxver = Version::parse("2.10");
  auto none =
      pipeline::plan_variants(config, "id", {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0")}, std::nullopt);
  EXPECT_TRUE(none.planned.empty());
  ASSERT_TRUE(skipped(none, Backend::Cpu));
  EXPECT_NE(skipped(none, Backend::Cpu)->reason.find("outside build.toml's bounds"), std::string::npos);
}

TEST(Plan, CudaBoundsFilterToolkits) {
  auto config = relu_config({Backend::Cuda});
  config.general.cuda_maxver = Version::parse("12.9");
  auto plan = pipeline::plan_variants(config, "id", {torch_toolchain("2.11.0", "13.0")}, kNvcc13);
  EXPECT_TRUE(plan.planned.empty());
  EXPECT_NE(skipped(plan, Backend::Cuda)->reason.find("CUDA 13"), std::string::npos);
}

TEST(Plan, StableAbiNamesAndBounds) {
  auto config = relu_config({Backend::Cpu});
  config.torch.stable_abi_all = Version::parse("2.11");
  auto plan =
      pipeline::plan_variants(config, "id", {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0")}, std::nullopt);
  EXPECT_EQ(names(plan), std::vector<std::string>{"torch-stable-abi211-cpu-x86_64-linux"});
}

TEST(Plan, StableAbiBuildsWithTheNewestTorch) {
  // One stable-ABI build serves every newer torch: the newest one builds it,
  // whatever the discovery order.
  auto config = relu_config({Backend::Cpu});
  config.torch.stable_abi_all = Version::parse("2.11");
  auto plan = pipeline::plan_variants(
      config, "id", {torch_toolchain("2.11.0"), torch_toolchain("2.14.1"), torch_toolchain("2.12.0")}, std::nullopt);
  ASSERT_EQ(names(plan), std::vector<std::string>{"torch-stable-abi211-cpu-x86_64-linux"});
  EXPECT_EQ(plan.planned[0].toolchain->torch.version_raw, "2.14.1");
}

TEST(Plan, StableAbiNewerThanEveryTorchNamesTheKeyAndTheVersions) {
  auto config = relu_config({Backend::Cpu, Backend::Cuda});
  config.torch.stable_abi_per_backend[Backend::Cpu] = Version::parse("2.11");
  auto plan = pipeline::plan_variants(config, "id", {torch_toolchain("1.13.0a0")}, std::nullopt);
  EXPECT_TRUE(plan.planned.empty());
  ASSERT_TRUE(skipped(plan, Backend::Cpu));
  const std::string& reason = skipped(plan, Backend::Cpu)->reason;
  EXPECT_NE(reason.find("[torch.stable-abi] cpu = \"2.11\" needs torch >= 2.11"), std::string::npos) << reason;
  EXPECT_NE(reason.find("has torch 1.13.0a0"), std::string::npos) << reason;
  EXPECT_NE(reason.find("/opt/python-1.13.0a0/bin/python3"), std::string::npos) << reason;
}

toolchain::PythonToolchain tvm_ffi_toolchain(const std::string& version) {
  toolchain::PythonToolchain t;
  t.python = "/opt/tvm-ffi/bin/python3";
  t.machine = "x86_64";
  t.system = "Linux";
  t.has_torch = false;
  t.tvm_ffi = toolchain::TvmFfiFacts{};
  t.tvm_ffi->version_raw = version;
  t.tvm_ffi->version = leading_version(version);
  t.tvm_ffi->cmake_dir = "/opt/tvm-ffi/share/cmake/tvm_ffi";
  return t;
}

config::BuildConfig tvm_ffi_config(std::vector<Backend> backends) {
  config::BuildConfig c = relu_config(backends);
  c.framework = config::Framework::TvmFfi;
  c.torch = {};
  c.tvm_ffi.src = {"tvm-ffi-ext/binding.cpp"};
  for (auto& k : c.kernels) k.depends = {};
  return c;
}

TEST(Plan, TvmFfiVariantsAreNamedByTvmFfiAndTheCudaCompiler) {
  auto config = tvm_ffi_config({Backend::Cpu, Backend::Cuda});
  auto plan = pipeline::plan_variants(config, "abc1234", {tvm_ffi_toolchain("0.1.15.post2")}, kNvcc13);
  EXPECT_EQ(names(plan),
            (std::vector<std::string>{"tvm-ffi01-cpu-x86_64-linux", "tvm-ffi01-cu130-x86_64-linux"}));
  EXPECT_TRUE(plan.skipped.empty());
  ASSERT_TRUE(plan.planned[1].nvcc);
  EXPECT_EQ(plan.planned[1].ops_name, "_relu_cuda_abc1234");
  // The compile request: the interpreter and tvm-ffi's CMake package, no torch.
  auto e = pipeline::planned_event(plan.planned[1], config, "/k/relu", "/s/project");
  EXPECT_EQ(e["python"], "/opt/tvm-ffi/bin/python3");
  EXPECT_EQ(e["tvm_ffi_version"], "0.1.15.post2");
  EXPECT_EQ(e["cuda_version"], "13.0");
  EXPECT_FALSE(e.contains("torch_version"));
  EXPECT_EQ(e["cmake_args"][0], "-Dtvm_ffi_DIR=/opt/tvm-ffi/share/cmake/tvm_ffi");
}

TEST(Plan, TvmFfiBackendsThatCannotBeBuiltSaySo) {
  auto config = tvm_ffi_config({Backend::Cpu, Backend::Cuda, Backend::Rocm});
  config.general.backends.push_back(Backend::Metal);  // listed, but no [kernel.*] for it
  auto plan = pipeline::plan_variants(config, "id", {tvm_ffi_toolchain("0.1.15")}, std::nullopt);
  EXPECT_EQ(names(plan), std::vector<std::string>{"tvm-ffi01-cpu-x86_64-linux"});
  EXPECT_NE(skipped(plan, Backend::Cuda)->reason.find("no CUDA compiler (nvcc)"), std::string::npos);
  EXPECT_EQ(skipped(plan, Backend::Rocm)->reason, "kb builds tvm-ffi kernels for cpu and cuda, not rocm");
  EXPECT_NE(skipped(plan, Backend::Metal)->reason.find("no [kernel.*] with backend = \"metal\""), std::string::npos);
  auto none = pipeline::plan_variants(config, "id", {}, std::nullopt);
  EXPECT_EQ(skipped(none, Backend::Cpu)->reason, "no Python interpreter with tvm_ffi found");
}

TEST(Plan, FiltersByVariantAndBackend) {
  auto config = relu_config({Backend::Cpu, Backend::Cuda});
  std::vector<toolchain::PythonToolchain> tcs = {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0", "13.0")};
  auto only_cuda = pipeline::plan_variants(config, "id", tcs, kNvcc13, {.backends = {Backend::Cuda}});
  EXPECT_EQ(names(only_cuda), std::vector<std::string>{"torch211-cxx11-cu130-x86_64-linux"});
  auto one = pipeline::plan_variants(config, "id", tcs, kNvcc13, {.variants = {"torch211-cxx11-cpu-x86_64-linux"}});
  EXPECT_EQ(names(one), std::vector<std::string>{"torch211-cxx11-cpu-x86_64-linux"});
}

TEST(Plan, EventsCarryWhatCompileNeeds) {
  auto config = relu_config({Backend::Cuda});
  auto plan = pipeline::plan_variants(config, "id", {torch_toolchain("2.11.0", "13.0")}, kNvcc13);
  ASSERT_EQ(plan.planned.size(), 1u);
  auto e = pipeline::planned_event(plan.planned[0], config, "/k/relu", "/k/relu");
  EXPECT_EQ(e["event"], "variant-planned");
  EXPECT_EQ(e["kind"], "arch");
  EXPECT_EQ(e["module"], "relu");
  EXPECT_EQ(e["python"], "/opt/python-2.11.0/bin/python3");
  EXPECT_EQ(e["nvcc"], "/usr/local/cuda/bin/nvcc");
  EXPECT_EQ(e["cmake_args"][0], "-DTorch_DIR=/opt/torch/share/cmake/Torch");
  auto s = pipeline::skipped_event({Backend::Rocm, "no ROCm", ""});
  EXPECT_EQ(s["event"], "variant-skipped");
  EXPECT_EQ(s["backend"], "rocm");
}

TEST(Plan, VariantFilterSelectsAndExplainsWhatItLeftOut) {
  pipeline::PlanFilter filter;
  filter.variants = {"torch211-cxx11-cu130-x86_64-linux"};
  auto plan =
      pipeline::plan_variants(relu_config({Backend::Cpu, Backend::Cuda}), "id",
                              {torch_toolchain("1.13.0a0"), torch_toolchain("2.11.0", "13.0")}, kNvcc13, filter);
  EXPECT_EQ(names(plan), std::vector<std::string>{"torch211-cxx11-cu130-x86_64-linux"});
  ASSERT_TRUE(skipped(plan, Backend::Cpu));
  EXPECT_NE(skipped(plan, Backend::Cpu)->reason.find("torch113-cxx11-cpu-x86_64-linux: not selected by --variant"),
            std::string::npos);
}

TEST(Plan, UnknownVariantInFilterIsAnErrorListingWhatCanBeBuilt) {
  pipeline::PlanFilter filter;
  filter.variants = {"torch999-cxx11-cpu-x86_64-linux"};
  try {
    pipeline::plan_variants(relu_config({Backend::Cpu}), "id", {torch_toolchain("1.13.0a0")}, std::nullopt, filter);
    FAIL() << "an unknown --variant must be rejected";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "--variant torch999-cxx11-cpu-x86_64-linux is not a variant this machine can build "
              "(it builds: torch113-cxx11-cpu-x86_64-linux)");
  }
}
