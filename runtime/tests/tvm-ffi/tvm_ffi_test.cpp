// kb_runtime_tvm_ffi in a program that links libtvm_ffi and nothing of torch
// or Python. The kernel is tests/fixtures/kernels/relu-tvm-ffi, built for
// this tvm-ffi by the build (KB_TVM_FFI_FIXTURE_KERNEL; KB_TVM_FFI_TEST_KERNEL
// names another build of it, such as one `kb build` made).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "kb/tvm_ffi.h"
#include "libkb/hub/hub.h"
#include "libkb/util/fs.h"
#include "tests/unit/support.h"

namespace fs = std::filesystem;
namespace tf = kb::runtime::tvm_ffi;

namespace {

using kb::testing::contains;
using kb::testing::error_of;
using kb::testing::ScopedEnv;

fs::path fixture_kernel() {
  const char* other = std::getenv("KB_TVM_FFI_TEST_KERNEL");
  return other && *other ? fs::path(other) : fs::path(KB_TVM_FFI_FIXTURE_KERNEL);
}

// The CPU variant this program loads: tvm-ffi<MM>-cpu-<cpu>-<os>.
std::string cpu_variant() {
  kb::resolve::Environment env = tf::environment();
  return kb::variant::Variant::tvm_ffi(*env.tvm_ffi, kb::variant::Compute{}, env.cpu, env.os).str();
}

// A one-dimensional CPU tensor over `data`.
template <typename T>
DLTensor tensor(std::vector<T>& data, DLDataType dtype, int64_t* shape) {
  *shape = static_cast<int64_t>(data.size());
  DLTensor t{};
  t.data = data.data();
  t.device = {kDLCPU, 0};
  t.ndim = 1;
  t.dtype = dtype;
  t.shape = shape;
  return t;
}

TVMFFIAny tensor_arg(DLTensor* t) {
  TVMFFIAny a{};
  a.type_index = kTVMFFIDLTensorPtr;
  a.v_ptr = t;
  return a;
}

constexpr DLDataType kFloat32{kDLFloat, 32, 1};
constexpr DLDataType kFloat64{kDLFloat, 64, 1};

class TvmFfiRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(variant_dir)) << variant_dir << " is missing: the build makes it";
    tmp = std::make_unique<kb::TempDirGuard>(kb::make_temp_dir(KB_BINARY_DIR, "tvm-ffi-runtime"));
    loaded_before = tf::loaded_kernels().size();
  }

  // A kernel directory whose build/ holds `variant`, with the files of the
  // fixture's variant (its shared object included) or `metadata_only`.
  fs::path kernel_with(const std::vector<std::string>& variants, bool metadata_only = false) {
    fs::path root = tmp->path() / ("kernel" + std::to_string(++kernels));
    for (const std::string& name : variants) {
      fs::path dir = root / "build" / name;
      fs::create_directories(dir);
      for (const auto& entry : fs::directory_iterator(variant_dir))
        if (!metadata_only || entry.path().filename() == "metadata.json")
          fs::copy(entry.path(), dir / entry.path().filename());
    }
    return root;
  }

  const fs::path kernel = fixture_kernel();
  const fs::path variant_dir = kernel / "build" / cpu_variant();
  std::unique_ptr<kb::TempDirGuard> tmp;
  int kernels = 0;
  size_t loaded_before = 0;  // failed loads leave no kernel behind
};

TEST(TvmFfiEnvironment, IsTheTvmFfiThisProgramRunsOnWithoutTorch) {
  kb::resolve::Environment env = tf::environment();
  // The library this program links is the one it was compiled against.
  EXPECT_EQ(tf::tvm_ffi_version(), kb::Version({TVM_FFI_VERSION_MAJOR, TVM_FFI_VERSION_MINOR}));
  EXPECT_EQ(env.tvm_ffi, tf::tvm_ffi_version());
  EXPECT_TRUE(env.tvm_ffi_only);
  EXPECT_FALSE(env.torch.has_value());
  EXPECT_FALSE(env.python.has_value());
  EXPECT_EQ(env.backend.str(), "cpu");
  EXPECT_EQ(tf::environment("cpu").backend.str(), "cpu");
  EXPECT_EQ(tf::environment("cuda", "12.8").backend.str(), "cu128");
  EXPECT_EQ(error_of([] { tf::environment("rocm"); }), "Invalid backend 'rocm', supported backends: cpu, cuda");
  if (void* cuda = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
    ::dlclose(cuda);
    GTEST_SKIP() << "a CUDA driver is installed: its version is used";
  }
  EXPECT_EQ(error_of([] { tf::environment("cuda"); }),
            "The cuda backend needs a CUDA version: no CUDA driver (libcuda.so.1) reports one; name it in "
            "LoadOptions::cuda_version");
}

TEST_F(TvmFfiRuntime, LoadsTheKernelDirectoryItsBuildDirectoryAndItsVariant) {
  const tf::LoadedKernel& relu = tf::load_local_kernel(kernel);
  EXPECT_EQ(relu.variant_name(), cpu_variant());
  ASSERT_TRUE(relu.variant.has_value());
  EXPECT_EQ(relu.variant->kind(), kb::variant::Kind::TvmFfi);
  EXPECT_EQ(relu.variant_dir, fs::canonical(variant_dir));
  EXPECT_EQ(relu.metadata.name, "relu-tvm-ffi");
  EXPECT_EQ(relu.library, relu.variant_dir / (relu.metadata.id + ".so"));
  EXPECT_EQ(relu.functions, (std::vector<std::string>{"numel", "relu"}));
  EXPECT_NE(relu.handle, nullptr);
  EXPECT_FALSE(relu.repo_info.has_value());

  EXPECT_EQ(&tf::load_local_kernel(kernel / "build"), &relu);
  const tf::LoadedKernel& direct = tf::load_local_kernel(variant_dir);
  EXPECT_EQ(&direct, &relu);  // the same directory: the first load's record
  int count = 0;
  for (const tf::LoadedKernel* k : tf::loaded_kernels()) count += k == &relu;
  EXPECT_EQ(count, 1);
}

TEST_F(TvmFfiRuntime, ADirectlyGivenVariantDirectoryLoadsToo) {
  fs::path copy = kernel_with({cpu_variant()});
  const tf::LoadedKernel& relu = tf::load_local_kernel(copy / "build" / cpu_variant());
  EXPECT_FALSE(relu.variant.has_value());
  EXPECT_EQ(relu.variant_name(), cpu_variant());
  EXPECT_EQ(relu.functions, (std::vector<std::string>{"numel", "relu"}));
}

TEST_F(TvmFfiRuntime, ThreadsLoadingOneKernelShareOneLoad) {
  std::vector<const tf::LoadedKernel*> seen(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = &tf::load_local_kernel(i % 2 ? kernel : kernel / "build"); });
  for (auto& t : threads) t.join();
  for (const tf::LoadedKernel* k : seen) EXPECT_EQ(k, seen[0]);
  int count = 0;
  for (const tf::LoadedKernel* k : tf::loaded_kernels()) count += k == seen[0];
  EXPECT_EQ(count, 1);
  // The library is open once: dlopen hands out the handle the load holds.
  void* again = ::dlopen(seen[0]->library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  EXPECT_EQ(again, seen[0]->handle);
  if (again) ::dlclose(again);
}

TEST_F(TvmFfiRuntime, RequiredSignaturesRefuseUnsignedBuildsAndAcceptAKeyThePolicyTrusts) {
  ScopedEnv no_requirement("KERNELS_REQUIRE_SIGNATURE", std::nullopt);
  fs::path copy = kernel_with({cpu_variant()});
  std::string error = error_of([&] { tf::load_local_kernel(copy, {.require_signature = true}); });
  EXPECT_TRUE(contains(error, "not signed, so its integrity cannot be verified")) << error;
  EXPECT_EQ(tf::loaded_kernels().size(), loaded_before);

  // Signed with `kb sign` and a key openssl makes (this program holds no signer).
  const fs::path key = tmp->path() / "key.pem", pub = tmp->path() / "key.pub";
  const std::string commands = "openssl ecparam -name prime256v1 -genkey -noout -out " + key.string() +
                               " && openssl ec -in " + key.string() + " -pubout -out " + pub.string() +
                               " 2>/dev/null && " + KB_BINARY_DIR + "/bin/kb sign --key " + key.string() + " " +
                               copy.string() + " >/dev/null";
  ASSERT_EQ(std::system(commands.c_str()), 0) << commands;
  kb::write_file_atomic(tmp->path() / "policy.toml", "[[public-key]]\npath = \"key.pub\"\n");
  ScopedEnv policy("KB_SIGNATURE_POLICY", (tmp->path() / "policy.toml").string());
  const tf::LoadedKernel& relu = tf::load_local_kernel(copy, {.require_signature = true});
  EXPECT_EQ(relu.variant_dir.filename(), cpu_variant());
}

TEST_F(TvmFfiRuntime, CallsReluOnADLTensor) {
  const tf::LoadedKernel& relu = tf::load_local_kernel(kernel);
  std::vector<float> input = {-2.0f, -0.5f, 0.0f, 0.25f, 3.0f}, output(input.size(), 42.0f);
  int64_t in_shape = 0, out_shape = 0;
  DLTensor in = tensor(input, kFloat32, &in_shape), out = tensor(output, kFloat32, &out_shape);
  TVMFFIAny args[] = {tensor_arg(&out), tensor_arg(&in)};
  TVMFFIAny result = tf::call(relu, "relu", args);
  EXPECT_EQ(result.type_index, kTVMFFINone);
  EXPECT_EQ(output, (std::vector<float>{0.0f, 0.0f, 0.0f, 0.25f, 3.0f}));
  EXPECT_EQ(input[0], -2.0f);  // the input is left alone
}

TEST_F(TvmFfiRuntime, NumelReturnsAnInteger) {
  const tf::LoadedKernel& relu = tf::load_local_kernel(kernel);
  std::vector<float> data(7);
  int64_t shape = 0;
  DLTensor t = tensor(data, kFloat32, &shape);
  TVMFFIAny args[] = {tensor_arg(&t)};
  TVMFFIAny result = tf::call(relu, "numel", args);
  ASSERT_EQ(result.type_index, kTVMFFIInt);
  EXPECT_EQ(result.v_int64, 7);

  // The same through the function pointer, as a program calling it often would.
  TVMFFISafeCallType numel = tf::function(relu, "numel");
  TVMFFIAny direct{};
  direct.type_index = kTVMFFINone;
  ASSERT_EQ(numel(nullptr, args, 1, &direct), 0);
  EXPECT_EQ(direct.v_int64, 7);
}

TEST_F(TvmFfiRuntime, TheKernelsErrorIsThrownWithItsKindAndMessage) {
  const tf::LoadedKernel& relu = tf::load_local_kernel(kernel);
  std::vector<double> input = {1.0, -1.0};
  std::vector<float> output(2);
  int64_t in_shape = 0, out_shape = 0;
  DLTensor in = tensor(input, kFloat64, &in_shape), out = tensor(output, kFloat32, &out_shape);
  TVMFFIAny args[] = {tensor_arg(&out), tensor_arg(&in)};
  EXPECT_EQ(error_of([&] { tf::call(relu, "relu", args); }),
            "relu-tvm-ffi relu: TypeError: relu: input must be float32");
  // The error was taken: the next call succeeds and raises nothing stale.
  std::vector<float> good = {-1.0f, 2.0f};
  in = tensor(good, kFloat32, &in_shape);
  tf::call(relu, "relu", args);
  EXPECT_EQ(output, (std::vector<float>{0.0f, 2.0f}));
  // Too few arguments: tvm-ffi's own check, through the same path.
  std::string error = error_of([&] { tf::call(relu, "relu", std::span<const TVMFFIAny>(args, 1)); });
  EXPECT_TRUE(contains(error, "relu-tvm-ffi relu: TypeError: ")) << error;
}

TEST_F(TvmFfiRuntime, AnUnknownFunctionListsTheExportedOnes) {
  const tf::LoadedKernel& relu = tf::load_local_kernel(kernel);
  std::string expected = "Kernel `relu-tvm-ffi` loaded from " + relu.variant_dir.string() +
                         " has no function `gelu`; its functions: numel, relu";
  EXPECT_EQ(error_of([&] { tf::function(relu, "gelu"); }), expected);
  EXPECT_EQ(error_of([&] { tf::call(relu, "gelu", {}); }), expected);
}

TEST_F(TvmFfiRuntime, AVariantOfAnotherTvmFfiVersionIsRefused) {
  fs::path other = kernel_with({"tvm-ffi09-cpu-x86_64-linux"});
  kb::resolve::Environment env = tf::environment();
  std::string reason =
      "tvm-ffi version (0.9) does not match environment tvm-ffi version (" + env.tvm_ffi->major_minor() + ")";
  std::string error = error_of([&] { tf::load_local_kernel(other); });
  EXPECT_EQ(error, "Cannot find a build variant for this system in " + other.string() + " (" + env.describe() +
                       "):\n\ntvm-ffi09-cpu-x86_64-linux: " + reason)
      << error;
  fs::path direct = other / "build" / "tvm-ffi09-cpu-x86_64-linux";
  EXPECT_EQ(error_of([&] { tf::load_local_kernel(direct); }),
            "Cannot load kernel from " + fs::canonical(direct).string() + ": tvm-ffi09-cpu-x86_64-linux: " + reason);
  EXPECT_EQ(tf::loaded_kernels().size(), loaded_before);
}

TEST_F(TvmFfiRuntime, TorchVariantsAreNotLoaded) {
  const std::string torch_variant = "torch214-cxx11-cpu-" + tf::environment().cpu + "-linux";
  const std::string why = "not a tvm-ffi variant (a program without torch and Python loads only tvm-ffi variants)";
  fs::path torch_only = kernel_with({torch_variant, "torch-universal"}, true);
  std::string error = error_of([&] { tf::load_local_kernel(torch_only); });
  EXPECT_TRUE(contains(error, "Cannot find a build variant for this system in " + torch_only.string())) << error;
  EXPECT_TRUE(contains(error, torch_variant + ": " + why)) << error;
  EXPECT_TRUE(contains(error, "torch-universal: " + why)) << error;

  fs::path direct = torch_only / "build" / torch_variant;
  EXPECT_EQ(error_of([&] { tf::load_local_kernel(direct); }),
            "Cannot load kernel from " + fs::canonical(direct).string() + ": " + torch_variant + ": " + why);

  // Beside a tvm-ffi variant, the tvm-ffi variant loads.
  fs::path both = kernel_with({torch_variant, "torch-universal", cpu_variant()});
  EXPECT_EQ(tf::load_local_kernel(both).variant_name(), cpu_variant());
}

TEST_F(TvmFfiRuntime, TheCudaBackendRefusesTheCpuBuild) {
  fs::path cpu_only = kernel_with({cpu_variant()});
  std::string error = error_of([&] { tf::load_local_kernel(cpu_only, {.backend = "cuda", .cuda_version = "12.9"}); });
  EXPECT_EQ(error, "Cannot find a build variant for this system in " + cpu_only.string() + " (" +
                       tf::environment("cuda", "12.9").describe() + "):\n\n" + cpu_variant() +
                       ": backend (cpu) does not match selected backend (cu129)")
      << error;
  EXPECT_TRUE(contains(tf::environment("cuda", "12.9").describe(), ", cu129, "))
      << tf::environment("cuda", "12.9").describe();
  EXPECT_EQ(tf::loaded_kernels().size(), loaded_before);
}

TEST_F(TvmFfiRuntime, AVariantWithoutItsLibraryIsNamed) {
  fs::path bare = kernel_with({cpu_variant()}, true);
  fs::path dir = fs::canonical(bare / "build" / cpu_variant());
  std::string id = kb::metadata::read_metadata(dir / "metadata.json").id;
  EXPECT_EQ(error_of([&] { tf::load_local_kernel(bare); }),
            "Cannot load kernel from " + dir.string() + ": no tvm-ffi library " + id + ".so");
  // A torch build's extension in a directory named as a tvm-ffi variant.
  kb::write_file_atomic(dir / (id + ".abi3.so"), "");
  EXPECT_EQ(error_of([&] { tf::load_local_kernel(bare); }), "Cannot load kernel from " + dir.string() +
                                                                ": no tvm-ffi library " + id + ".so (it holds " + id +
                                                                ".abi3.so, a Python extension: not a tvm-ffi build)");
  EXPECT_EQ(tf::loaded_kernels().size(), loaded_before);
}

TEST_F(TvmFfiRuntime, ALibraryThatIsNoSharedObjectIsNamed) {
  fs::path broken = kernel_with({cpu_variant()}, true);
  fs::path dir = fs::canonical(broken / "build" / cpu_variant());
  std::string id = kb::metadata::read_metadata(dir / "metadata.json").id;
  kb::write_file_atomic(dir / (id + ".so"), "not a library");
  EXPECT_EQ(error_of([&] { tf::load_local_kernel(broken); }),
            (dir / (id + ".so")).string() + ": not an ELF shared object");
}

TEST_F(TvmFfiRuntime, GetKernelThroughLocalKernels) {
  ScopedEnv env("LOCAL_KERNELS", "kb-test/relu-tvm-ffi=" + kernel.string() + ":kb-test/missing=/non/existing");
  const tf::LoadedKernel& relu = tf::get_kernel("kb-test/relu-tvm-ffi");
  EXPECT_EQ(&relu, &tf::load_local_kernel(kernel));
  EXPECT_EQ(error_of([] { tf::get_kernel("kb-test/missing"); }),
            "kb-test/missing (LOCAL_KERNELS): Could not find kernel in /non/existing");
}

TEST_F(TvmFfiRuntime, GetKernelFetchesOnlyTheTvmFfiVariantFromAHub) {
  // A hub repository holding the tvm-ffi build beside a torch build and a
  // variant of another tvm-ffi version, on branch v1.
  fs::path hub_root = tmp->path() / "hub", cache = tmp->path() / "cache";
  fs::path published = kernel_with({cpu_variant(), "tvm-ffi09-cpu-x86_64-linux"});
  fs::path torch_dir = published / "build" / ("torch214-cxx11-cpu-" + tf::environment().cpu + "-linux");
  fs::create_directories(torch_dir);
  fs::copy(variant_dir / "metadata.json", torch_dir / "metadata.json");
  kb::hub::PublishRequest request;
  request.branch = "v1";
  request.message = "relu-tvm-ffi";
  for (const auto& entry : fs::recursive_directory_iterator(published / "build"))
    if (entry.is_regular_file())
      request.operations.push_back(
          {kb::hub::FileOperation::Kind::Add, fs::relative(entry.path(), published).generic_string(), entry.path()});
  kb::hub::open_hub("local:" + hub_root.string())->publish("kb-test/relu-tvm-ffi", request);

  ScopedEnv hub("KB_HUB", "local:" + hub_root.string());
  ScopedEnv cache_env("KERNELS_CACHE", cache.string());
  ScopedEnv no_local("LOCAL_KERNELS", std::nullopt);
  ScopedEnv online("HF_HUB_OFFLINE", std::nullopt);
  const tf::LoadedKernel& relu = tf::get_kernel("kb-test/relu-tvm-ffi", {.version = 1});
  EXPECT_EQ(relu.variant_name(), cpu_variant());
  EXPECT_TRUE(contains(relu.variant_dir.string(), fs::canonical(cache).string())) << relu.variant_dir;
  ASSERT_TRUE(relu.repo_info.has_value());
  EXPECT_EQ(relu.repo_info->repo_id, "kb-test/relu-tvm-ffi");
  EXPECT_EQ(relu.repo_info->revision.size(), 40u) << relu.repo_info->revision;
  // Only the variant for this program was fetched.
  std::vector<std::string> fetched;
  for (const auto& entry : fs::recursive_directory_iterator(cache))
    if (entry.is_directory() && entry.path().parent_path().filename() == "build")
      fetched.push_back(entry.path().filename().string());
  EXPECT_EQ(fetched, std::vector<std::string>{cpu_variant()});

  std::vector<float> data(3);
  int64_t shape = 0;
  DLTensor t = tensor(data, kFloat32, &shape);
  TVMFFIAny args[] = {tensor_arg(&t)};
  EXPECT_EQ(tf::call(relu, "numel", args).v_int64, 3);
  // By revision, the same commit: the same kernel.
  EXPECT_EQ(&tf::get_kernel("kb-test/relu-tvm-ffi", {.revision = relu.repo_info->revision}), &relu);
}

}  // namespace
