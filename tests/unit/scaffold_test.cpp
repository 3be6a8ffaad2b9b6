#include <git2.h>
#include <gtest/gtest.h>

#include <toml++/toml.h>
#include <algorithm>
#include <functional>
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

using kb::testing::error_of;

std::set<std::string> paths_of(const std::vector<ScaffoldFile>& files) {
  std::set<std::string> paths;
  for (const auto& f : files) paths.insert(f.path);
  return paths;
}

const ScaffoldFile& file_named(const std::vector<ScaffoldFile>& files, const std::string& path) {
  auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
  if (it == files.end()) throw std::runtime_error("no scaffold file " + path);
  return *it;
}

const std::set<std::string> kCommonFiles = {
    ".gitattributes",
    ".gitignore",
    "CARD.md",
    "Makefile",
    "benchmarks/benchmark.py",
    "build.toml",
    "example.py",
    "tests/__init__.py",
    "tests/test_relu.py",
    "torch-ext/relu/__init__.py",
    "torch-ext/torch_binding.cpp",
    "torch-ext/torch_binding.h",
};

std::set<std::string> with_common(std::initializer_list<std::string> extra) {
  std::set<std::string> all = kCommonFiles;
  all.insert(extra.begin(), extra.end());
  return all;
}

// Paths staged in the index of the repository at `dir`.
std::set<std::string> staged_paths(const fs::path& dir) {
  git_libgit2_init();
  git_repository* repo = nullptr;
  EXPECT_EQ(git_repository_open(&repo, dir.c_str()), 0);
  git_index* index = nullptr;
  EXPECT_EQ(git_repository_index(&index, repo), 0);
  std::set<std::string> paths;
  for (size_t i = 0; i < git_index_entrycount(index); ++i) paths.insert(git_index_get_byindex(index, i)->path);
  git_index_free(index);
  git_repository_free(repo);
  git_libgit2_shutdown();
  return paths;
}

bool head_is_unborn(const fs::path& dir) {
  git_libgit2_init();
  git_repository* repo = nullptr;
  EXPECT_EQ(git_repository_open(&repo, dir.c_str()), 0);
  bool unborn = git_repository_head_unborn(repo) == 1;
  git_repository_free(repo);
  git_libgit2_shutdown();
  return unborn;
}

class ScaffoldDir : public ::testing::Test {
 protected:
  void SetUp() override { root_ = make_temp_dir(fs::temp_directory_path(), "kb-scaffold-test"); }
  void TearDown() override { fs::remove_all(root_); }
  InitOptions options(std::optional<std::string> path, std::optional<std::string> name) const {
    InitOptions o;
    o.path = std::move(path);
    o.name = std::move(name);
    o.cwd = root_;
    return o;
  }
  fs::path root_;
};

}  // namespace

TEST(ScaffoldNames, DerivedFromOwnerRepo) {
  auto n = parse_repo_names("my-org/My_Fancy-kernel");
  EXPECT_EQ(n.owner, "my-org");
  EXPECT_EQ(n.repo, "My_Fancy-kernel");
  EXPECT_EQ(n.display_name, "My-Fancy-kernel");
  EXPECT_EQ(n.module_name, "my_fancy_kernel");
  EXPECT_EQ(n.class_name, "MyFancyKernel");
  EXPECT_EQ(n.repo_id, "my-org/My-Fancy-kernel");

  auto simple = parse_repo_names("kb-examples/silu_and_mul");
  EXPECT_EQ(simple.display_name, "silu-and-mul");
  EXPECT_EQ(simple.module_name, "silu_and_mul");
  EXPECT_EQ(simple.class_name, "SiluAndMul");
  EXPECT_EQ(simple.repo_id, "kb-examples/silu-and-mul");
}

TEST(ScaffoldNames, RejectsAnythingButOwnerSlashRepo) {
  for (const char* bad : {"relu", "a/b/c", "/relu", "org/", "/", ""}) {
    EXPECT_EQ(error_of([&] { parse_repo_names(bad); }), "`" + std::string(bad) + "` must be <owner>/<repo>") << bad;
    EXPECT_FALSE(try_parse_repo_names(bad).has_value()) << bad;
  }
}

TEST(ScaffoldBackends, CaseInsensitiveDedupedInOrder) {
  EXPECT_EQ(parse_backends({"CUDA"}), std::vector<std::string>{"cuda"});
  EXPECT_EQ(parse_backends({"xpu", "cpu,Xpu", "cuda"}), (std::vector<std::string>{"xpu", "cpu", "cuda"}));
  EXPECT_EQ(parse_backends({"all"}), all_backend_names());
  auto metal_first = parse_backends({"metal", "ALL"});
  ASSERT_EQ(metal_first.size(), 8u);
  EXPECT_EQ(metal_first.front(), "metal");
  EXPECT_EQ(std::set<std::string>(metal_first.begin(), metal_first.end()),
            std::set<std::string>(all_backend_names().begin(), all_backend_names().end()));
}

TEST(ScaffoldBackends, UnknownBackendIsAnError) {
  auto message = error_of([] { parse_backends({"cpu", "cudaa"}); });
  EXPECT_TRUE(starts_with(message, "Unknown backend: cudaa")) << message;
  EXPECT_NE(message.find("did you mean `cuda`"), std::string::npos) << message;
  EXPECT_FALSE(error_of([] { parse_backends({""}); }).empty());
}

TEST(ScaffoldRender, FileSetFollowsBackendSelection) {
  auto names = parse_repo_names("kb-test/relu");
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"cuda"})), with_common({"relu_cuda/relu.cu"}));
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"cpu"})), with_common({"relu_cpu/relu_cpu.cpp"}));
  // rocm compiles the CUDA source through hipify.
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"rocm"})), with_common({"relu_cuda/relu.cu"}));
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"metal"})),
            with_common({"relu_metal/relu.metal", "relu_metal/relu.mm"}));
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"xpu"})), with_common({"relu_xpu/relu.cpp"}));
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", {"tpu", "neuron", "cann"})), kCommonFiles);
  EXPECT_EQ(paths_of(render_scaffold(names, "MIT", all_backend_names())),
            with_common({"relu_cuda/relu.cu", "relu_cpu/relu_cpu.cpp", "relu_metal/relu.metal", "relu_metal/relu.mm",
                         "relu_xpu/relu.cpp"}));
}

TEST(ScaffoldRender, PlaceholdersFilledExceptTheRawCard) {
  auto names = parse_repo_names("acme/Fast_Add");
  auto files = render_scaffold(names, "BSD-3-Clause", all_backend_names());
  for (const auto& f : files) {
    EXPECT_EQ(f.path.find("@@"), std::string::npos) << f.path;
    EXPECT_EQ(f.content.find("@@"), std::string::npos) << f.path;
  }
  // The card template is written exactly as embedded, for the card tool to fill.
  const auto& card = file_named(files, "CARD.md");
  EXPECT_EQ(card.content, std::string(embedded_file("scaffold/data/CARD.md")));
  EXPECT_NE(card.content.find("{{ repo_id }}"), std::string::npos);
  EXPECT_NE(card.content.find("{{ license }}"), std::string::npos);

  EXPECT_NE(file_named(files, "torch-ext/fast_add/__init__.py").content.find("def fast_add(x"), std::string::npos);
  EXPECT_NE(file_named(files, "torch-ext/fast_add/__init__.py").content.find("__all__ = [\"fast_add\"]"),
            std::string::npos);
  EXPECT_NE(file_named(files, "benchmarks/benchmark.py").content.find("class FastAddBenchmark(Benchmark)"),
            std::string::npos);
  EXPECT_NE(
      file_named(files, "torch-ext/torch_binding.cpp").content.find("\"fast_add(Tensor! out, Tensor input) -> ()\""),
      std::string::npos);
  EXPECT_NE(file_named(files, "torch-ext/torch_binding.h").content.find("void fast_add(torch::Tensor &out"),
            std::string::npos);
  EXPECT_NE(file_named(files, ".gitignore").content.find("/torch-ext/fast_add/_ops.py"), std::string::npos);
  const auto& makefile = file_named(files, "Makefile").content;
  EXPECT_NE(makefile.find("\n\t$(KB) build\n"), std::string::npos);  // recipe lines need a tab
  EXPECT_NE(makefile.find("kb-genproject . | kb-compile"), std::string::npos);
}

TEST(ScaffoldBuildToml, SectionsPerBackend) {
  auto names = parse_repo_names("acme/my_kernel");
  auto toml_text = render_build_toml(names, "Apache-2.0", {"xpu", "cuda", "tpu", "rocm", "metal", "cpu"});
  auto doc = toml::parse(toml_text);
  EXPECT_EQ(doc["general"]["name"].value_or(std::string()), "my-kernel");
  EXPECT_EQ(doc["general"]["license"].value_or(std::string()), "Apache-2.0");
  EXPECT_EQ(doc["general"]["version"].value_or(int64_t(-1)), 1);
  EXPECT_EQ(doc["general"]["edition"].value_or(int64_t(-1)), 5);
  EXPECT_EQ(doc["general"]["hub"]["repo-id"].value_or(std::string()), "acme/my-kernel");
  std::vector<std::string> backends;
  for (auto& b : *doc["general"]["backends"].as_array()) backends.push_back(b.value_or(std::string()));
  EXPECT_EQ(backends, (std::vector<std::string>{"xpu", "cuda", "tpu", "rocm", "metal", "cpu"}));
  EXPECT_EQ(doc["torch"]["src"][0].value_or(std::string()), "torch-ext/torch_binding.cpp");
  EXPECT_EQ(doc["torch"]["src"][1].value_or(std::string()), "torch-ext/torch_binding.h");

  std::set<std::string> kernels;
  for (auto& [key, value] : *doc["kernel"].as_table()) {
    kernels.insert(std::string(key.str()));
    EXPECT_EQ(value.as_table()->at("depends").as_array()->size(), 1u);
    EXPECT_EQ((*value.as_table())["depends"][0].value_or(std::string()), "torch");
  }
  EXPECT_EQ(kernels, (std::set<std::string>{"my_kernel", "my_kernel_cpu", "my_kernel_metal", "my_kernel_rocm",
                                            "my_kernel_xpu"}));
  EXPECT_EQ(doc["kernel"]["my_kernel"]["backend"].value_or(std::string()), "cuda");
  EXPECT_EQ(doc["kernel"]["my_kernel"]["src"][0].value_or(std::string()), "my_kernel_cuda/my_kernel.cu");
  EXPECT_EQ(doc["kernel"]["my_kernel_rocm"]["backend"].value_or(std::string()), "rocm");
  EXPECT_EQ(doc["kernel"]["my_kernel_rocm"]["src"][0].value_or(std::string()), "my_kernel_cuda/my_kernel.cu");
  EXPECT_EQ(doc["kernel"]["my_kernel_rocm"]["rocm-archs"].as_array()->size(), 9u);
  EXPECT_EQ(doc["kernel"]["my_kernel_rocm"]["rocm-archs"][2].value_or(std::string()), "gfx90a");
  EXPECT_EQ(doc["kernel"]["my_kernel_metal"]["src"].as_array()->size(), 2u);
  EXPECT_EQ(doc["kernel"]["my_kernel_xpu"]["src"][0].value_or(std::string()), "my_kernel_xpu/my_kernel.cpp");
  EXPECT_EQ(doc["kernel"]["my_kernel_cpu"]["src"][0].value_or(std::string()), "my_kernel_cpu/my_kernel_cpu.cpp");
  EXPECT_FALSE(doc["kernel"]["my_kernel"]["rocm-archs"]);
}

TEST(ScaffoldBuildToml, QuotesUnusualValues) {
  auto names = parse_repo_names("acme/relu");
  auto doc = toml::parse(render_build_toml(names, "Custom \"License\" \\ v2", {"cpu"}));
  EXPECT_EQ(doc["general"]["license"].value_or(std::string()), "Custom \"License\" \\ v2");
}

TEST(ScaffoldBuildToml, ParsesWithTheBuildConfigLoader) {
  auto names = parse_repo_names("kb-test/relu_kernel");
  auto config =
      config::parse_build_config(render_build_toml(names, "Apache-2.0", parse_backends({"all"})), "build.toml");
  EXPECT_EQ(config.edition, 5);
  EXPECT_EQ(config.general.name, "relu-kernel");
  EXPECT_EQ(config.general.version, 1u);
  EXPECT_EQ(config.general.backends.size(), 8u);
  EXPECT_EQ(config.general.hub_repo_id.value_or(""), "kb-test/relu-kernel");
  EXPECT_EQ(config.framework, config::Framework::Torch);
  EXPECT_EQ(config.kernels.size(), 5u);
  EXPECT_EQ(config.module_name(), "relu_kernel");
}

TEST_F(ScaffoldDir, TargetDirectoryRules) {
  auto both = resolve_target(options("some/where/dir", "acme/my_relu"));
  EXPECT_EQ(both.dir, root_ / "some/where/dir");
  EXPECT_EQ(both.names.repo_id, "acme/my-relu");

  EXPECT_EQ(resolve_target(options(std::nullopt, "acme/my_relu")).dir, root_ / "my-relu");

  // A PATH that is OWNER/REPO names the kernel; the directory is the display name.
  auto path_only = resolve_target(options("acme/my_relu", std::nullopt));
  EXPECT_EQ(path_only.dir, root_ / "my-relu");
  EXPECT_EQ(path_only.names.repo_id, "acme/my-relu");

  auto absolute = resolve_target(options((root_ / "x").string(), "acme/relu"));
  EXPECT_EQ(absolute.dir, root_ / "x");
  EXPECT_EQ(resolve_target(options("trailing/", "acme/relu")).dir, root_ / "trailing");
}

TEST_F(ScaffoldDir, OwnerMustComeFromName) {
  for (std::optional<std::string> path : {std::optional<std::string>("relu"), std::optional<std::string>("./relu"),
                                          std::optional<std::string>("a/b/relu"), std::optional<std::string>()}) {
    auto message = error_of([&] { resolve_target(options(path, std::nullopt)); });
    EXPECT_NE(message.find("--name <owner>/<repo>"), std::string::npos) << message;
  }
  EXPECT_NE(error_of([&] { resolve_target(options("a/b/relu", std::nullopt)); }).find("my-org/relu"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { resolve_target(options("dir", "relu")); }), "`relu` must be <owner>/<repo>");
}

TEST_F(ScaffoldDir, WritesFilesAndStagesThemInANewRepository) {
  auto o = options("proj", "acme/relu");
  o.backends = {"cpu", "cuda"};
  auto result = init_project(o);
  EXPECT_EQ(result.target.dir, root_ / "proj");
  auto expected = with_common({"relu_cpu/relu_cpu.cpp", "relu_cuda/relu.cu"});
  EXPECT_EQ(std::set<std::string>(result.written.begin(), result.written.end()), expected);
  for (const auto& f : render_scaffold(result.target.names, "Apache-2.0", {"cpu", "cuda"})) {
    EXPECT_EQ(read_file(root_ / "proj" / f.path), f.content) << f.path;
  }
  EXPECT_TRUE(fs::is_directory(root_ / "proj/.git"));
  EXPECT_EQ(staged_paths(root_ / "proj"), expected);
  EXPECT_TRUE(head_is_unborn(root_ / "proj"));  // staged, not committed
}

TEST_F(ScaffoldDir, StagingRespectsTheGeneratedGitignore) {
  fs::create_directories(root_ / "proj/build/torch113-cxx11-cpu-x86_64-linux");
  write_file_atomic(root_ / "proj/build/torch113-cxx11-cpu-x86_64-linux/metadata.json", "{}");
  write_file_atomic(root_ / "proj/notes.txt", "mine");
  auto o = options("proj", "acme/relu");
  o.backends = {"cpu"};
  init_project(o);
  auto staged = staged_paths(root_ / "proj");
  EXPECT_TRUE(staged.count("notes.txt"));
  EXPECT_TRUE(staged.count("build.toml"));
  EXPECT_FALSE(staged.count("build/torch113-cxx11-cpu-x86_64-linux/metadata.json"));
}

TEST_F(ScaffoldDir, NestedRepositoriesAreNotStaged) {
  auto inner = options("outer/inner", "acme/inner");
  inner.backends = {"cpu"};
  init_project(inner);
  auto outer = options("outer", "acme/outer");
  outer.backends = {"cpu"};
  init_project(outer);
  auto staged = staged_paths(root_ / "outer");
  EXPECT_TRUE(staged.count("build.toml"));
  for (const auto& path : staged) EXPECT_FALSE(starts_with(path, "inner")) << path;
}

TEST_F(ScaffoldDir, ExistingFilesAreListedAndNothingIsWritten) {
  write_file_atomic(root_ / "proj/build.toml", "# mine\n");
  write_file_atomic(root_ / "proj/torch-ext/torch_binding.h", "// mine\n");
  write_file_atomic(root_ / "proj/notes.txt", "keep me\n");
  auto message = error_of([&] { init_project(options("proj", "acme/relu")); });
  EXPECT_NE(message.find("build.toml, torch-ext/torch_binding.h"), std::string::npos) << message;
  EXPECT_NE(message.find("--overwrite"), std::string::npos) << message;
  // Untouched: same files, same contents, no repository.
  std::set<std::string> present;
  for (auto& e : fs::recursive_directory_iterator(root_ / "proj")) {
    if (e.is_regular_file()) present.insert(relative_slash_path(e.path(), root_ / "proj"));
  }
  EXPECT_EQ(present, (std::set<std::string>{"build.toml", "notes.txt", "torch-ext/torch_binding.h"}));
  EXPECT_EQ(read_file(root_ / "proj/build.toml"), "# mine\n");
  EXPECT_FALSE(fs::exists(root_ / "proj/.git"));
}

TEST_F(ScaffoldDir, OverwriteReplacesScaffoldFilesAndKeepsOthers) {
  write_file_atomic(root_ / "proj/build.toml", "# mine\n");
  write_file_atomic(root_ / "proj/notes.txt", "keep me\n");
  write_file_atomic(root_ / "proj/relu_cuda/helper.cuh", "// keep me too\n");
  auto o = options("proj", "acme/relu");
  o.overwrite = true;
  init_project(o);
  EXPECT_EQ(read_file(root_ / "proj/build.toml"),
            render_build_toml(parse_repo_names("acme/relu"), "Apache-2.0", {"cuda"}));
  EXPECT_EQ(read_file(root_ / "proj/notes.txt"), "keep me\n");
  EXPECT_EQ(read_file(root_ / "proj/relu_cuda/helper.cuh"), "// keep me too\n");
  auto staged = staged_paths(root_ / "proj");
  EXPECT_TRUE(staged.count("notes.txt"));
  EXPECT_TRUE(staged.count("relu_cuda/relu.cu"));
}

TEST_F(ScaffoldDir, RefusesWhenAScaffoldDirectoryIsAFile) {
  write_file_atomic(root_ / "proj/tests", "not a directory\n");
  auto o = options("proj", "acme/relu");
  o.overwrite = true;
  auto message = error_of([&] { init_project(o); });
  EXPECT_NE(message.find("tests"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(root_ / "proj/build.toml"));
}

// The CPU scaffold must compile against a real Torch and compute x + 1. The
// generated registration.h is stood in for by the minimal macros the
// bindings use (spec: TORCH_LIBRARY_EXPAND / REGISTER_EXTENSION).
TEST_F(ScaffoldDir, CpuScaffoldCompilesAndAddsOneWithDebianTorch) {
  const fs::path python = "/usr/bin/python3";
  if (!fs::exists("/usr/include/torch/library.h") || !fs::exists(python) || !find_program("g++")) {
    GTEST_SKIP() << "Debian libtorch headers, /usr/bin/python3 or g++ not available";
  }
  auto probe = run_process({{python.string(), "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"}});
  ASSERT_TRUE(probe.ok()) << probe.err;
  const std::string python_include = trim(probe.out);

  auto o = options("proj", "acme/add_one");
  o.backends = {"cpu"};
  auto result = init_project(o);
  const fs::path dir = result.target.dir;
  write_file_atomic(dir / "torch-ext/registration.h", R"(#pragma once
#include <Python.h>
#define KB_TEST_CONCAT_(a, b) a##b
#define KB_TEST_CONCAT(a, b) KB_TEST_CONCAT_(a, b)
#define KB_TEST_STR_(x) #x
#define KB_TEST_STR(x) KB_TEST_STR_(x)
#define TORCH_LIBRARY_EXPAND(NAME, MODULE) TORCH_LIBRARY(NAME, MODULE)
#define REGISTER_EXTENSION(NAME)                                                              \
  PyMODINIT_FUNC KB_TEST_CONCAT(PyInit_, NAME)() {                                            \
    static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, KB_TEST_STR(NAME), nullptr, 0, nullptr}; \
    return PyModule_Create(&module);                                                          \
  }
)");
  const fs::path so = dir / "_add_one_cpu_test.so";
  std::vector<std::string> cmd = {"g++",
                                  "-std=c++17",
                                  "-O1",
                                  "-shared",
                                  "-fPIC",
                                  "-DCPU_KERNEL",
                                  "-DTORCH_EXTENSION_NAME=_add_one_cpu_test",
                                  "-I" + dir.string(),
                                  "-I" + (dir / "torch-ext").string(),
                                  "-isystem",
                                  "/usr/include/torch/csrc/api/include",
                                  "-isystem",
                                  python_include,
                                  (dir / "torch-ext/torch_binding.cpp").string(),
                                  (dir / "add_one_cpu/add_one_cpu.cpp").string(),
                                  "-o",
                                  so.string(),
                                  "-ltorch",
                                  "-ltorch_cpu",
                                  "-lc10"};
  auto compiled = run_process({cmd});
  ASSERT_TRUE(compiled.ok()) << compiled.err;

  auto ran = run_process({{python.string(), "-c",
                           "import sys, torch\n"
                           "torch.ops.load_library(sys.argv[1])\n"
                           "x = torch.randn(1000)\n"
                           "out = torch.empty_like(x)\n"
                           "torch.ops._add_one_cpu_test.add_one(out, x)\n"
                           "assert torch.equal(out, x + 1), (out, x)\n"
                           "print('ok')\n",
                           so.string()}});
  ASSERT_TRUE(ran.ok()) << ran.err;
  EXPECT_EQ(trim(ran.out), "ok");
}

TEST_F(ScaffoldDir, ANameBuildTomlWouldRefuseIsRefusedBeforeWritingAnything) {
  std::string message = error_of([&] { init_project(options("proj", "acme/k")); });
  EXPECT_EQ(message.rfind("Cannot create the kernel `acme/k`: invalid kernel name \"k\"", 0), 0u) << message;
  EXPECT_NE(error_of([&] { init_project(options("proj2", "acme/MyKernel")); }).find("invalid kernel name \"MyKernel\""),
            std::string::npos);
  EXPECT_FALSE(fs::exists(root_ / "proj"));
  EXPECT_FALSE(fs::exists(root_ / "proj2"));
}
