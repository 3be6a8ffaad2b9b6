// kb_runtime against the libtorch this test links (Debian's libtorch-dev
// here). Suite ExampleRelu loads examples/relu's build (ctest fixture
// example_relu); the other suites make their own kernel directories.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "kb/runtime.h"
#include "libkb/load/load.h"
#include "libkb/util/fs.h"
#include "libkb/util/zip.h"
#include "tests/unit/hub_server.h"
#include "tests/unit/support.h"

namespace fs = std::filesystem;
namespace rt = kb::runtime;

namespace {

using kb::testing::contains;
using kb::testing::error_of;
using kb::testing::ScopedEnv;

struct TempDir {
  TempDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "kb-runtime-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

const char* kFakeMetadata = R"({"name": "fake", "id": "_fake_cpu_abc1234", "version": 1, "license": "MIT",
  "python-depends": [], "backend": {"type": "cpu"}})";

// The arch variant name this process accepts (e.g. torch113-cxx11-cpu-x86_64-linux).
std::string matching_variant() {
  kb::resolve::Environment env = rt::libtorch_environment();
  return kb::variant::Variant::torch(*env.torch, env.cxx11_abi, env.backend, env.cpu, env.os).str();
}

// The stdout of a shell command, or nullopt when it fails.
std::optional<std::string> capture(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return std::nullopt;
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  return ::pclose(pipe) == 0 ? std::optional(out) : std::nullopt;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::string line;
  for (char c : text) {
    if (c == '\n') {
      out.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

// Real path of the libtorch_cpu this process runs on.
std::string our_libtorch_cpu() {
  Dl_info info{};
  if (!::dladdr(reinterpret_cast<void*>(&at::show_config), &info) || !info.dli_fname) return "";
  std::error_code ec;
  return fs::canonical(info.dli_fname, ec).string();
}

}  // namespace

TEST(LibtorchEnvironment, MatchesTheTorchOfPythonOnTheSameLibrary) {
  const char* python = std::getenv("KB_LIBTORCH_PYTHON");
  std::string py = python ? python : "/usr/bin/python3";
  auto out = capture(
      "'" + py +
      "' -c 'import os, torch\n"
      "print(torch.__version__)\nprint(torch.compiled_with_cxx11_abi())\nprint(torch.version.cuda)\n"
      "libs = sorted({l.split()[-1] for l in open(\"/proc/self/maps\") if \"libtorch_cpu\" in l})\n"
      "print(os.path.realpath(libs[0]) if libs else \"\")' 2>/dev/null");
  if (!out) GTEST_SKIP() << py << " cannot import torch";
  auto facts = lines(*out);
  ASSERT_EQ(facts.size(), 4u) << *out;
  if (facts[3] != our_libtorch_cpu())
    GTEST_SKIP() << py << "'s torch uses " << facts[3] << ", this test " << our_libtorch_cpu();

  const kb::resolve::TorchFacts& ours = rt::libtorch_facts();
  EXPECT_EQ(kb::leading_version(ours.version).major(), kb::leading_version(facts[0]).major());
  EXPECT_EQ(kb::leading_version(ours.version).minor(), kb::leading_version(facts[0]).minor());
  EXPECT_EQ(ours.cxx11_abi, facts[1] == "True");
  EXPECT_EQ(ours.cuda.value_or("None"), facts[2]);

  kb::resolve::Environment env = rt::libtorch_environment();
  kb::resolve::TorchFacts python_facts;
  python_facts.version = facts[0];
  python_facts.cxx11_abi = facts[1] == "True";
  if (facts[2] != "None") python_facts.cuda = facts[2];
  kb::resolve::Environment expected = kb::resolve::make_environment(env.cpu, "Linux", python_facts);
  EXPECT_EQ(env.describe(), expected.describe());
  EXPECT_EQ(env.os, "linux");
}

TEST(LibtorchEnvironment, BackendOverrideIsCpuOrTheDetectedBackend) {
  kb::resolve::Environment detected = rt::libtorch_environment();
  EXPECT_EQ(rt::libtorch_environment("cpu").backend.str(), "cpu");
  std::string supported = detected.backend.str() == "cpu" ? "cpu" : "cpu, " + detected.backend.str();
  EXPECT_EQ(error_of([] { rt::libtorch_environment("x"); }),
            "Invalid backend 'x', system supported backends: " + supported);
}

TEST(RuntimeErrors, MissingPathIsNamed) {
  EXPECT_EQ(error_of([] { rt::load_local_kernel("/nonexistent/kernel"); }),
            "Could not find kernel in /nonexistent/kernel");
}

TEST(RuntimeErrors, NoCompatibleVariantListsEveryVariantWithItsReason) {
  TempDir tmp;
  kb::resolve::Environment env = rt::libtorch_environment();
  kb::Version other_torch({env.torch->major(), env.torch->minor() + 1});
  std::string newer = kb::variant::Variant::torch(other_torch, env.cxx11_abi, env.backend, env.cpu, env.os).str();
  std::string other_abi = kb::variant::Variant::torch(*env.torch, !env.cxx11_abi.value_or(true), env.backend,
                                                      env.cpu, env.os)
                              .str();
  for (const std::string& v : {newer, other_abi, std::string("torch-metal")})
    write(tmp.path / "build" / v / "metadata.json", kFakeMetadata);

  std::string error = error_of([&] { rt::load_local_kernel(tmp.path); });
  EXPECT_TRUE(contains(error, "Cannot find a build variant for this system in " + tmp.path.string())) << error;
  EXPECT_TRUE(contains(error, newer + ": Torch version (" + other_torch.str() +
                                  ") does not match environment Torch version (" + env.torch->str() + ")"))
      << error;
  EXPECT_TRUE(contains(error, other_abi + ": Torch CXX11 ABI")) << error;
  EXPECT_TRUE(contains(error, "torch-metal: backend (metal) does not match system backend")) << error;
}

TEST(RuntimeErrors, VariantWithoutSharedObjectIsNamed) {
  TempDir tmp;
  fs::path variant = tmp.path / "build" / matching_variant();
  write(variant / "metadata.json", kFakeMetadata);
  EXPECT_EQ(error_of([&] { rt::load_local_kernel(tmp.path); }),
            "No shared object for kernel `fake` (id _fake_cpu_abc1234) in " + fs::canonical(variant).string() +
                ": expected _fake_cpu_abc1234.abi3.so (noarch variants are pure Python and cannot be loaded "
                "without Python)");
}

TEST(RuntimeErrors, CorruptSharedObjectIsNamedWithTheLoaderError) {
  TempDir tmp;
  fs::path variant = tmp.path / matching_variant();
  write(variant / "metadata.json", kFakeMetadata);
  write(variant / "_fake_cpu_abc1234.abi3.so", "not an ELF file at all, but long enough to be read as a header\n");
  std::string error = error_of([&] { rt::load_local_kernel(variant); });
  fs::path library = fs::canonical(variant) / "_fake_cpu_abc1234.abi3.so";
  EXPECT_TRUE(contains(error, "Cannot load kernel library " + library.string() + ": ")) << error;
  EXPECT_TRUE(contains(error, "invalid ELF header") || contains(error, "file too short")) << error;
  EXPECT_TRUE(rt::loaded_kernels().empty() || rt::loaded_kernels().back()->library != library);
}

TEST(RuntimeErrors, ABuildNeedingANewerKernelsApiIsRefusedBeforeItsLibraryOpens) {
  TempDir tmp;
  fs::path variant = tmp.path / "build" / matching_variant();
  write(variant / "metadata.json", R"({"name": "fake", "id": "_fake_cpu_abc1234", "version": 1, "license": "MIT",
    "kernels-minver": "99.0.0", "python-depends": [], "backend": {"type": "cpu"}})");
  EXPECT_EQ(error_of([&] { rt::load_local_kernel(tmp.path); }),
            "Kernel 'fake' variant '" + matching_variant() + "' requires kernels>=99.0.0, but version " +
                kb::load::kernels_dist_version() + " is installed. Upgrade kb: its kernels API is " +
                kb::load::kernels_api_version());
}

TEST(RuntimeErrors, AnUnsignedBuildIsRefusedBeforeItsLibraryOpensWhenSignaturesAreRequired) {
  ScopedEnv no_requirement("KERNELS_REQUIRE_SIGNATURE", std::nullopt);
  TempDir tmp;
  fs::path variant = tmp.path / "build" / matching_variant();
  write(variant / "metadata.json", R"({"name": "fake", "id": "_fake_cpu_abc1234", "version": 1, "license": "MIT",
    "python-depends": [], "backend": {"type": "cpu"}})");
  write(variant / "_fake_cpu_abc1234.abi3.so", "not a shared object");
  std::string error = error_of([&] { rt::load_local_kernel(tmp.path, {.require_signature = true}); });
  EXPECT_TRUE(contains(error, "Kernel 'fake' variant '" + matching_variant() +
                                  "': not signed, so its integrity cannot be verified")) << error;
  // The environment variable asks the same.
  ScopedEnv required("KERNELS_REQUIRE_SIGNATURE", "1");
  EXPECT_TRUE(contains(error_of([&] { rt::load_local_kernel(tmp.path); }), "not signed")) << error;
}

TEST(RuntimeErrors, ABuildWhoseArchsTheNamedDeviceCannotRunIsRefusedBeforeItsLibraryOpens) {
  ScopedEnv no_cap(kb::load::kTestCapabilityVariable, std::nullopt);
  TempDir tmp;
  fs::path variant = tmp.path / "build" / matching_variant();
  write(variant / "metadata.json", R"({"name": "fake", "id": "_fake_cuda_abc1234", "version": 1, "license": "MIT",
    "python-depends": [], "backend": {"type": "cuda", "archs": ["9.0a"]}})");
  write(variant / "_fake_cuda_abc1234.abi3.so", "not a library");
  rt::LoadOptions options;
  options.cuda_capability = "8.0";
  EXPECT_EQ(error_of([&] { rt::load_local_kernel(tmp.path, options); }),
            kb::load::arch_refusal_message("fake", matching_variant(),
                                           "CUDA capability 8.0 of the current device is not supported by the "
                                           "architectures of the build: 9.0a"));
  options.cuda_capability = "eight";
  EXPECT_TRUE(contains(error_of([&] { rt::load_local_kernel(tmp.path, options); }), "LoadOptions::cuda_capability"));
  // Past the check (the device fits, none is named, or the check is off),
  // the library is opened: here it is not one.
  rt::LoadOptions fits, unnamed, unchecked;
  fits.cuda_capability = "9.0";
  unchecked.cuda_capability = "8.0";
  unchecked.check_arch = false;
  for (const rt::LoadOptions& passes : {fits, unnamed, unchecked}) {
    std::string error = error_of([&] { rt::load_local_kernel(tmp.path, passes); });
    EXPECT_FALSE(contains(error, "does not support the current device")) << error;
    EXPECT_TRUE(contains(error, "_fake_cuda_abc1234.abi3.so")) << error;
  }
}

TEST(RuntimeErrors, VariantWithoutMetadataIsNamed) {
  TempDir tmp;
  fs::path variant = tmp.path / "build" / matching_variant();
  fs::create_directories(variant);
  std::string error = error_of([&] { rt::load_local_kernel(tmp.path); });
  EXPECT_TRUE(contains(error, (fs::canonical(variant) / "metadata.json").string())) << error;
}

TEST(GetKernel, AnUnmappedRepoIdNeedsARevisionOrAVersion) {
  // Trusted, so no hub is asked before the arguments are checked.
  ScopedEnv unset("LOCAL_KERNELS", std::nullopt);
  EXPECT_EQ(error_of([] { rt::get_kernel("org/relu", {.trust_remote_code = true}); }),
            "A kernel version or revision must be specified. Use `version=<major>` to load the newest build of a "
            "major version, or `revision=<branch, tag or commit>`.");
  ScopedEnv other("LOCAL_KERNELS", "org/other=/k/other");
  EXPECT_EQ(error_of([] { rt::get_kernel("org/relu", {.revision = "main", .version = 1, .trust_remote_code = true}); }),
            "Only one of `revision` or `version` must be specified.");
}

TEST(GetKernel, MalformedEntryIsNamed) {
  ScopedEnv env("LOCAL_KERNELS", "org/relu=/k/relu:broken");
  EXPECT_EQ(error_of([] { rt::get_kernel("org/relu"); }),
            "Invalid LOCAL_KERNELS entry: broken. Expected format: repo_id_1=path_1:repo_id_2=path_2");
}

TEST(GetKernel, MappedToAMissingPathNamesTheRepoAndPath) {
  ScopedEnv env("LOCAL_KERNELS", "org/relu=/non/existing");
  EXPECT_EQ(error_of([] { rt::get_kernel("org/relu"); }),
            "org/relu (LOCAL_KERNELS): Could not find kernel in /non/existing");
}

// examples/relu, built by `kb build examples/relu` (ctest fixture example_relu).
class ExampleRelu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(kernel / "build" / matching_variant()))
      GTEST_SKIP() << kernel / "build" / matching_variant() << " is missing: run kb build examples/relu";
  }
  const fs::path kernel = fs::path(KB_SOURCE_DIR) / "examples" / "relu";
};

TEST_F(ExampleRelu, LoadsTheVariantForThisLibtorchAndCallsReluThroughTheDispatcher) {
  const rt::LoadedKernel& relu = rt::load_local_kernel(kernel);
  EXPECT_EQ(relu.variant_name(), matching_variant());
  EXPECT_EQ(relu.variant_dir, fs::canonical(kernel / "build" / matching_variant()));
  EXPECT_EQ(relu.metadata.name, "relu");
  EXPECT_EQ(relu.ops_namespace, relu.metadata.id);
  EXPECT_TRUE(relu.ops_namespace.rfind("_relu_cpu_", 0) == 0) << relu.ops_namespace;
  EXPECT_EQ(relu.library, relu.variant_dir / (relu.metadata.id + ".abi3.so"));
  EXPECT_EQ(relu.ops, std::vector<std::string>{"relu"});

  torch::Tensor input = torch::linspace(-2, 2, 9);
  torch::Tensor output = torch::full_like(input, 42);
  rt::op(relu, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(output, input);
  EXPECT_TRUE(torch::equal(output, torch::relu(input))) << output;
}

TEST_F(ExampleRelu, LoadingTwiceReturnsTheSameHandle) {
  const rt::LoadedKernel& first = rt::load_local_kernel(kernel);
  EXPECT_EQ(&rt::load_local_kernel(kernel / "build"), &first);
  EXPECT_EQ(&rt::load_local_kernel(kernel / "build" / matching_variant()), &first);
  EXPECT_EQ(&rt::load_local_kernel(kernel, {.backend = "cpu"}), &first);
  int count = 0;
  for (const rt::LoadedKernel* k : rt::loaded_kernels()) count += k == &first;
  EXPECT_EQ(count, 1);
}

TEST_F(ExampleRelu, GetKernelWithOneLocalKernelsEntry) {
  ScopedEnv env("LOCAL_KERNELS", "kb-examples/relu=" + kernel.string());
  const rt::LoadedKernel& relu = rt::get_kernel("kb-examples/relu");
  EXPECT_EQ(&relu, &rt::load_local_kernel(kernel));
  EXPECT_NO_THROW(rt::op(relu, "relu"));
}

TEST_F(ExampleRelu, GetKernelWithSeveralLocalKernelsEntries) {
  ScopedEnv env("LOCAL_KERNELS", "org/missing=/non/existing:kb-examples/relu=" + (kernel / "build").string() +
                                     ":org/variant=" + (kernel / "build" / matching_variant()).string());
  const rt::LoadedKernel& relu = rt::get_kernel("kb-examples/relu");
  EXPECT_EQ(&rt::get_kernel("org/variant"), &relu);
  EXPECT_EQ(error_of([] { rt::get_kernel("org/missing"); }),
            "org/missing (LOCAL_KERNELS): Could not find kernel in /non/existing");
}

TEST_F(ExampleRelu, UnknownOpListsTheKernelsOps) {
  const rt::LoadedKernel& relu = rt::load_local_kernel(kernel);
  std::string error = error_of([&] { rt::op(relu, "gelu"); });
  EXPECT_TRUE(contains(error, "has no op `gelu` in namespace " + relu.ops_namespace + "; its ops: relu")) << error;
}

TEST_F(ExampleRelu, ANamespaceAlreadyRegisteredOutsideTheRuntimeIsAnErrorNotAnAbort) {
  // The same library opened behind the runtime's back registers its
  // namespace first (as a Python import of the kernel would).
  fs::path variant = kernel / "build" / matching_variant();
  kb::metadata::Metadata meta = kb::metadata::read_metadata(variant / "metadata.json");
  ASSERT_NE(::dlopen((variant / (meta.id + ".abi3.so")).c_str(), RTLD_LAZY | RTLD_LOCAL), nullptr) << dlerror();
  std::string error = error_of([&] { rt::load_local_kernel(kernel); });
  EXPECT_TRUE(contains(error, "its op namespace " + meta.id +
                                  " is already registered in this process (by a library loaded without "
                                  "kb::runtime)"))
      << error;
  EXPECT_TRUE(rt::loaded_kernels().empty());
}

// examples/relu published with `kb upload` to the loopback Hugging Face Hub
// (tests/fixtures/hub-server), then loaded by a libtorch program.
class ExampleReluHub : public ExampleRelu {
 protected:
  void SetUp() override {
    ExampleRelu::SetUp();
    if (IsSkipped()) return;
    server = std::make_unique<kb::testing::HubServer>(
        tmp.path / "hub", std::vector<std::string>{"--token", kToken, "--trusted-org", "kb-examples", "--org", "shady"});
    endpoint.emplace("HF_ENDPOINT", server->url());
    token.emplace("HF_TOKEN", kToken);
    cache_env.emplace("KERNELS_CACHE", cache.string());
  }

  void publish(const std::string& repo_id) {
    std::string command = std::string(KB_BINARY_DIR) + "/bin/kb upload " + kernel.string() + " --repo-id " +
                          repo_id + " --allow-nonportable -q";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  static constexpr const char* kToken = "hf_kb_runtime";
  TempDir tmp;
  fs::path cache = tmp.path / "cache";
  std::unique_ptr<kb::testing::HubServer> server;
  ScopedEnv no_hub{"KB_HUB", std::nullopt};
  ScopedEnv no_local{"LOCAL_KERNELS", std::nullopt};
  ScopedEnv not_offline{"HF_HUB_OFFLINE", std::nullopt};
  std::optional<ScopedEnv> endpoint, token, cache_env;
};

TEST_F(ExampleReluHub, GetKernelByVersionFetchesTheVariantIntoTheCacheAndLoadsIt) {
  publish("kb-examples/relu");
  const rt::LoadedKernel& relu = rt::get_kernel("kb-examples/relu", {.version = 1});
  EXPECT_EQ(relu.variant_name(), matching_variant());
  EXPECT_TRUE(contains(relu.variant_dir.string(), fs::canonical(cache).string() + "/kernels--kb-examples--relu/"))
      << relu.variant_dir;
  ASSERT_TRUE(relu.repo_info.has_value());
  EXPECT_EQ(relu.repo_info->repo_id, "kb-examples/relu");
  EXPECT_EQ(relu.repo_info->revision.size(), 40u) << relu.repo_info->revision;  // the commit of branch v1
  torch::Tensor input = torch::linspace(-2, 2, 9);
  torch::Tensor output = torch::empty_like(input);
  rt::op(relu, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(output, input);
  EXPECT_TRUE(torch::equal(output, torch::relu(input)));
  // By revision, the same commit: the same handle.
  EXPECT_EQ(&rt::get_kernel("kb-examples/relu", {.revision = relu.repo_info->revision}), &relu);
}

TEST_F(ExampleReluHub, AnUnsignedHubBuildWarnsAndIsRefusedWhenSignaturesAreRequired) {
  ScopedEnv no_requirement("KERNELS_REQUIRE_SIGNATURE", std::nullopt);
  publish("kb-examples/relu");
  std::string error = error_of([&] { rt::get_kernel("kb-examples/relu", {.version = 1, .require_signature = true}); });
  EXPECT_TRUE(contains(error, "not signed, so its integrity cannot be verified")) << error;
  EXPECT_TRUE(contains(error, "KERNELS_REQUIRE_SIGNATURE")) << error;
  const rt::LoadedKernel& relu = rt::get_kernel("kb-examples/relu", {.version = 1});
  bool warned = false;
  for (const std::string& w : relu.warnings) warned |= contains(w, "not signed, so its integrity cannot be verified");
  EXPECT_TRUE(warned);
}

TEST_F(ExampleReluHub, OfflineLoadsOnlyWhatTheCacheHolds) {
  publish("kb-examples/relu");
  std::string cold = error_of([] { rt::get_kernel("kb-examples/relu", {.version = 1, .local_files_only = true}); });
  EXPECT_TRUE(contains(cold, "kb-examples/relu")) << cold;
  const rt::LoadedKernel& online = rt::get_kernel("kb-examples/relu", {.version = 1});
  server.reset();  // nothing to answer from now on
  ScopedEnv offline("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(&rt::get_kernel("kb-examples/relu", {.version = 1}), &online);
}

TEST_F(ExampleReluHub, UntrustedPublishersNeedTrustRemoteCode) {
  publish("shady/relu");
  EXPECT_EQ(error_of([] { rt::get_kernel("shady/relu", {.version = 1}); }),
            "Kernel repository 'shady/relu' is not from a trusted publisher. Set trust_remote_code=True or add the "
            "repository ID to the trust_remote_code allowlist to allow loading kernels from untrusted sources.");
  rt::LoadOptions other_listed;
  other_listed.version = 1;
  other_listed.trusted_repos = {"shady/other"};
  EXPECT_TRUE(contains(error_of([&] { rt::get_kernel("shady/relu", other_listed); }), "not from a trusted publisher"));
  rt::LoadOptions listed;
  listed.version = 1;
  listed.trusted_repos = {"shady/relu"};
  const rt::LoadedKernel& relu = rt::get_kernel("shady/relu", listed);
  EXPECT_EQ(relu.repo_info->repo_id, "shady/relu");
  EXPECT_EQ(&rt::get_kernel("shady/relu", {.version = 1, .trust_remote_code = true}), &relu);
}

TEST_F(ExampleReluHub, AMissingVersionListsTheVersionsThereAre) {
  publish("kb-examples/relu");
  EXPECT_EQ(error_of([] { rt::get_kernel("kb-examples/relu", {.version = 9}); }),
            "Version 9 not found, available versions: 1");
}

TEST_F(ExampleReluHub, LoadKernelFollowsTheLockAndRefetchesAnAlteredCachedCopy) {
  publish("kb-examples/relu");
  fs::path project = tmp.path / "app";
  write(project / "pyproject.toml", "[project]\nname = \"app\"\n\n[tool.kernels.dependencies]\n\"kb-examples/relu\" = 1\n");
  std::string kb = std::string(KB_BINARY_DIR) + "/bin/kb";
  ASSERT_EQ(std::system((kb + " lock --format legacy " + project.string() + " >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(std::system((kb + " download " + project.string() + " >/dev/null 2>&1").c_str()), 0);
  std::string locked_sha =
      nlohmann::json::parse(std::ifstream(project / "kernels.lock"))[0]["sha"].get<std::string>();

  // Alter the cached copy of the variant's Python file (through its blob).
  std::vector<fs::path> init_files;
  for (const auto& entry : fs::recursive_directory_iterator(cache))
    if (entry.path().filename() == "__init__.py" && contains(entry.path().string(), matching_variant()))
      init_files.push_back(entry.path());
  ASSERT_EQ(init_files.size(), 1u);
  fs::path target = fs::canonical(init_files[0]);
  std::string original = [&] {
    std::ifstream in(target);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
  write(target, original + "\n# altered\n");
  ASSERT_EQ(fs::file_size(target), original.size() + 11) << "the cached file was not altered";

  EXPECT_EQ(error_of([&] { rt::load_kernel("org/unlocked", project / "kernels.lock"); }),
            "Kernel `org/unlocked` is not locked in " + (project / "kernels.lock").string());
  const rt::LoadedKernel& relu = rt::load_kernel("kb-examples/relu", project / "kernels.lock");
  ASSERT_TRUE(relu.repo_info.has_value());
  EXPECT_EQ(relu.repo_info->revision, locked_sha);
  std::ifstream restored(relu.variant_dir / "__init__.py");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(restored), {}), original);
  torch::Tensor input = torch::linspace(-2, 2, 9);
  torch::Tensor output = torch::empty_like(input);
  rt::op(relu, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(output, input);
  EXPECT_TRUE(torch::equal(output, torch::relu(input)));
}

// examples/relu's variant rearranged into the zip build layout: the package in
// <id>.zip, the shared object next to it.
class ExampleReluZipLayout : public ExampleRelu {
 protected:
  fs::path make_zip_variant(const std::vector<kb::ZipInput>& extra = {}) {
    fs::path built = kernel / "build" / matching_variant();
    kb::metadata::Metadata meta = kb::metadata::read_metadata(built / "metadata.json");
    fs::path variant = tmp.path / "build" / matching_variant();
    fs::create_directories(variant);
    fs::copy_file(built / (meta.id + ".abi3.so"), variant / (meta.id + ".abi3.so"));
    std::vector<kb::ZipInput> entries = {{"__init__.py", kb::read_file(built / "__init__.py")},
                                         {"_ops.py", kb::read_file(built / "_ops.py")}};
    entries.insert(entries.end(), extra.begin(), extra.end());
    kb::write_file_atomic(variant / (meta.id + ".zip"), kb::make_zip(entries));
    meta.digest.reset();
    kb::metadata::set_zip_layout(meta);
    kb::metadata::write_metadata(variant / "metadata.json", meta);
    return variant;
  }
  TempDir tmp;
};

TEST_F(ExampleReluZipLayout, LoadsTheSharedObjectNextToTheArchive) {
  fs::path variant = make_zip_variant();
  const rt::LoadedKernel& relu = rt::load_local_kernel(tmp.path);
  EXPECT_EQ(relu.metadata.build_layout, kb::config::BuildLayout::Zip);
  EXPECT_EQ(relu.library, fs::canonical(variant) / (relu.metadata.id + ".abi3.so"));
  torch::Tensor input = torch::linspace(-2, 2, 9);
  torch::Tensor output = torch::empty_like(input);
  rt::op(relu, "relu").typed<void(at::Tensor&, const at::Tensor&)>().call(output, input);
  EXPECT_TRUE(torch::equal(output, torch::relu(input)));
}

TEST_F(ExampleReluZipLayout, AHostileArchiveIsRefusedBeforeTheLibraryOpens) {
  fs::path variant = make_zip_variant();
  kb::metadata::Metadata meta = kb::metadata::read_metadata(variant / "metadata.json");
  std::string archive = kb::read_file(variant / (meta.id + ".zip"));
  // Rename `_ops.py` to `../x.py` in place (same length), central directory and local header alike.
  for (size_t at = archive.find("_ops.py"); at != std::string::npos; at = archive.find("_ops.py", at))
    archive.replace(at, 7, "../x.py");
  kb::write_file_atomic(variant / (meta.id + ".zip"), archive);
  std::string error = error_of([&] { rt::load_local_kernel(tmp.path); });
  EXPECT_EQ(error, "Invalid kernel archive `" + (variant / (meta.id + ".zip")).string() +
                       "`: entry `../x.py`: path escapes the archive (`..`)");
  EXPECT_TRUE(rt::loaded_kernels().empty());
}
