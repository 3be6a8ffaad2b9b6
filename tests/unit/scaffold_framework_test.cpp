// `kb init --framework tvm-ffi` and `kb init --stable-abi V`: the rendered
// files, their build.toml as the config loader reads it, and the C++ sources
// compiled for real against tvm-ffi and the Torch stable API.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "libkb/config/config.h"
#include "libkb/scaffold/scaffold.h"
#include "libkb/util/embedded.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::scaffold;

namespace {

using kb::testing::contains;
using kb::testing::error_of;

std::set<std::string> paths_of(const std::vector<ScaffoldFile>& files) {
  std::set<std::string> paths;
  for (const auto& f : files) paths.insert(f.path);
  return paths;
}

const std::string& content_of(const std::vector<ScaffoldFile>& files, const std::string& path) {
  auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
  if (it == files.end()) throw std::runtime_error("no scaffold file " + path);
  return it->content;
}

FrameworkOptions tvm_ffi() { return {Framework::TvmFfi, std::nullopt}; }
FrameworkOptions stable(const std::string& version) { return {Framework::Torch, version}; }

const std::set<std::string> kTvmFfiCommon = {
    ".gitattributes",
    ".gitignore",
    "CARD.md",
    "Makefile",
    "build.toml",
    "example.py",
    "tests/__init__.py",
    "tests/test_relu.py",
    "tvm-ffi-ext/relu.h",
    "tvm-ffi-ext/relu/__init__.py",
    "tvm-ffi-ext/tvm_ffi_binding.cpp",
};

std::set<std::string> tvm_ffi_with(std::initializer_list<std::string> extra) {
  std::set<std::string> all = kTvmFfiCommon;
  all.insert(extra.begin(), extra.end());
  return all;
}

bool is_cxx_source(const std::string& path) {
  return ends_with(path, ".cpp") || ends_with(path, ".cu") || ends_with(path, ".h");
}

// Top-level (unindented) `import torch` / `from torch ...` lines: a module
// that has one cannot be imported without Torch.
bool imports_torch_unconditionally(const std::string& python) {
  for (const auto& line : split(python, '\n')) {
    if (starts_with(line, "import torch") || starts_with(line, "from torch")) return true;
  }
  return false;
}

fs::path venv_path(const char* variable, const std::string& default_name) {
  return env_or(variable, env_or("HOME", "/root") + "/.cache/kb/" + default_name);
}

std::string probe(const std::vector<std::string>& argv) {
  auto result = run_process({argv});
  if (!result.ok()) throw std::runtime_error(shell_quote_command(argv) + " failed: " + result.err);
  return trim(result.out);
}

class ScaffoldFrameworkDir : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(fs::temp_directory_path(), "kb-scaffold-framework-test"); }
  void TearDown() override { fs::remove_all(root_); }
  InitResult init(const std::string& name, std::vector<std::string> backends, FrameworkOptions framework) {
    InitOptions o;
    o.name = name;
    o.cwd = root_;
    o.backends = std::move(backends);
    o.framework = std::move(framework);
    return init_project(o);
  }
  fs::path root_;
};

}  // namespace

TEST(ScaffoldFramework, ParsesTheFrameworkNames) {
  EXPECT_EQ(parse_framework("torch"), Framework::Torch);
  EXPECT_EQ(parse_framework("tvm-ffi"), Framework::TvmFfi);
  EXPECT_EQ(parse_framework("TVM-FFI"), Framework::TvmFfi);
  EXPECT_EQ(framework_name(Framework::TvmFfi), "tvm-ffi");
  EXPECT_EQ(framework_name(Framework::Torch), "torch");
  EXPECT_EQ(error_of([] { parse_framework("jax"); }), "Unknown framework: jax; expected one of: torch, tvm-ffi");
  EXPECT_EQ(error_of([] { parse_framework("tvm_ffi"); }),
            "Unknown framework: tvm_ffi (did you mean `tvm-ffi`?); expected one of: torch, tvm-ffi");
}

TEST(ScaffoldFramework, StableAbiIsMajorDotMinorFromTheOldestSupportedTorch) {
  EXPECT_EQ(parse_stable_abi("2.11"), "2.11");
  EXPECT_EQ(parse_stable_abi("2.10"), "2.10");
  EXPECT_EQ(parse_stable_abi("3.0"), "3.0");
  for (const char* bad : {"2", "2.11.0", "v2.11", "2.x", "", ".11", "2.", "2.11 ", "-2.11", "2,11"}) {
    EXPECT_EQ(error_of([&] { parse_stable_abi(bad); }),
              "--stable-abi `" + std::string(bad) + "` must be a Torch version MAJOR.MINOR, for example 2.10 or 2.11")
        << bad;
  }
  EXPECT_EQ(error_of([] { parse_stable_abi("2.9"); }),
            "--stable-abi 2.9 is older than the stable API the scaffold is written against; use 2.10 or newer");
  EXPECT_FALSE(error_of([] { parse_stable_abi("1.13"); }).empty());
}

TEST(ScaffoldFramework, RefusesWhatItCannotScaffold) {
  EXPECT_EQ(error_of([] {
              check_framework_options({Framework::TvmFfi, "2.11"}, {"cpu"});
            }),
            "--stable-abi applies to Torch kernels only: a tvm-ffi kernel does not link against Torch");
  EXPECT_EQ(error_of([] {
              check_framework_options(tvm_ffi(), {"cpu", "metal", "cuda", "rocm"});
            }),
            "kb scaffolds tvm-ffi kernels for cpu and cuda only; not for: metal, rocm");
  EXPECT_EQ(error_of([] {
              check_framework_options(stable("2.11"), {"xpu", "cpu"});
            }),
            "kb scaffolds Torch stable-ABI kernels (--stable-abi) for cpu and cuda only; not for: xpu");
  EXPECT_EQ(error_of([] { check_framework_options(tvm_ffi(), {"cuda", "cpu"}); }), "");
  EXPECT_EQ(error_of([] { check_framework_options(stable("2.11"), {"cuda"}); }), "");
  // The plain Torch scaffold keeps every backend.
  EXPECT_EQ(error_of([] { check_framework_options({}, all_backend_names()); }), "");
  // Rendering refuses the same.
  auto names = parse_repo_names("acme/relu");
  EXPECT_FALSE(error_of([&] { render_scaffold(names, "MIT", {"xpu"}, tvm_ffi()); }).empty());
  EXPECT_FALSE(error_of([&] { render_build_toml(names, "MIT", {"metal"}, stable("2.11")); }).empty());
}

TEST(ScaffoldTvmFfi, FileSetFollowsBackendSelection) {
  auto names = parse_repo_names("kb-test/relu");
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"cpu"}, tvm_ffi())), tvm_ffi_with({"relu_cpu/relu_cpu.cpp"}));
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"cuda"}, tvm_ffi())), tvm_ffi_with({"relu_cuda/relu_cuda.cu"}));
  auto both = paths_of(render_scaffold(names, "MIT", {"cuda", "cpu"}, tvm_ffi()));
  EXPECT_EQ(both, tvm_ffi_with({"relu_cpu/relu_cpu.cpp", "relu_cuda/relu_cuda.cu"}));
  // Nothing of the Torch scaffold: no torch-ext and no (Torch-only) benchmark.
  for (const auto& path : both) {
    EXPECT_FALSE(starts_with(path, "torch-ext")) << path;
    EXPECT_FALSE(starts_with(path, "benchmarks")) << path;
  }
}

TEST(ScaffoldTvmFfi, BuildTomlParsesAsATvmFfiKernel) {
  auto names = parse_repo_names("kb-test/add_one");
  const std::string text = render_build_toml(names, "Apache-2.0", {"cpu", "cuda"}, tvm_ffi());
  auto config = config::parse_build_config(text, "build.toml");
  EXPECT_EQ(config.edition, 5);
  EXPECT_EQ(config.framework, config::Framework::TvmFfi);
  EXPECT_EQ(config.general.name, "add-one");
  EXPECT_EQ(config.general.hub_repo_id.value_or(""), "kb-test/add-one");
  EXPECT_EQ(config.tvm_ffi.src, (std::vector<std::string>{"tvm-ffi-ext/tvm_ffi_binding.cpp", "tvm-ffi-ext/add_one.h"}));
  ASSERT_EQ(config.kernels.size(), 2u);
  std::map<std::string, const config::KernelComponent*> by_name;
  for (const auto& k : config.kernels) by_name[k.name] = &k;
  ASSERT_TRUE(by_name.count("add_one_cpu"));
  ASSERT_TRUE(by_name.count("add_one_cuda"));
  EXPECT_EQ(by_name["add_one_cpu"]->backend, config::Backend::Cpu);
  EXPECT_EQ(by_name["add_one_cpu"]->src, std::vector<std::string>{"add_one_cpu/add_one_cpu.cpp"});
  EXPECT_EQ(by_name["add_one_cuda"]->backend, config::Backend::Cuda);
  EXPECT_EQ(by_name["add_one_cuda"]->src, std::vector<std::string>{"add_one_cuda/add_one_cuda.cu"});
  for (const auto& k : config.kernels) {
    EXPECT_TRUE(k.depends.empty()) << k.name;  // no torch
    EXPECT_EQ(k.include, std::vector<std::string>{"tvm-ffi-ext"}) << k.name;
  }
  EXPECT_FALSE(contains(text, "[torch]"));
}

TEST(ScaffoldTvmFfi, SourcesExportTheFunctionAndNeedNoTorch) {
  auto names = parse_repo_names("acme/Fast_Add");
  auto files = render_scaffold(names, "MIT", {"cpu", "cuda"}, tvm_ffi());
  for (const auto& f : files) {
    EXPECT_FALSE(contains(f.path, "@@")) << f.path;
    EXPECT_FALSE(contains(f.content, "@@")) << f.path;
    if (is_cxx_source(f.path)) {
      EXPECT_FALSE(contains(f.content, "torch/")) << f.path;
      EXPECT_FALSE(contains(f.content, "ATen")) << f.path;
    }
    if (ends_with(f.path, ".py")) {
      EXPECT_FALSE(imports_torch_unconditionally(f.content)) << f.path;
    }
  }
  const auto& binding = content_of(files, "tvm-ffi-ext/tvm_ffi_binding.cpp");
  EXPECT_TRUE(contains(binding, "TVM_FFI_DLL_EXPORT_TYPED_FUNC(fast_add, fast_add);")) << binding;
  EXPECT_TRUE(contains(binding, "void fast_add(tvm::ffi::TensorView out, tvm::ffi::TensorView input)"));
  EXPECT_TRUE(contains(binding, "TVM_FFI_THROW(TypeError)"));
  EXPECT_TRUE(contains(binding, "TVM_FFI_THROW(ValueError)"));
  EXPECT_TRUE(contains(binding, "#include \"fast_add.h\""));
  const auto& cuda = content_of(files, "fast_add_cuda/fast_add_cuda.cu");
  EXPECT_TRUE(contains(cuda, "#include <tvm/ffi/extra/c_env_api.h>"));
  EXPECT_TRUE(contains(cuda, "TVMFFIEnvGetStream(kDLCUDA, input.device().device_id)"));
  const auto& init = content_of(files, "tvm-ffi-ext/fast_add/__init__.py");
  EXPECT_TRUE(contains(init, "from ._ops import ops"));
  EXPECT_TRUE(contains(init, "ops.fast_add(out, x)"));
  EXPECT_TRUE(contains(init, "__all__ = [\"fast_add\"]"));
  EXPECT_TRUE(contains(content_of(files, "tests/test_fast_add.py"), "import numpy as np"));
  EXPECT_TRUE(contains(content_of(files, ".gitignore"), "/tvm-ffi-ext/fast_add/_ops.py"));
  EXPECT_FALSE(contains(content_of(files, ".gitignore"), "registration.h"));
  // The card template stays raw and does not tell users to import torch.
  const auto& card = content_of(files, "CARD.md");
  EXPECT_EQ(card, std::string(embedded_file("scaffold/data/tvm_ffi_CARD.md")));
  EXPECT_TRUE(contains(card, "{{ repo_id }}"));
  EXPECT_FALSE(contains(card, "import torch"));
}

TEST(ScaffoldStableAbi, BuildTomlCarriesTheStableAbiVersion) {
  auto names = parse_repo_names("kb-test/add_one");
  auto config =
      config::parse_build_config(render_build_toml(names, "Apache-2.0", {"cuda", "cpu"}, stable("2.11")), "build.toml");
  EXPECT_EQ(config.framework, config::Framework::Torch);
  ASSERT_TRUE(config.torch.stable_abi_all.has_value());
  EXPECT_EQ(*config.torch.stable_abi_all, Version::parse("2.11"));
  EXPECT_EQ(config.stable_abi_for(config::Backend::Cpu).value_or(Version()), Version::parse("2.11"));
  EXPECT_EQ(config.stable_abi_for(config::Backend::Cuda).value_or(Version()), Version::parse("2.11"));
  EXPECT_EQ(config.kernels.size(), 2u);
  // Without --stable-abi there is none.
  auto plain = config::parse_build_config(render_build_toml(names, "Apache-2.0", {"cpu"}), "build.toml");
  EXPECT_FALSE(plain.torch.stable_abi_all.has_value());
  EXPECT_FALSE(plain.stable_abi_for(config::Backend::Cpu).has_value());
}

TEST(ScaffoldStableAbi, SourcesUseOnlyTheStableApi) {
  auto names = parse_repo_names("acme/add_one");
  auto files = render_scaffold(names, "MIT", {"cpu", "cuda"}, stable("2.11"));
  // The Torch scaffold's file set, with stable-API sources.
  std::set<std::string> expected = {".gitattributes",
                                    ".gitignore",
                                    "CARD.md",
                                    "Makefile",
                                    "add_one_cpu/add_one_cpu.cpp",
                                    "add_one_cuda/add_one.cu",
                                    "benchmarks/benchmark.py",
                                    "build.toml",
                                    "example.py",
                                    "tests/__init__.py",
                                    "tests/test_add_one.py",
                                    "torch-ext/add_one/__init__.py",
                                    "torch-ext/torch_binding.cpp",
                                    "torch-ext/torch_binding.h"};
  EXPECT_EQ(paths_of(files), expected);
  for (const auto& f : files) {
    EXPECT_FALSE(contains(f.content, "@@")) << f.path;
    if (!is_cxx_source(f.path)) continue;
    // Nothing from the unstable C++ API.
    for (const char* unstable : {"torch/all.h", "torch/library.h", "ATen/", "c10/", " TORCH_CHECK(", "at::"}) {
      EXPECT_FALSE(contains(f.content, unstable)) << f.path << " uses " << unstable;
    }
  }
  const auto& binding = content_of(files, "torch-ext/torch_binding.cpp");
  EXPECT_TRUE(contains(binding, "STABLE_TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops)"));
  EXPECT_TRUE(contains(binding, "ops.def(\"add_one(Tensor! out, Tensor input) -> ()\");"));
  EXPECT_TRUE(contains(binding, "STABLE_TORCH_LIBRARY_IMPL_EXPAND(TORCH_EXTENSION_NAME, CPU, ops)"));
  EXPECT_TRUE(contains(binding, "STABLE_TORCH_LIBRARY_IMPL_EXPAND(TORCH_EXTENSION_NAME, CUDA, ops)"));
  EXPECT_TRUE(contains(binding, "ops.impl(\"add_one\", TORCH_BOX(&add_one));"));
  EXPECT_TRUE(contains(binding, "REGISTER_EXTENSION(TORCH_EXTENSION_NAME)"));
  EXPECT_TRUE(contains(content_of(files, "torch-ext/torch_binding.h"),
                       "void add_one(torch::stable::Tensor &out, torch::stable::Tensor const &input);"));
  const auto& cpu = content_of(files, "add_one_cpu/add_one_cpu.cpp");
  EXPECT_TRUE(contains(cpu, "STD_TORCH_CHECK("));
  EXPECT_TRUE(contains(cpu, "torch::headeronly::ScalarType::Float"));
  EXPECT_TRUE(contains(content_of(files, "add_one_cuda/add_one.cu"), "aoti_torch_get_current_cuda_stream"));
}

TEST_F(ScaffoldFrameworkDir, TvmFfiProjectIsWrittenAndStaged) {
  auto result = init("acme/relu", {"cpu"}, tvm_ffi());
  const std::set<std::string> written(result.written.begin(), result.written.end());
  EXPECT_EQ(written, tvm_ffi_with({"relu_cpu/relu_cpu.cpp"}));
  const auto config = config::load_build_config(result.target.dir);
  EXPECT_EQ(config.framework, config::Framework::TvmFfi);
  EXPECT_EQ(config.module_name(), "relu");
  EXPECT_TRUE(fs::is_regular_file(result.target.dir / "tvm-ffi-ext/relu/__init__.py"));
  EXPECT_FALSE(fs::exists(result.target.dir / "torch-ext"));
  EXPECT_TRUE(fs::is_directory(result.target.dir / ".git"));
}

TEST_F(ScaffoldFrameworkDir, RefusalsWriteNothing) {
  EXPECT_FALSE(error_of([&] { init("acme/relu", {"cpu", "metal"}, tvm_ffi()); }).empty());
  EXPECT_FALSE(error_of([&] { init("acme/relu", {"cpu"}, {Framework::TvmFfi, "2.11"}); }).empty());
  EXPECT_FALSE(fs::exists(root_ / "relu"));
}

// The tvm-ffi CPU scaffold compiled against the tvm-ffi environment (PyPI
// apache-tvm-ffi, no torch) and called from numpy through tvm_ffi.load_module.
TEST_F(ScaffoldFrameworkDir, TvmFfiCpuScaffoldCompilesAndAddsOne) {
  const fs::path venv = venv_path("KB_TVM_FFI_VENV", "tvm-ffi-venv");
  const fs::path python = venv / "bin/python";
  if (!fs::exists(python) || !find_program("g++")) {
    GTEST_SKIP() << "no tvm-ffi venv at " << venv << " (scripts/setup-tvm-ffi-venv.sh) or no g++";
  }
  const std::string include = probe({python.string(), "-m", "tvm_ffi.config", "--includedir"});
  const std::string dlpack = probe({python.string(), "-m", "tvm_ffi.config", "--dlpack-includedir"});
  const std::string libdir = probe({python.string(), "-m", "tvm_ffi.config", "--libdir"});

  const fs::path dir = init("acme/add_one", {"cpu"}, tvm_ffi()).target.dir;
  const fs::path so = dir / "add_one_cpu_test.so";
  auto compiled =
      run_process({{"g++", "-std=c++17", "-O1", "-shared", "-fPIC", "-Wall", "-Werror", "-isystem", include, "-isystem",
                    dlpack, "-I" + (dir / "tvm-ffi-ext").string(), (dir / "tvm-ffi-ext/tvm_ffi_binding.cpp").string(),
                    (dir / "add_one_cpu/add_one_cpu.cpp").string(), "-o", so.string(), "-L" + libdir, "-ltvm_ffi"}});
  ASSERT_TRUE(compiled.ok()) << compiled.err;

  auto ran = run_process({{python.string(), "-c",
                           "import sys, numpy as np, tvm_ffi\n"
                           "assert 'torch' not in sys.modules\n"
                           "m = tvm_ffi.load_module(sys.argv[1])\n"
                           "x = np.arange(-6, 6, dtype=np.float32).reshape(3, 4)\n"
                           "out = np.empty_like(x)\n"
                           "m.add_one(out, x)\n"
                           "assert (out == x + 1).all(), out\n"
                           "def refused(o, i):\n"
                           "    try:\n"
                           "        m.add_one(o, i)\n"
                           "    except (TypeError, ValueError) as e:\n"
                           "        return f'{type(e).__name__}: {e}'\n"
                           "    return 'accepted'\n"
                           "print(refused(np.empty(4), np.zeros(4, np.float32)))\n"
                           "print(refused(np.empty(5, np.float32), np.zeros(4, np.float32)))\n"
                           "print(refused(np.empty(3, np.float32), np.zeros(6, np.float32)[::2]))\n"
                           "print('ok')\n",
                           so.string()}});
  ASSERT_TRUE(ran.ok()) << ran.err;
  EXPECT_EQ(ran.out,
            "TypeError: add_one: out must be float32\n"
            "ValueError: add_one: out and input must have the same shape\n"
            "ValueError: add_one: tensors must be contiguous\n"
            "ok\n");
}

// The stable-ABI CPU scaffold compiled against Torch 2.x headers with
// TORCH_TARGET_VERSION 2.11: it calls only Torch's C shim (no c10:: or at::
// C++ symbols) and computes x + 1 when loaded into that Torch.
TEST_F(ScaffoldFrameworkDir, StableAbiCpuScaffoldCompilesAgainstTheCShimOnly) {
  const fs::path venv = venv_path("KB_CUDA_VENV", "cuda-torch-venv");
  const fs::path python = venv / "bin/python";
  if (!fs::exists(python) || !find_program("g++") || !find_program("nm")) {
    GTEST_SKIP() << "no CUDA torch venv at " << venv << " (scripts/setup-cuda-torch.sh), g++ or nm";
  }
  const std::string torch_dir =
      probe({python.string(), "-c", "import os, torch; print(os.path.dirname(torch.__file__))"});
  const std::string python_include =
      probe({python.string(), "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"});

  const fs::path dir = init("acme/add_one", {"cpu"}, stable("2.11")).target.dir;
  // The registration.h that kb generates for every Torch build.
  write_file_atomic(dir / "torch-ext/registration.h", std::string(embedded_file("project/data/registration.h")));
  const fs::path so = dir / "_add_one_stable_test.so";
  auto compiled = run_process({{"g++",
                                "-std=c++20",
                                "-O1",
                                "-shared",
                                "-fPIC",
                                "-DTORCH_TARGET_VERSION=0x020b000000000000",
                                "-DTORCH_EXTENSION_NAME=_add_one_stable_test",
                                "-DCPU_KERNEL",
                                "-isystem",
                                torch_dir + "/include",
                                "-isystem",
                                python_include,
                                "-I" + (dir / "torch-ext").string(),
                                (dir / "torch-ext/torch_binding.cpp").string(),
                                (dir / "add_one_cpu/add_one_cpu.cpp").string(),
                                "-o",
                                so.string(),
                                "-L" + torch_dir + "/lib",
                                "-ltorch_cpu",
                                "-lc10"}});
  ASSERT_TRUE(compiled.ok()) << compiled.err;

  auto undefined = run_process({{"nm", "-u", "-C", so.string()}});
  ASSERT_TRUE(undefined.ok()) << undefined.err;
  size_t shim_calls = 0;
  for (const auto& line : split(undefined.out, '\n')) {
    EXPECT_FALSE(contains(line, "c10::") || contains(line, "at::") || contains(line, "torch::")) << line;
    if (contains(line, " aoti_torch_") || contains(line, " torch_")) ++shim_calls;
  }
  EXPECT_GT(shim_calls, 0u) << undefined.out;

  auto ran = run_process({{python.string(), "-c",
                           "import sys, torch\n"
                           "torch.ops.load_library(sys.argv[1])\n"
                           "x = torch.randn(1000)\n"
                           "out = torch.empty_like(x)\n"
                           "torch.ops._add_one_stable_test.add_one(out, x)\n"
                           "assert torch.equal(out, x + 1), (out, x)\n"
                           "try:\n"
                           "    torch.ops._add_one_stable_test.add_one(torch.empty(4, dtype=torch.float64), x[:4])\n"
                           "except RuntimeError as e:\n"
                           "    assert 'add_one: out must be float32' in str(e), e\n"
                           "else:\n"
                           "    raise AssertionError('float64 accepted')\n"
                           "print('ok')\n",
                           so.string()}});
  ASSERT_TRUE(ran.ok()) << ran.err;
  EXPECT_EQ(trim(ran.out), "ok");
}

// The CUDA sources of both scaffolds compile with nvcc (no GPU is needed to
// compile; running them is left to machines with one).
TEST_F(ScaffoldFrameworkDir, CudaScaffoldsCompileWithNvcc) {
  const fs::path tvm_venv = venv_path("KB_TVM_FFI_VENV", "tvm-ffi-venv");
  const fs::path torch_venv = venv_path("KB_CUDA_VENV", "cuda-torch-venv");
  auto nvcc = find_program("nvcc");
  if (!nvcc && fs::exists("/usr/local/cuda/bin/nvcc")) nvcc = "/usr/local/cuda/bin/nvcc";
  if (!nvcc || !fs::exists(tvm_venv / "bin/python") || !fs::exists(torch_venv / "bin/python")) {
    GTEST_SKIP() << "nvcc, the tvm-ffi venv or the CUDA torch venv is missing";
  }
  const std::string tvm_python = (tvm_venv / "bin/python").string();
  const fs::path tvm_dir = init("acme/tvm_add", {"cuda"}, tvm_ffi()).target.dir;
  auto tvm = run_process(
      {{nvcc->string(), "-std=c++17", "-arch=sm_90", "-Xcompiler", "-fPIC", "-c", "-isystem",
        probe({tvm_python, "-m", "tvm_ffi.config", "--includedir"}), "-isystem",
        probe({tvm_python, "-m", "tvm_ffi.config", "--dlpack-includedir"}), "-I" + (tvm_dir / "tvm-ffi-ext").string(),
        (tvm_dir / "tvm_add_cuda/tvm_add_cuda.cu").string(), "-o", (tvm_dir / "tvm_add_cuda.o").string()}});
  EXPECT_TRUE(tvm.ok()) << tvm.err;

  const std::string torch_python = (torch_venv / "bin/python").string();
  const std::string torch_dir = probe({torch_python, "-c", "import os, torch; print(os.path.dirname(torch.__file__))"});
  const fs::path stable_dir = init("acme/stable_add", {"cuda"}, stable("2.11")).target.dir;
  auto stable_cuda = run_process(
      {{nvcc->string(), "-std=c++20", "-arch=sm_90", "-Xcompiler", "-fPIC", "-c", "-DUSE_CUDA=1", "-DCUDA_KERNEL",
        "-DTORCH_TARGET_VERSION=0x020b000000000000", "-isystem", torch_dir + "/include",
        (stable_dir / "stable_add_cuda/stable_add.cu").string(), "-o", (stable_dir / "stable_add_cuda.o").string()}});
  EXPECT_TRUE(stable_cuda.ok()) << stable_cuda.err;
  // Only Torch's C shim, as for the CPU build.
  auto undefined = run_process({{"nm", "-u", "-C", (stable_dir / "stable_add_cuda.o").string()}});
  ASSERT_TRUE(undefined.ok()) << undefined.err;
  EXPECT_TRUE(contains(undefined.out, "aoti_torch_get_current_cuda_stream")) << undefined.out;
  for (const auto& line : split(undefined.out, '\n')) {
    EXPECT_FALSE(contains(line, "c10::") || contains(line, "at::")) << line;
  }
}
