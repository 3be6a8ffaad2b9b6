// The generated project (builder spec 3.2-3.10 as kb implements them): which
// files are rendered, what the CMake project, _ops.py flavours and metadata
// say, and how write_project protects files kb did not generate.
#include "libkb/project/project.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/config/config.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::project;
using config::Backend;

namespace {

using kb::testing::error_of;
using kb::testing::contains;

// A torch kernel with a CPU and a CUDA component. The dashed name checks
// that everything derived from it uses the module name (relu_act).
const char* const kCpuCudaToml = R"([general]
name = "relu-act"
version = 3
edition = 5
license = "Apache-2.0"
backends = ["cpu", "cuda"]
python-depends = ["einops"]

[general.cuda]
python-depends = ["nvidia-cutlass-dsl"]

[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]

[kernel.relu_cuda]
backend = "cuda"
depends = ["torch"]
src = ["relu_cuda/relu.cu", "relu_cuda/relu.cuh"]
cuda-capabilities = ["8.0", "9.0a"]

[kernel.relu_cpu]
backend = "cpu"
depends = ["torch"]
src = ["relu_cpu/relu_cpu.cpp"]
cxx-flags = ["-DKB_TAG=\"cpu\""]
)";

const char* const kNoarchToml = R"([general]
name = "silu-noarch"
version = 2
edition = 5
license = "MIT"
backends = ["cpu", "cuda"]

[torch-noarch]
cuda_capabilities = ["8.0", "9.0"]
)";

config::BuildConfig parse(const std::string& text) { return config::parse_build_config(text, "build.toml"); }

const std::vector<std::string> kAllMetadata = {
    "metadata-cann.json",   "metadata-cpu.json", "metadata-cuda.json", "metadata-metal.json",
    "metadata-neuron.json", "metadata-rocm.json", "metadata-tpu.json",  "metadata-xpu.json"};

std::set<std::string> paths_of(const std::vector<GeneratedFile>& files) {
  std::set<std::string> out;
  for (const auto& f : files) out.insert(f.path.generic_string());
  return out;
}

std::set<std::string> with_metadata(std::initializer_list<std::string> files) {
  std::set<std::string> out(files);
  out.insert(kAllMetadata.begin(), kAllMetadata.end());
  return out;
}

const std::string& content_of(const std::vector<GeneratedFile>& files, const std::string& path) {
  auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.path == path; });
  if (it == files.end()) throw std::runtime_error("no generated file " + path);
  return it->content;
}



// The kb_add_kernel_component(...) calls of a CMakeLists.txt, in order.
std::vector<std::string> component_calls(const std::string& cmakelists) {
  std::vector<std::string> out;
  const std::string open = "kb_add_kernel_component(";
  for (size_t at = cmakelists.find(open); at != std::string::npos; at = cmakelists.find(open, at + 1)) {
    size_t end = cmakelists.find(")\n", at);
    out.push_back(cmakelists.substr(at, end - at + 1));
  }
  return out;
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& j) {
  std::vector<std::string> out;
  for (const auto& [key, value] : j.items()) out.push_back(key);
  return out;
}

metadata::Provenance sample_provenance() {
  metadata::Provenance p;
  p.kernel_builder.version = "kb 9.9.9";
  p.kernel_builder.git = git::CommitState{std::string(40, 'a'), false};
  p.kernel = git::CommitState{std::string(40, 'b'), true};
  return p;
}

struct TempDir {
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-project-test")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

struct FileId {
  ino_t inode;
  struct timespec mtime;
};

FileId file_id(const fs::path& p) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + p.string());
  return {st.st_ino, st.st_mtim};
}

bool same_mtime(const FileId& a, const FileId& b) {
  return a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec;
}

// Every regular file under dir, relative.
std::set<std::string> files_under(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.insert(relative_slash_path(e.path(), dir));
  return out;
}

}  // namespace

// ------------------------------------------------------------------ ops name

TEST(ProjectOpsName, IsUnderscoreModuleBackendUniqueId) {
  auto config = parse(kCpuCudaToml);
  // The module name (dashes -> underscores), never the kernel name.
  EXPECT_EQ(ops_name(config, Backend::Cuda, "7a4e5a7"), "_relu_act_cuda_7a4e5a7");
  EXPECT_EQ(ops_name(config, Backend::Cpu, "abc1234_dirty"), "_relu_act_cpu_abc1234_dirty");
  // Backends the kernel does not list still get a well-formed name (metadata
  // is written for all 8 backends).
  EXPECT_EQ(ops_name(config, Backend::Neuron, "x"), "_relu_act_neuron_x");
}

// ------------------------------------------------------------- file sets

TEST(ProjectFiles, TorchKernelFileSetEqualsGeneratedPaths) {
  auto config = parse(kCpuCudaToml);
  auto files = render_project(config, "abc1234", std::nullopt);
  // Every backend has a component, so _ops.py comes from cmake/_ops.py.in at
  // configure time and is not written into torch-ext/relu_act/.
  EXPECT_EQ(paths_of(files), with_metadata({"CMakeLists.txt", "cmake/kb-kernel.cmake", "cmake/_ops.py.in",
                                            "torch-ext/registration.h", "setup.py", "pyproject.toml"}));
  EXPECT_EQ(files.size(), paths_of(files).size()) << "a path is rendered twice";

  // clean-pyproject relies on generated_paths naming exactly these files,
  // whatever the unique id or provenance.
  std::set<std::string> generated;
  for (const auto& p : generated_paths(config)) generated.insert(p.generic_string());
  EXPECT_EQ(generated, paths_of(render_project(config, "other_id_dirty", sample_provenance())));
  EXPECT_EQ(generated_paths(config).size(), files.size());
}

TEST(ProjectFiles, TorchBackendWithoutComponentGetsNoarchOpsPy) {
  // cpu has no [kernel.*]: it is built as a noarch variant, which ships
  // torch-ext/<module>/_ops.py as is, so kb writes the noarch flavour there.
  auto config = parse(replace_all(kCpuCudaToml, "backend = \"cpu\"", "backend = \"cuda\""));
  ASSERT_FALSE(config.has_kernel_for(Backend::Cpu));
  auto files = render_project(config, "abc1234", std::nullopt);
  EXPECT_EQ(paths_of(files),
            with_metadata({"CMakeLists.txt", "cmake/kb-kernel.cmake", "cmake/_ops.py.in", "torch-ext/registration.h",
                           "setup.py", "pyproject.toml", "torch-ext/relu_act/_ops.py"}));
  EXPECT_TRUE(contains(content_of(files, "torch-ext/relu_act/_ops.py"), "_detect_backend()"));
}

TEST(ProjectFiles, TorchNoarchFileSetHasNoCMakeProject) {
  auto config = parse(kNoarchToml);
  auto files = render_project(config, "abc1234", std::nullopt);
  EXPECT_EQ(paths_of(files), with_metadata({"torch-ext/silu_noarch/_ops.py", "setup.py", "pyproject.toml"}));
  std::set<std::string> generated;
  for (const auto& p : generated_paths(config)) generated.insert(p.generic_string());
  EXPECT_EQ(generated, paths_of(files));
}

TEST(ProjectFiles, TvmFfiProjectBuildsAPlainLibraryWithoutTorch) {
  auto config = parse(R"([general]
name = "relu-tvm"
version = 1
edition = 5
license = "MIT"
backends = ["cpu", "cuda"]

[tvm-ffi]
src = ["tvm-ffi-ext/b.cpp"]
include = ["inc"]

[kernel.relu_cpu]
backend = "cpu"
depends = []
src = ["relu_cpu/relu.cpp"]
)");
  auto files = render_project(config, "abc1234", std::nullopt);
  EXPECT_EQ(paths_of(files),
            with_metadata({"CMakeLists.txt", "cmake/kb-kernel.cmake", "cmake/_ops.py.in", "pyproject.toml"}));
  const std::string& cmake = content_of(files, "CMakeLists.txt");
  EXPECT_TRUE(contains(cmake, "find_package(tvm_ffi CONFIG REQUIRED)")) << cmake;
  EXPECT_FALSE(contains(cmake, "find_package(Torch")) << cmake;
  EXPECT_TRUE(contains(cmake, "kb_add_binding(\n  SOURCES \"tvm-ffi-ext/b.cpp\"\n  INCLUDE \"inc\")")) << cmake;
  EXPECT_TRUE(contains(cmake, "kb_add_kernel_component(\"relu_cpu\"")) << cmake;
  EXPECT_TRUE(contains(cmake, "kb_finish_tvm_ffi_library(relu_tvm)")) << cmake;
  EXPECT_TRUE(contains(content_of(files, "cmake/_ops.py.in"), "tvm_ffi.load_module")) << content_of(files, "cmake/_ops.py.in");
  EXPECT_TRUE(contains(content_of(files, "pyproject.toml"), "apache-tvm-ffi"));
  const std::string& kernel_cmake = content_of(files, "cmake/kb-kernel.cmake");
  EXPECT_TRUE(contains(kernel_cmake, "kb_install_variant(tvm-ffi-ext ${module})")) << kernel_cmake;
}

TEST(ProjectFiles, EveryTextFileStartsWithTheGeneratedMarker) {
  // write_project tells kb's files from the user's by this marker, so a
  // rendered file without it could never be regenerated without --force.
  for (const char* toml : {kCpuCudaToml, kNoarchToml}) {
    auto files = render_project(parse(toml), "abc1234", std::nullopt);
    for (const auto& f : files) {
      if (f.path.extension() == ".json") continue;
      std::string first_line = f.content.substr(0, f.content.find('\n'));
      EXPECT_TRUE(contains(first_line, std::string(kGeneratedMarker))) << f.path << ": " << first_line;
    }
  }
}

// ---------------------------------------------------------- CMakeLists.txt

TEST(ProjectCMake, OneComponentCallPerKernelWithItsSourcesAndCapabilities) {
  auto config = parse(kCpuCudaToml);
  const std::string cmake = content_of(render_project(config, "abc1234", std::nullopt), "CMakeLists.txt");
  auto calls = component_calls(cmake);
  ASSERT_EQ(calls.size(), 2u) << cmake;
  // Components come sorted by name, whatever the order in build.toml.
  const std::string& cpu = calls[0];
  const std::string& cuda = calls[1];
  EXPECT_TRUE(contains(cpu, "kb_add_kernel_component(\"relu_cpu\"")) << cpu;
  EXPECT_TRUE(contains(cpu, "BACKEND cpu")) << cpu;
  EXPECT_TRUE(contains(cpu, "SOURCES \"relu_cpu/relu_cpu.cpp\"")) << cpu;
  // The quotes of the flag are escaped for a CMake quoted argument.
  EXPECT_TRUE(contains(cpu, R"(CXX_FLAGS "-DKB_TAG=\"cpu\"")")) << cpu;
  EXPECT_FALSE(contains(cpu, "CUDA_CAPABILITIES")) << cpu;

  EXPECT_TRUE(contains(cuda, "kb_add_kernel_component(\"relu_cuda\"")) << cuda;
  EXPECT_TRUE(contains(cuda, "BACKEND cuda")) << cuda;
  EXPECT_TRUE(contains(cuda, "SOURCES \"relu_cuda/relu.cu\" \"relu_cuda/relu.cuh\"")) << cuda;
  EXPECT_TRUE(contains(cuda, "CUDA_CAPABILITIES \"8.0\" \"9.0a\"")) << cuda;

  // The binding sources are registered separately, and the extension is
  // finished for the module.
  EXPECT_TRUE(contains(cmake, "kb_add_binding(\n  SOURCES \"torch-ext/torch_binding.cpp\" "
                              "\"torch-ext/torch_binding.h\")"))
      << cmake;
  EXPECT_TRUE(contains(cmake, "kb_finish_extension(relu_act)")) << cmake;
}

TEST(ProjectCMake, ComponentKeywordsAreTheOnesKbKernelCmakeParses) {
  // A keyword the function does not declare would silently land in
  // ARG_UNPARSED_ARGUMENTS and the sources or flags would be lost.
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  const std::string& module = content_of(files, "cmake/kb-kernel.cmake");
  size_t def = module.find("function(kb_add_kernel_component name)");
  ASSERT_NE(def, std::string::npos);
  std::string parse_line = module.substr(def, module.find(" ${ARGN})", def) - def);
  for (const auto& call : component_calls(content_of(files, "CMakeLists.txt"))) {
    for (const auto& line : split(call, '\n')) {
      std::string t = trim(line);
      if (t.rfind("kb_add_kernel_component(", 0) == 0) continue;
      std::string keyword = t.substr(0, t.find(' '));
      EXPECT_TRUE(contains(parse_line, keyword)) << keyword << " not declared in: " << parse_line;
    }
  }
}

TEST(ProjectCMake, OpsNamespaceIsBuiltFromModuleBackendAndUniqueId) {
  auto config = parse(kCpuCudaToml);
  const std::string cmake = content_of(render_project(config, "abc1234", std::nullopt), "CMakeLists.txt");
  // KB_OPS_NAME = _${KB_MODULE}_${KB_BACKEND}_${KB_UNIQUE_ID}, so with these
  // values the CMake side agrees with ops_name() for every backend.
  EXPECT_TRUE(contains(cmake, "set(KB_MODULE \"relu_act\")")) << cmake;
  EXPECT_TRUE(contains(cmake, "set(KB_UNIQUE_ID \"abc1234\")")) << "a plain variable: a cached id outlives id changes";
  EXPECT_TRUE(contains(cmake, "set(KB_OPS_NAME \"_${KB_MODULE}_${KB_BACKEND}_${KB_UNIQUE_ID}\")")) << cmake;
  EXPECT_FALSE(contains(cmake, "@MODULE@") || contains(cmake, "@UNIQUE_ID@") || contains(cmake, "@DATA_EXTENSIONS@"))
      << "unsubstituted template variable";
}

TEST(ProjectCMake, TorchBoundsAreRendered) {
  auto config = parse(replace_all(kCpuCudaToml, "[torch]\n", "[torch]\nminver = \"2.8\"\nmaxver = \"2.11\"\n"));
  const std::string cmake = content_of(render_project(config, "abc1234", std::nullopt), "CMakeLists.txt");
  EXPECT_TRUE(contains(cmake, "if(KB_TORCH_MAJOR_MINOR VERSION_LESS 2.8)")) << cmake;
  EXPECT_TRUE(contains(cmake, "if(KB_TORCH_MAJOR_MINOR VERSION_GREATER 2.11)")) << cmake;
  // Without bounds there is no check at all.
  const std::string unbounded =
      content_of(render_project(parse(kCpuCudaToml), "abc1234", std::nullopt), "CMakeLists.txt");
  EXPECT_FALSE(contains(unbounded, "is too old")) << unbounded;
}

// ------------------------------------------------------------- _ops.py

TEST(ProjectOpsPy, ArchTemplateUsesTheOpsNamespaceOfTheBuild) {
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  // kb-kernel.cmake configures cmake/_ops.py.in with OPS_NAME = KB_OPS_NAME.
  const std::string& kernel_cmake = content_of(files, "cmake/kb-kernel.cmake");
  EXPECT_TRUE(contains(kernel_cmake, "set(OPS_NAME ${KB_OPS_NAME})"));
  EXPECT_TRUE(contains(kernel_cmake, "configure_file(\"${CMAKE_SOURCE_DIR}/cmake/_ops.py.in\""));
  // What configure_file makes of the template for the CUDA build.
  std::string ops = replace_all(content_of(files, "cmake/_ops.py.in"), "@OPS_NAME@", "_relu_act_cuda_abc1234");
  EXPECT_TRUE(contains(ops, "from . import _relu_act_cuda_abc1234")) << ops;
  EXPECT_TRUE(contains(ops, "ops = torch.ops._relu_act_cuda_abc1234\n")) << ops;
  EXPECT_TRUE(contains(ops, "return f\"_relu_act_cuda_abc1234::{op_name}\"")) << ops;
}

TEST(ProjectOpsPy, NoarchFlavourDetectsTheBackendInSpecOrder) {
  const std::string ops =
      content_of(render_project(parse(kNoarchToml), "abc1234", std::nullopt), "torch-ext/silu_noarch/_ops.py");
  EXPECT_TRUE(contains(ops, "_OPS_NAME = f\"_silu_noarch_{_detect_backend()}_abc1234\"")) << ops;
  EXPECT_TRUE(contains(ops, "ops = getattr(torch.ops, _OPS_NAME)")) << ops;
  EXPECT_TRUE(contains(ops, "return f\"{_OPS_NAME}::{op_name}\"")) << ops;
  // Spec 3.5: tpu, neuron, cuda, rocm, metal, xpu, else cpu.
  size_t last = 0;
  for (const char* backend : {"tpu", "neuron", "cuda", "rocm", "metal", "xpu", "cpu"}) {
    size_t at = ops.find("return \"" + std::string(backend) + "\"");
    ASSERT_NE(at, std::string::npos) << backend;
    EXPECT_GT(at, last) << backend << " is checked out of order";
    last = at;
  }
}

TEST(ProjectOpsPy, NoarchFlavourPicksTheOpsNamespaceAtImport) {
  // Runs the generated _ops.py against a stand-in torch module.
  auto python = find_program("python3");
  if (!python) GTEST_SKIP() << "python3 not available";
  TempDir dir;
  auto files = render_project(parse(kNoarchToml), "abc1234", std::nullopt);
  write_file_atomic(dir.path() / "silu_noarch/__init__.py", "");
  write_file_atomic(dir.path() / "silu_noarch/_ops.py", content_of(files, "torch-ext/silu_noarch/_ops.py"));
  write_file_atomic(dir.path() / "torch/__init__.py", R"(import os, types
version = types.SimpleNamespace(cuda=os.environ.get("FAKE_CUDA") or None, hip=None)
backends = types.SimpleNamespace()
class _Ops:
    def __getattr__(self, name):
        return "namespace:" + name
ops = _Ops()
)");
  auto run = [&](std::map<std::string, std::string> env) {
    return run_process({.argv = {python->string(), "-c",
                                 "from silu_noarch import _ops; print(_ops.ops); "
                                 "print(_ops.add_op_namespace_prefix('silu'))"},
                        .cwd = dir.path(),
                        .env_set = std::move(env),
                        .env_unset = {"PYTHONPATH"}});
  };
  auto cuda = run({{"FAKE_CUDA", "12.8"}});
  ASSERT_TRUE(cuda.ok()) << cuda.err;
  EXPECT_EQ(cuda.out, "namespace:_silu_noarch_cuda_abc1234\n_silu_noarch_cuda_abc1234::silu\n");
  auto cpu = run({{"FAKE_CUDA", ""}});
  ASSERT_TRUE(cpu.ok()) << cpu.err;
  EXPECT_EQ(cpu.out, "namespace:_silu_noarch_cpu_abc1234\n_silu_noarch_cpu_abc1234::silu\n");
}

// ------------------------------------------------------------- metadata

TEST(ProjectMetadata, KeysInSpecOrderAndIdPerBackend) {
  auto config = parse(kCpuCudaToml);
  auto files = render_project(config, "abc1234", sample_provenance());
  for (Backend b : config::all_backends()) {
    std::string name = "metadata-" + std::string(config::backend_name(b)) + ".json";
    auto j = nlohmann::ordered_json::parse(content_of(files, name));
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"name", "id", "version", "kernels-minver", "license",
                                                    "python-depends", "kernel-depends", "backend", "provenance"}))
        << name;
    EXPECT_EQ(j["kernels-minver"], "0.14.0") << name;  // no kernel dependencies
    EXPECT_EQ(j["name"], "relu-act") << name;
    EXPECT_EQ(j["id"], ops_name(config, b, "abc1234")) << name;
    EXPECT_EQ(j["id"], "_relu_act_" + std::string(config::backend_name(b)) + "_abc1234") << name;
    EXPECT_EQ(j["version"], 3) << name;
    EXPECT_EQ(j["license"], "Apache-2.0") << name;
    EXPECT_EQ(j["backend"]["type"], std::string(config::backend_name(b))) << name;
    // Arch builds get their archs at install time, not here.
    EXPECT_FALSE(j["backend"].contains("archs")) << name;
    EXPECT_EQ(j["kernel-depends"], nlohmann::ordered_json::array()) << name;
    EXPECT_EQ(j["provenance"]["kernel-builder"]["version"], "kb 9.9.9") << name;
    EXPECT_EQ(j["provenance"]["kernel-builder"]["commit"], std::string(40, 'a')) << name;
    EXPECT_EQ(j["provenance"]["kernel"]["commit"], std::string(40, 'b')) << name;
    EXPECT_EQ(j["provenance"]["kernel"]["dirty"], true) << name;
  }
  // The CUDA-only dependency appears for cuda only.
  auto cuda = nlohmann::json::parse(content_of(files, "metadata-cuda.json"));
  auto cpu = nlohmann::json::parse(content_of(files, "metadata-cpu.json"));
  EXPECT_EQ(cuda["python-depends"].get<std::vector<std::string>>(),
            (std::vector<std::string>{"einops", "nvidia-cutlass-dsl"}));
  EXPECT_EQ(cpu["python-depends"].get<std::vector<std::string>>(), std::vector<std::string>{"einops"});
}

TEST(ProjectMetadata, NoProvenanceKeyWhenUnknownAndPrettyPrinted) {
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  const std::string& text = content_of(files, "metadata-cpu.json");
  auto j = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(keys_of(j), (std::vector<std::string>{"name", "id", "version", "kernels-minver", "license",
                                                  "python-depends", "kernel-depends", "backend"}));
  // 2-space indented, one trailing newline.
  EXPECT_EQ(text.substr(0, 12), "{\n  \"name\": ");
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text[text.size() - 2], '\n');
}

TEST(ProjectMetadata, NoarchCudaCarriesItsCapabilities) {
  auto files = render_project(parse(kNoarchToml), "abc1234", std::nullopt);
  auto cuda = nlohmann::json::parse(content_of(files, "metadata-cuda.json"));
  EXPECT_EQ(cuda["id"], "_silu_noarch_cuda_abc1234");
  EXPECT_EQ(cuda["backend"]["archs"].get<std::vector<std::string>>(), (std::vector<std::string>{"8.0", "9.0"}));
  auto cpu = nlohmann::json::parse(content_of(files, "metadata-cpu.json"));
  EXPECT_FALSE(cpu["backend"].contains("archs"));
}

// ------------------------------------------------------------- write_project

TEST(ProjectWrite, WritesEveryFileWithItsContentAndNoTemporaries) {
  TempDir dir;
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  WriteResult r = write_project(dir.path(), files, {});
  EXPECT_EQ(r.written.size(), files.size());
  EXPECT_TRUE(r.unchanged.empty());
  // Exactly the rendered files: no ".<name>.tmp-*" left next to them.
  EXPECT_EQ(files_under(dir.path()), paths_of(files));
  for (const auto& f : files) EXPECT_EQ(read_file(dir.path() / f.path), f.content) << f.path;
}

TEST(ProjectWrite, SecondIdenticalWriteReportsUnchangedAndKeepsMtime) {
  TempDir dir;
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  write_project(dir.path(), files, {});
  // Backdate the files so a rewrite could not go unnoticed within the
  // file system's timestamp granularity.
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
  std::map<std::string, FileId> before;
  for (const auto& f : files) {
    fs::last_write_time(dir.path() / f.path, old);
    before[f.path.generic_string()] = file_id(dir.path() / f.path);
  }
  WriteResult r = write_project(dir.path(), files, {});
  EXPECT_TRUE(r.written.empty());
  EXPECT_EQ(r.unchanged.size(), files.size());
  for (const auto& f : files) {
    FileId now = file_id(dir.path() / f.path);
    EXPECT_EQ(now.inode, before[f.path.generic_string()].inode) << f.path;
    EXPECT_TRUE(same_mtime(now, before[f.path.generic_string()])) << f.path;
  }
}

TEST(ProjectWrite, ChangedContentIsReplacedAtomicallyOthersKept) {
  TempDir dir;
  auto config = parse(kCpuCudaToml);
  write_project(dir.path(), render_project(config, "abc1234", std::nullopt), {});
  // A reader holding the old file (here: a hard link) must keep seeing the
  // complete old content: the new one is renamed in, not written in place.
  fs::create_hard_link(dir.path() / "CMakeLists.txt", dir.path() / "old-CMakeLists.txt");
  const std::string old_cmake = read_file(dir.path() / "CMakeLists.txt");
  FileId registration = file_id(dir.path() / "torch-ext/registration.h");

  auto files = render_project(config, "def5678", std::nullopt);
  WriteResult r = write_project(dir.path(), files, {});
  std::set<std::string> written;
  for (const auto& p : r.written) written.insert(p.generic_string());
  // The unique id appears in CMakeLists.txt, setup.py and every metadata id.
  EXPECT_EQ(written, with_metadata({"CMakeLists.txt", "setup.py"}));
  EXPECT_EQ(r.written.size() + r.unchanged.size(), files.size());
  EXPECT_EQ(read_file(dir.path() / "old-CMakeLists.txt"), old_cmake);
  EXPECT_EQ(read_file(dir.path() / "CMakeLists.txt"), content_of(files, "CMakeLists.txt"));
  EXPECT_NE(file_id(dir.path() / "CMakeLists.txt").inode, file_id(dir.path() / "old-CMakeLists.txt").inode);
  EXPECT_EQ(file_id(dir.path() / "torch-ext/registration.h").inode, registration.inode);
}

TEST(ProjectWrite, RefusesForeignFilesListingThemAndWritesNothing) {
  TempDir dir;
  write_file_atomic(dir.path() / "setup.py", "from setuptools import setup\nsetup()\n");
  write_file_atomic(dir.path() / "pyproject.toml", "[project]\nname = \"mine\"\n");
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  std::string m = error_of([&] { write_project(dir.path(), files, {}); });
  EXPECT_TRUE(contains(m, "setup.py")) << m;
  EXPECT_TRUE(contains(m, "pyproject.toml")) << m;
  EXPECT_TRUE(contains(m, "--force")) << m;
  // Not even the files that did not exist were written.
  EXPECT_EQ(files_under(dir.path()), (std::set<std::string>{"setup.py", "pyproject.toml"}));
  EXPECT_EQ(read_file(dir.path() / "setup.py"), "from setuptools import setup\nsetup()\n");
}

TEST(ProjectWrite, ForceOverwritesForeignFiles) {
  TempDir dir;
  write_file_atomic(dir.path() / "setup.py", "from setuptools import setup\nsetup()\n");
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  WriteResult r = write_project(dir.path(), files, {.force = true});
  EXPECT_EQ(r.written.size(), files.size());
  EXPECT_EQ(read_file(dir.path() / "setup.py"), content_of(files, "setup.py"));
}

TEST(ProjectWrite, FilesWithTheMarkerAreOverwrittenWithoutForce) {
  TempDir dir;
  // An older kb version's file: different content, but kb's marker.
  write_file_atomic(dir.path() / "setup.py", "# Generated by kb. Do not edit.\nold = True\n");
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  WriteResult r = write_project(dir.path(), files, {});
  EXPECT_EQ(r.written.size(), files.size());
  EXPECT_EQ(read_file(dir.path() / "setup.py"), content_of(files, "setup.py"));
}

TEST(ProjectWrite, RefuseExistingRefusesEvenKbFiles) {
  TempDir dir;
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  write_project(dir.path(), files, {});
  fs::remove(dir.path() / "CMakeLists.txt");
  auto changed = render_project(parse(kCpuCudaToml), "def5678", std::nullopt);
  std::string m = error_of([&] { write_project(dir.path(), changed, {.refuse_existing = true}); });
  // Spec 3.3's message, listing the existing files (not the missing one).
  EXPECT_EQ(m.rfind("File(s) already exists in target directory: ", 0), 0u) << m;
  EXPECT_TRUE(contains(m, "setup.py")) << m;
  EXPECT_TRUE(contains(m, "metadata-cuda.json")) << m;
  EXPECT_FALSE(contains(m, "CMakeLists.txt")) << m;
  EXPECT_TRUE(contains(m, "\nUse `--force` to overwrite.")) << m;
  // Nothing was written: the removed file is still missing, the rest is old.
  EXPECT_FALSE(fs::exists(dir.path() / "CMakeLists.txt"));
  EXPECT_EQ(read_file(dir.path() / "setup.py"), content_of(files, "setup.py"));

  // refuse_existing with force writes.
  WriteResult r = write_project(dir.path(), changed, {.force = true, .refuse_existing = true});
  EXPECT_EQ(read_file(dir.path() / "setup.py"), content_of(changed, "setup.py"));
  EXPECT_TRUE(fs::exists(dir.path() / "CMakeLists.txt"));
  EXPECT_FALSE(r.written.empty());
}

TEST(ProjectWrite, RefuseExistingAcceptsAnEmptyTarget) {
  TempDir dir;
  auto files = render_project(parse(kNoarchToml), "abc1234", std::nullopt);
  WriteResult r = write_project(dir.path() / "new/target", files, {.refuse_existing = true});
  EXPECT_EQ(r.written.size(), files.size());
  EXPECT_EQ(files_under(dir.path() / "new/target"), paths_of(files));
}

TEST(ProjectWrite, JsonFilesCannotCarryTheMarkerAndAreAlwaysKbs) {
  // metadata-<backend>.json has no room for a comment; an existing one
  // (e.g. from the Rust builder) is regenerated without --force.
  TempDir dir;
  write_file_atomic(dir.path() / "metadata-cpu.json", "{\"name\": \"old\"}\n");
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  write_project(dir.path(), files, {});
  EXPECT_EQ(read_file(dir.path() / "metadata-cpu.json"), content_of(files, "metadata-cpu.json"));
}

// ------------------------------------------------- the kernel's own files

TEST(ProjectKernelDir, CMakeReadsUserFilesFromTheKernelDirAndGeneratedOnesFromTheProject) {
  auto files = render_project(parse(kCpuCudaToml), "abc1234", std::nullopt);
  const std::string& cmake = content_of(files, "CMakeLists.txt");
  // Plain cmake on a project written in place builds the kernel it sits in.
  EXPECT_TRUE(contains(cmake, "set(KB_KERNEL_DIR \"${CMAKE_SOURCE_DIR}\" CACHE PATH")) << cmake;
  const std::string& kernel_cmake = content_of(files, "cmake/kb-kernel.cmake");
  EXPECT_TRUE(contains(kernel_cmake, "install(DIRECTORY \"${KB_KERNEL_DIR}/${package_root}/${module}/\"")) << kernel_cmake;
  EXPECT_TRUE(contains(kernel_cmake, "kb_install_variant(torch-ext ${module})")) << kernel_cmake;
  // The kernel's headers come before the generated registration.h.
  EXPECT_TRUE(contains(kernel_cmake, "${KB_KERNEL_DIR}\n    ${KB_KERNEL_DIR}/torch-ext ${CMAKE_SOURCE_DIR}/torch-ext"))
      << kernel_cmake;
  // Generated inputs stay in the project.
  EXPECT_TRUE(contains(kernel_cmake, "\"${CMAKE_SOURCE_DIR}/metadata-${KB_BACKEND}.json\"")) << kernel_cmake;
  EXPECT_FALSE(contains(kernel_cmake, "${CMAKE_SOURCE_DIR}/torch-ext/${module}")) << kernel_cmake;
  EXPECT_FALSE(contains(kernel_cmake, "\"${CMAKE_SOURCE_DIR}/${inc}\"")) << kernel_cmake;
}

TEST(ProjectKernelDir, UserOpsPyInTheNoarchPackageIsRefusedUnlessForced) {
  TempDir dir;
  auto files = render_project(parse(kNoarchToml), "abc1234", std::nullopt);
  // Nothing there: fine; foreign files outside the package do not matter, as
  // the project is not written into the kernel directory.
  write_file_atomic(dir.path() / "setup.py", "from setuptools import setup\n");
  EXPECT_EQ(error_of([&] { check_package_files(dir.path(), files, {}); }), "");
  write_file_atomic(dir.path() / "torch-ext/silu_noarch/_ops.py", "ops = 'mine'\n");
  std::string m = error_of([&] { check_package_files(dir.path(), files, {}); });
  EXPECT_TRUE(contains(m, "torch-ext/silu_noarch/_ops.py")) << m;
  EXPECT_TRUE(contains(m, dir.path().string())) << m;
  EXPECT_TRUE(contains(m, "--force")) << m;
  EXPECT_EQ(error_of([&] { check_package_files(dir.path(), files, {.force = true}); }), "");
  // One an earlier kb wrote in place carries the marker and is replaced.
  write_file_atomic(dir.path() / "torch-ext/silu_noarch/_ops.py", "# Generated by kb\nops = 'old'\n");
  EXPECT_EQ(error_of([&] { check_package_files(dir.path(), files, {}); }), "");
  // The check reads, never writes.
  EXPECT_EQ(files_under(dir.path()), (std::set<std::string>{"setup.py", "torch-ext/silu_noarch/_ops.py"}));
}
