#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "libkb/toolchain/toolchain.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::toolchain;
using config::Backend;

namespace {

using kb::testing::ScopedEnv;

bool debian_torch_available() { return fs::exists("/usr/bin/python3") && fs::exists("/usr/lib/python3/dist-packages/torch"); }

class ToolchainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(fs::temp_directory_path(), "kb-toolchain-test");
    cache_ = dir_ / "cache" / "toolchains.json";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Options that look only at the given interpreters, with a private cache.
  DiscoveryOptions only(std::vector<fs::path> pythons) const {
    DiscoveryOptions o;
    o.pythons = std::move(pythons);
    o.use_env = false;
    o.use_path = false;
    o.use_defaults = false;
    o.cache_file = cache_;
    return o;
  }

  // A script that records each start in `counter` and then runs `target`.
  fs::path counting_wrapper(const std::string& name, const std::string& target, const std::string& extra_args = "") {
    fs::path script = dir_ / name;
    write_file_atomic(script,
                      "#!/bin/sh\necho started >> '" + counter(name).string() + "'\nexec " + target + " " +
                          extra_args + " \"$@\"\n",
                      true);
    return script;
  }
  fs::path counter(const std::string& name) const { return dir_ / (name + ".count"); }
  int starts(const std::string& name) const {
    if (!fs::exists(counter(name))) return 0;
    return static_cast<int>(split(trim(read_file(counter(name))), '\n').size());
  }
  static void bump_mtime(const fs::path& p) {
    fs::last_write_time(p, fs::last_write_time(p) + std::chrono::seconds(5));
  }

  fs::path dir_;
  fs::path cache_;
};

// Hand-made facts of the interpreters the naming rules are about.
PythonToolchain synthetic(const std::string& torch_version, std::optional<std::string> cuda = std::nullopt,
                          const std::string& machine = "x86_64", const std::string& system = "Linux") {
  PythonToolchain t;
  t.python = "/opt/python/bin/python3";
  t.python_version = "3.11.2";
  t.machine = machine;
  t.system = system;
  t.torch.version_raw = torch_version;
  t.torch.version = leading_version(torch_version);
  t.torch.cxx11_abi = true;
  t.torch.cuda = std::move(cuda);
  return t;
}

config::BuildConfig kernel_with(std::vector<Backend> component_backends) {
  config::BuildConfig c;
  c.general.name = "relu";
  c.framework = config::Framework::Torch;
  for (size_t i = 0; i < component_backends.size(); ++i) {
    config::KernelComponent k;
    k.name = "relu_" + std::to_string(i);
    k.backend = component_backends[i];
    c.kernels.push_back(k);
  }
  return c;
}

}  // namespace

TEST(ToolchainNaming, DebianCpuTorch) {
  auto debian = synthetic("1.13.0a0");
  EXPECT_EQ(debian.native_backend(), Backend::Cpu);
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Cpu}), Backend::Cpu, debian).str(),
            "torch113-cxx11-cpu-x86_64-linux");
  debian.torch.cxx11_abi = false;
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Cpu}), Backend::Cpu, debian).str(),
            "torch113-cxx98-cpu-x86_64-linux");
}

TEST(ToolchainNaming, CudaTorchTakesCudaFromTorchOrToolkit) {
  auto cuda = synthetic("2.11.0+cu130", "13.0");
  EXPECT_EQ(cuda.native_backend(), Backend::Cuda);
  auto config = kernel_with({Backend::Cuda, Backend::Cpu});
  EXPECT_EQ(variant_for_build(config, Backend::Cuda, cuda).str(), "torch211-cxx11-cu130-x86_64-linux");
  VariantInputs toolkit;
  toolkit.cuda_toolkit = Version::parse("13.2.1");
  EXPECT_EQ(variant_for_build(config, Backend::Cuda, cuda, toolkit).str(), "torch211-cxx11-cu132-x86_64-linux");
  // A CUDA build of torch can build the CPU components too.
  EXPECT_EQ(variant_for_build(config, Backend::Cpu, cuda).str(), "torch211-cxx11-cpu-x86_64-linux");
  auto one_component = synthetic("2.12.0", "12");
  EXPECT_EQ(compute_for_build(Backend::Cuda, one_component).str(), "cu120");
}

TEST(ToolchainNaming, StableAbiNoarchAndTvmFfi) {
  auto cuda = synthetic("2.12.1+cu130", "13.0");
  auto config = kernel_with({Backend::Cuda});
  config.torch.stable_abi_per_backend[Backend::Cuda] = Version::parse("2.11");
  EXPECT_EQ(variant_for_build(config, Backend::Cuda, cuda).str(), "torch-stable-abi211-cu130-x86_64-linux");
  // No component for cpu: the cpu build is noarch.
  EXPECT_EQ(variant_for_build(config, Backend::Cpu, cuda).str(), "torch-cpu");

  config::BuildConfig noarch;
  noarch.general.name = "triton-relu";
  noarch.framework = config::Framework::TorchNoarch;
  EXPECT_EQ(variant_for_build(noarch, Backend::Cuda, cuda).str(), "torch-cuda");
  EXPECT_EQ(variant_for_build(noarch, Backend::Xpu, synthetic("1.13.0a0")).str(), "torch-xpu");

  auto tvm = kernel_with({Backend::Cuda});
  tvm.framework = config::Framework::TvmFfi;
  VariantInputs inputs;
  inputs.tvm_ffi = Version::parse("0.1.3");
  inputs.cuda_toolkit = Version::parse("13.0");
  EXPECT_EQ(variant_for_build(tvm, Backend::Cuda, cuda, inputs).str(), "tvm-ffi01-cu130-x86_64-linux");
  inputs.tvm_ffi.reset();
  EXPECT_THROW(variant_for_build(tvm, Backend::Cuda, cuda, inputs), Error);
}

TEST(ToolchainNaming, OtherPlatformsAndBackends) {
  auto mac = synthetic("2.12.0", std::nullopt, "arm64", "Darwin");
  mac.torch.mps_available = true;
  EXPECT_EQ(mac.native_backend(), Backend::Metal);
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Metal}), Backend::Metal, mac).str(),
            "torch212-metal-aarch64-darwin");

  auto windows = synthetic("2.12.0+cu126", "12.6", "AMD64", "Windows");
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Cuda}), Backend::Cuda, windows).str(),
            "torch212-cu126-x86_64-windows");

  auto rocm = synthetic("2.12.0+rocm7.1");
  rocm.torch.hip = "7.1.25424-4179531dcd";
  EXPECT_EQ(rocm.native_backend(), Backend::Rocm);
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Rocm}), Backend::Rocm, rocm).str(),
            "torch212-cxx11-rocm71-x86_64-linux");

  auto xpu = synthetic("2.12.0+xpu");
  xpu.torch.xpu = "20250300";
  EXPECT_EQ(xpu.native_backend(), Backend::Xpu);
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Xpu}), Backend::Xpu, xpu).str(),
            "torch212-cxx11-xpu20253-x86_64-linux");
}

TEST(ToolchainNaming, RefusesArchBuildsTheTorchCannotDo) {
  auto debian = synthetic("1.13.0a0");
  try {
    variant_for_build(kernel_with({Backend::Cuda}), Backend::Cuda, debian);
    FAIL() << "a CPU-only torch cannot build CUDA kernels";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cuda kernels of relu"), std::string::npos) << m;
    EXPECT_NE(m.find("/opt/python/bin/python3"), std::string::npos) << m;
    EXPECT_NE(m.find("built for cpu"), std::string::npos) << m;
  }
  auto riscv = synthetic("2.12.0", std::nullopt, "riscv64");
  EXPECT_THROW(variant_for_build(kernel_with({Backend::Cpu}), Backend::Cpu, riscv), Error);
}

TEST_F(ToolchainTest, DiscoversDebianTorchAndCachesItsFacts) {
  if (!debian_torch_available()) GTEST_SKIP() << "Debian python3-torch is not installed";
  auto first = discover_pythons(only({"/usr/bin/python3"}));
  ASSERT_EQ(first.toolchains.size(), 1u) << first.explain_rejections();
  EXPECT_EQ(first.probes_run, 1);
  const PythonToolchain& t = first.toolchains[0];
  EXPECT_FALSE(t.from_cache);
  EXPECT_EQ(t.python, "/usr/bin/python3");
  EXPECT_EQ(t.source, "--python");
  EXPECT_EQ(t.torch.version, Version::parse("1.13"));
  EXPECT_TRUE(starts_with(t.torch.version_raw, "1.13"));
  EXPECT_TRUE(t.torch.cxx11_abi);
  EXPECT_EQ(t.native_backend(), Backend::Cpu);
  EXPECT_FALSE(t.torch.cuda.has_value());
  // Debian's torch reports a CMake prefix path that does not exist; only the
  // directory that really holds TorchConfig.cmake is recorded.
  EXPECT_TRUE(t.torch.cmake_prefix_path.empty()) << t.torch.cmake_prefix_path;
  EXPECT_TRUE(fs::exists(t.torch.cmake_dir / "TorchConfig.cmake")) << t.torch.cmake_dir;
  EXPECT_TRUE(fs::exists(t.include_dir / "Python.h")) << t.include_dir;
  EXPECT_TRUE(starts_with(t.ext_suffix, ".cpython-3")) << t.ext_suffix;
  EXPECT_TRUE(starts_with(t.soabi, "cpython-3")) << t.soabi;
  EXPECT_EQ(t.cpu(), variant::normalize_cpu(trim(run_process({.argv = {"uname", "-m"}}).out)));
  EXPECT_EQ(t.os(), "linux");
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Cpu}), Backend::Cpu, t).str(),
            "torch113-cxx11-cpu-" + t.cpu() + "-linux");

  auto second = discover_pythons(only({"/usr/bin/python3"}));
  ASSERT_EQ(second.toolchains.size(), 1u);
  EXPECT_EQ(second.probes_run, 0);
  EXPECT_TRUE(second.toolchains[0].from_cache);
  EXPECT_EQ(second.toolchains[0].torch.version_raw, t.torch.version_raw);
  EXPECT_EQ(second.toolchains[0].torch.cmake_dir, t.torch.cmake_dir);

  auto o = only({"/usr/bin/python3"});
  o.use_cache = false;
  auto bypass = discover_pythons(o);
  EXPECT_EQ(bypass.probes_run, 1);
  EXPECT_FALSE(bypass.toolchains.at(0).from_cache);
}

TEST_F(ToolchainTest, CacheSkipsPythonUntilTheInterpreterChanges) {
  if (!debian_torch_available()) GTEST_SKIP() << "Debian python3-torch is not installed";
  fs::path fake = counting_wrapper("python-fake", "/usr/bin/python3");
  auto first = discover_pythons(only({fake}));
  ASSERT_EQ(first.toolchains.size(), 1u) << first.explain_rejections();
  EXPECT_EQ(starts("python-fake"), 1);
  EXPECT_EQ(first.toolchains[0].candidate, fake);

  for (int i = 0; i < 3; ++i) {
    auto again = discover_pythons(only({fake}));
    ASSERT_EQ(again.toolchains.size(), 1u);
    EXPECT_TRUE(again.toolchains[0].from_cache);
  }
  EXPECT_EQ(starts("python-fake"), 1) << "cached discoveries must not start the interpreter";

  bump_mtime(fake);
  auto after_change = discover_pythons(only({fake}));
  EXPECT_EQ(starts("python-fake"), 2);
  EXPECT_FALSE(after_change.toolchains.at(0).from_cache);
  discover_pythons(only({fake}));
  EXPECT_EQ(starts("python-fake"), 2);

  // A changed PYTHONPATH can change what `import torch` finds.
  {
    ScopedEnv pythonpath("PYTHONPATH", dir_.string());
    discover_pythons(only({fake}));
    EXPECT_EQ(starts("python-fake"), 3);
  }
}

TEST_F(ToolchainTest, CorruptCacheIsIgnoredAndReplaced) {
  if (!debian_torch_available()) GTEST_SKIP() << "Debian python3-torch is not installed";
  fs::path fake = counting_wrapper("python-fake", "/usr/bin/python3");
  write_file_atomic(cache_, "{\"format\": 1, \"python\": {\"x\": ");
  auto d = discover_pythons(only({fake}));
  ASSERT_EQ(d.toolchains.size(), 1u) << d.explain_rejections();
  EXPECT_EQ(starts("python-fake"), 1);
  auto json = nlohmann::json::parse(read_file(cache_));  // rewritten as valid JSON
  EXPECT_EQ(json.at("format"), 1);

  // Entries of the wrong shape count as missing, too.
  write_file_atomic(cache_, R"({"format": 1, "python": {")" + fake.string() + R"(": {"stamps": 3}}})");
  d = discover_pythons(only({fake}));
  ASSERT_EQ(d.toolchains.size(), 1u);
  EXPECT_EQ(starts("python-fake"), 2);
  d = discover_pythons(only({fake}));
  EXPECT_EQ(starts("python-fake"), 2);
}

TEST_F(ToolchainTest, HonoursKbPythonAndExplainsRejections) {
  if (!debian_torch_available()) GTEST_SKIP() << "Debian python3-torch is not installed";
  fs::path fake = counting_wrapper("python-fake", "/usr/bin/python3");
  // -S skips site-packages, so this interpreter has no torch.
  fs::path no_torch = counting_wrapper("python-no-torch", "/usr/bin/python3", "-S");
  fs::path broken = dir_ / "python-broken";
  write_file_atomic(broken, "#!/bin/sh\necho 'this is not python' >&2\nexit 3\n", true);

  ScopedEnv kb_python("KB_PYTHON", (dir_ / "missing-python").string() + ":" + no_torch.string() + "::" +
                                       broken.string() + ":" + fake.string());
  DiscoveryOptions o = only({});
  o.use_env = true;
  auto d = discover_pythons(o);
  ASSERT_EQ(d.toolchains.size(), 1u) << d.explain_rejections();
  EXPECT_EQ(d.toolchains[0].candidate, fake);
  EXPECT_EQ(d.toolchains[0].source, "KB_PYTHON");
  ASSERT_EQ(d.rejected.size(), 3u);
  EXPECT_EQ(d.rejected[0].reason, "not found");
  EXPECT_EQ(d.rejected[1].candidate, no_torch);
  EXPECT_NE(d.rejected[1].reason.find("cannot import torch: ModuleNotFoundError: No module named 'torch'"),
            std::string::npos)
      << d.rejected[1].reason;
  EXPECT_EQ(d.rejected[2].candidate, broken);
  EXPECT_NE(d.rejected[2].reason.find("exit code 3"), std::string::npos) << d.rejected[2].reason;
  EXPECT_NE(d.rejected[2].reason.find("this is not python"), std::string::npos) << d.rejected[2].reason;
  std::string explained = d.explain_rejections();
  EXPECT_NE(explained.find(no_torch.string() + " (KB_PYTHON): cannot import torch"), std::string::npos) << explained;

  // An interpreter without torch is cached as such, too.
  discover_pythons(o);
  EXPECT_EQ(starts("python-no-torch"), 1);

  try {
    probe_python(no_torch, o);
    FAIL() << "probe_python must refuse an interpreter without torch";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("No module named 'torch'"), std::string::npos) << e.what();
  }
}

TEST_F(ToolchainTest, DeduplicatesInterpretersButKeepsVenvsApart) {
  if (!debian_torch_available()) GTEST_SKIP() << "Debian python3-torch is not installed";
  fs::create_directories(dir_ / "links");
  fs::create_symlink("/usr/bin/python3", dir_ / "links" / "python");
  fs::path venv = dir_ / "venv";
  auto made = run_process({.argv = {"/usr/bin/python3", "-m", "venv", "--without-pip", "--system-site-packages",
                                    venv.string()}});
  ASSERT_TRUE(made.ok()) << made.err;

  auto d = discover_pythons(only({"/usr/bin/python3", dir_ / "links" / "python", "/usr/bin/python3.11",
                                  venv / "bin" / "python", venv / "bin" / "python3"}));
  ASSERT_EQ(d.toolchains.size(), 2u) << d.explain_rejections();
  EXPECT_EQ(d.probes_run, 2);
  EXPECT_EQ(d.toolchains[0].prefix, "/usr");
  EXPECT_EQ(d.toolchains[1].prefix, venv);
  EXPECT_EQ(d.toolchains[1].python, venv / "bin" / "python");
  EXPECT_EQ(d.toolchains[1].torch.version, Version::parse("1.13"));
}

TEST_F(ToolchainTest, FindsTheCudaTorchVenvByDefault) {
  fs::path venv = cuda_torch_venv();
  if (!fs::exists(venv / "bin" / "python")) GTEST_SKIP() << "no CUDA torch venv (scripts/setup-cuda-torch.sh)";
  DiscoveryOptions o = only({});
  o.use_defaults = true;
  auto d = discover_pythons(o);
  const PythonToolchain* cuda = d.find_for_backend(Backend::Cuda);
  ASSERT_NE(cuda, nullptr) << d.explain_rejections();
  EXPECT_EQ(cuda->source, "cuda-venv");
  EXPECT_EQ(cuda->python, venv / "bin" / "python");
  ASSERT_TRUE(cuda->torch.cuda.has_value());
  EXPECT_EQ(leading_version(*cuda->torch.cuda).major(), 13u);
  EXPECT_TRUE(fs::exists(cuda->torch.cmake_dir / "TorchConfig.cmake"));
  EXPECT_EQ(cuda->torch.cmake_dir, cuda->torch.cmake_prefix_path / "Torch");
  EXPECT_EQ(variant_for_build(kernel_with({Backend::Cuda}), Backend::Cuda, *cuda).str(),
            "torch" + variant::flat_version(cuda->torch.version) + "-cxx11-cu" +
                variant::flat_version(leading_version(*cuda->torch.cuda)) + "-x86_64-linux");
  if (debian_torch_available()) {
    const PythonToolchain* cpu = d.find_for_backend(Backend::Cpu);
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ(cpu->python, "/usr/bin/python3");
  }
}

TEST_F(ToolchainTest, ParsesNvccRelease) {
  EXPECT_EQ(parse_nvcc_release("Cuda compilation tools, release 13.0, V13.0.88\n"), Version::parse("13.0"));
  EXPECT_EQ(parse_nvcc_release("Cuda compilation tools, release 12.6, V12.6.85"), Version::parse("12.6"));
  EXPECT_EQ(parse_nvcc_release("clang version 17"), std::nullopt);
}

TEST_F(ToolchainTest, DiscoversNvccFromCudaHomeAndCachesIt) {
  fs::path home = dir_ / "cuda";
  fs::create_directories(home / "bin");
  fs::path nvcc = home / "bin" / "nvcc";
  write_file_atomic(nvcc,
                    "#!/bin/sh\necho started >> '" + counter("nvcc").string() +
                        "'\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n",
                    true);
  ScopedEnv cuda_home("CUDA_HOME", home.string());
  NvccOptions o;
  o.cache_file = cache_;
  auto first = discover_nvcc(o);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->path, nvcc);
  EXPECT_EQ(first->version, Version::parse("12.4"));
  EXPECT_FALSE(first->from_cache);
  auto second = discover_nvcc(o);
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->version, Version::parse("12.4"));
  EXPECT_EQ(starts("nvcc"), 1);
  bump_mtime(nvcc);
  EXPECT_FALSE(discover_nvcc(o)->from_cache);
  EXPECT_EQ(starts("nvcc"), 2);

  write_file_atomic(nvcc, "#!/bin/sh\necho 'nothing useful'\n", true);
  EXPECT_THROW(discover_nvcc(o), Error);
}

TEST_F(ToolchainTest, CacheForgetsToolsThatAreGone) {
  auto make_nvcc = [&](const std::string& name, const std::string& release) {
    fs::path home = dir_ / name;
    fs::create_directories(home / "bin");
    write_file_atomic(home / "bin" / "nvcc", "#!/bin/sh\necho 'release " + release + ", V0'\n", true);
    return home;
  };
  fs::path old_home = make_nvcc("cuda-old", "12.1");
  fs::path new_home = make_nvcc("cuda-new", "13.1");
  NvccOptions o;
  o.cache_file = cache_;
  {
    ScopedEnv cuda_home("CUDA_HOME", old_home.string());
    EXPECT_EQ(discover_nvcc(o)->version, Version::parse("12.1"));
  }
  auto cached = nlohmann::json::parse(read_file(cache_));
  EXPECT_TRUE(cached.at("nvcc").contains((old_home / "bin" / "nvcc").string()));
  fs::remove_all(old_home);
  {
    ScopedEnv cuda_home("CUDA_HOME", new_home.string());
    EXPECT_EQ(discover_nvcc(o)->version, Version::parse("13.1"));
  }
  cached = nlohmann::json::parse(read_file(cache_));
  EXPECT_FALSE(cached.at("nvcc").contains((old_home / "bin" / "nvcc").string()));
  EXPECT_TRUE(cached.at("nvcc").contains((new_home / "bin" / "nvcc").string()));
}

TEST_F(ToolchainTest, DiscoversTheLocalNvcc) {
  ScopedEnv cuda_home("CUDA_HOME", std::nullopt);
  ScopedEnv cuda_path("CUDA_PATH", std::nullopt);
  if (!fs::exists("/usr/local/cuda/bin/nvcc") && !find_program("nvcc")) GTEST_SKIP() << "no nvcc";
  NvccOptions o;
  o.cache_file = cache_;
  auto nvcc = discover_nvcc(o);
  ASSERT_TRUE(nvcc.has_value());
  auto reported = parse_nvcc_release(run_process({.argv = {nvcc->path.string(), "--version"}}).out);
  EXPECT_EQ(nvcc->version, reported);
  EXPECT_TRUE(discover_nvcc(o)->from_cache);
}
