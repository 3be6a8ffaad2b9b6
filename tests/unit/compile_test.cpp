// Building one planned variant without a compiler: reading variant-planned
// events, the noarch copy into build/<variant>/ (spec 3.8), the no-op
// rebuild that touches nothing, and failures that leave no half-written tree.
// Arch variants (CMake + a real compiler) are covered by the CLI suites.
#include "libkb/pipeline/compile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libkb/pipeline/plan.h"
#include "libkb/pipeline/scratch.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::pipeline;
using Json = nlohmann::json;

namespace {

using kb::testing::contains;
using kb::testing::error_of;

// A variant-planned event with every field events.h documents (plus module,
// which genproject adds and compile needs).
Json full_arch_event() {
  return Json{{"event", "variant-planned"},
              {"tool", "kb-genproject"},
              {"variant", "torch211-cxx11-cu130-x86_64-linux"},
              {"backend", "cuda"},
              {"kind", "arch"},
              {"kernel_dir", "/k/relu"},
              {"project_dir", "/p/relu-project"},
              {"scratch_dir", "/s/relu-act-0123456789ab"},
              {"module", "relu_act"},
              {"ops_name", "_relu_act_cuda_abc1234"},
              {"python", "/opt/py/bin/python3"},
              {"torch_version", "2.11.0+cu130"},
              {"cuda_version", "13.0"},
              {"nvcc", "/usr/local/cuda/bin/nvcc"},
              {"cmake_args", {"-DTorch_DIR=/opt/torch/share/cmake/Torch", "-DCMAKE_PREFIX_PATH=/opt"}}};
}

Json noarch_event() {
  return Json{{"event", "variant-planned"}, {"variant", "torch-cpu"},         {"backend", "cpu"},
              {"kind", "noarch"},           {"kernel_dir", "/k/relu"},        {"project_dir", "/k/relu"},
              {"module", "relu"},           {"ops_name", "_relu_cpu_abc1234"}};
}

struct TempDir {
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-compile-test")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

struct FileId {
  ino_t inode = 0;
  long mtime_sec = 0;
  long mtime_nsec = 0;
  friend bool operator==(const FileId&, const FileId&) = default;
};

FileId file_id(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + p.string());
  return {st.st_ino, static_cast<long>(st.st_mtim.tv_sec), static_cast<long>(st.st_mtim.tv_nsec)};
}

// Entries (any kind) directly in dir whose name contains ".tmp-" or ".old-":
// what make_temp_dir / replace_directory leave behind when they leak.
std::vector<std::string> temporaries_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (contains(name, ".tmp-") || contains(name, ".old-")) out.push_back(name);
  }
  return out;
}

const char* const kMetadataCpu = R"({
  "name": "relu",
  "id": "_relu_cpu_abc1234",
  "version": 1,
  "license": "Apache-2.0",
  "python-depends": [],
  "kernel-depends": [],
  "backend": {
    "type": "cpu"
  }
}
)";

// A noarch kernel: the package (with nested data and bytecode that must not
// ship) under kernel/, the generated metadata under a separate project/ so
// the test sees which directory each input is read from.
class CompileNoarch : public ::testing::Test {
 protected:
  void SetUp() override {
    kernel_ = dir_.path() / "kernel";
    project_ = dir_.path() / "project";
    scratch_ = dir_.path() / "scratch";
    const fs::path pkg = kernel_ / "torch-ext/relu";
    write_file_atomic(pkg / "__init__.py", "from ._ops import ops\n");
    write_file_atomic(pkg / "_ops.py", "ops = None\n");
    write_file_atomic(pkg / "layers/__init__.py", "class ReLU: pass\n");
    write_file_atomic(pkg / "data/table.json", "{\"a\": 1}\n");
    write_file_atomic(pkg / "data/deep/weights.bin", std::string("\x00\x01\xff\n", 4));
    write_file_atomic(pkg / "__pycache__/__init__.cpython-312.pyc", "bytecode");
    write_file_atomic(pkg / "layers/__pycache__/__init__.cpython-312.pyc", "bytecode");
    write_file_atomic(pkg / "layers/__pycache__/lock", "");  // all of __pycache__, not just *.pyc
    write_file_atomic(pkg / "stale.pyc", "bytecode");
    // Neither another package nor the kernel dir's own metadata is shipped.
    write_file_atomic(kernel_ / "torch-ext/other/__init__.py", "");
    write_file_atomic(kernel_ / "metadata-cpu.json", "{\"decoy\": true}\n");
    write_file_atomic(project_ / "metadata-cpu.json", kMetadataCpu);
    write_file_atomic(project_ / "metadata-cuda.json", "{}\n");
  }

  CompileRequest request() const {
    CompileRequest r;
    r.kernel_dir = kernel_;
    r.project_dir = project_;
    r.scratch_dir = scratch_;
    r.variant = "torch-cpu";
    r.backend = "cpu";
    r.noarch = true;
    r.module = "relu";
    return r;
  }

  fs::path variant_dir() const { return kernel_ / "build/torch-cpu"; }

  // The variant's files with their inode and mtime.
  std::map<std::string, FileId> snapshot() const {
    std::map<std::string, FileId> out;
    for (const auto& rel : list_files(variant_dir())) out[rel] = file_id(variant_dir() / rel);
    out["."] = file_id(variant_dir());
    return out;
  }

  // Backdates the installed files, so that a rewrite within the same clock
  // tick would still change their mtime.
  void backdate_variant() const {
    auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
    for (const auto& rel : list_files(variant_dir())) fs::last_write_time(variant_dir() / rel, old);
  }

  void expect_no_temporaries() const {
    EXPECT_EQ(temporaries_in(kernel_ / "build"), std::vector<std::string>{});
    EXPECT_EQ(temporaries_in(cmake_build_dir(request())), std::vector<std::string>{});
  }

  TempDir dir_;
  fs::path kernel_, project_, scratch_;
};

const std::vector<std::string> kShipped = {
    "__init__.py", "_ops.py", "data/deep/weights.bin", "data/table.json", "layers/__init__.py", "metadata.json"};

}  // namespace

// --------------------------------------------------------- request_from_event

TEST(CompileRequestFromEvent, ReadsEveryField) {
  CompileRequest r = request_from_event(full_arch_event());
  EXPECT_EQ(r.kernel_dir, fs::path("/k/relu"));
  EXPECT_EQ(r.project_dir, fs::path("/p/relu-project"));
  EXPECT_EQ(r.scratch_dir, fs::path("/s/relu-act-0123456789ab"));
  EXPECT_EQ(r.variant, "torch211-cxx11-cu130-x86_64-linux");
  EXPECT_EQ(r.backend, "cuda");
  EXPECT_FALSE(r.noarch);
  EXPECT_EQ(r.module, "relu_act");
  EXPECT_EQ(r.python, "/opt/py/bin/python3");
  EXPECT_EQ(r.torch_version, "2.11.0+cu130");
  EXPECT_EQ(r.nvcc, "/usr/local/cuda/bin/nvcc");
  EXPECT_EQ(r.cmake_args,
            (std::vector<std::string>{"-DTorch_DIR=/opt/torch/share/cmake/Torch", "-DCMAKE_PREFIX_PATH=/opt"}));
  // jobs is kb-compile's own decision, never the event's.
  EXPECT_EQ(r.jobs, 0);
}

TEST(CompileRequestFromEvent, ReadsWhatPlannedEventWrites) {
  // The producer (kb-genproject) and the consumer (kb-compile) must agree.
  config::BuildConfig config;
  config.general.name = "relu-act";
  toolchain::PythonToolchain t;
  t.python = "/opt/py/bin/python3";
  t.torch.version_raw = "2.11.0+cu130";
  t.torch.cuda = "13.0";
  t.torch.cmake_dir = "/opt/torch/share/cmake/Torch";
  PlannedVariant v{"torch211-cxx11-cu130-x86_64-linux",
                   config::Backend::Cuda,
                   false,
                   "_relu_act_cuda_x",
                   t,
                   toolchain::Nvcc{"/usr/local/cuda/bin/nvcc", Version::parse("13.0"), false}};
  CompileRequest r = request_from_event(planned_event(v, config, "/k/relu", "/p/relu"));
  EXPECT_EQ(r.kernel_dir, fs::path("/k/relu"));
  EXPECT_EQ(r.project_dir, fs::path("/p/relu"));
  EXPECT_EQ(r.variant, v.variant);
  EXPECT_EQ(r.backend, "cuda");
  EXPECT_FALSE(r.noarch);
  EXPECT_EQ(r.module, "relu_act");
  EXPECT_EQ(r.python, "/opt/py/bin/python3");
  EXPECT_EQ(r.torch_version, "2.11.0+cu130");
  EXPECT_EQ(r.nvcc, "/usr/local/cuda/bin/nvcc");
  ASSERT_EQ(r.cmake_args.size(), 2u);
  EXPECT_EQ(r.cmake_args[0], "-DTorch_DIR=/opt/torch/share/cmake/Torch");

  PlannedVariant noarch{"torch-cpu", config::Backend::Cpu, true, "_relu_act_cpu_x", std::nullopt, std::nullopt};
  CompileRequest n = request_from_event(planned_event(noarch, config, "/k/relu", "/k/relu"));
  EXPECT_TRUE(n.noarch);
  EXPECT_EQ(n.variant, "torch-cpu");
  EXPECT_TRUE(n.python.empty());
  EXPECT_TRUE(n.cmake_args.empty());
}

TEST(CompileRequestFromEvent, NoarchNeedsNoPythonAndProjectDirDefaultsToKernelDir) {
  Json e = noarch_event();
  e.erase("project_dir");
  CompileRequest r = request_from_event(e);
  EXPECT_TRUE(r.noarch);
  EXPECT_EQ(r.project_dir, fs::path("/k/relu"));
  e["project_dir"] = nullptr;
  EXPECT_EQ(request_from_event(e).project_dir, fs::path("/k/relu"));
  EXPECT_TRUE(r.python.empty());
  EXPECT_TRUE(r.nvcc.empty());
}

TEST(CompileRequestFromEvent, RejectsEventsMissingRequiredFields) {
  for (const char* key : {"kernel_dir", "variant", "backend", "module"}) {
    Json e = noarch_event();
    e.erase(key);
    std::string m = error_of([&] { request_from_event(e); });
    // Exactly the missing field is named, with the type expected.
    EXPECT_EQ(m, std::string("variant-planned event lacks the field \"") + key + "\" (a non-empty string)");
    e[key] = "";
    EXPECT_EQ(error_of([&] { request_from_event(e); }), m) << key;
    // A field of the wrong type says what it got.
    e[key] = 42;
    EXPECT_EQ(error_of([&] { request_from_event(e); }),
              std::string("variant-planned event: field \"") + key + "\" must be a string, got number 42");
  }
  Json e = noarch_event();
  e["cmake_args"] = {"-DX=1", 2};
  EXPECT_EQ(error_of([&] { request_from_event(e); }),
            "variant-planned event: field \"cmake_args\" must be an array of strings, got array [\"-DX=1\",2]");
}

TEST(CompileRequestFromEvent, ArchEventWithoutPythonNamesTheVariant) {
  Json e = full_arch_event();
  e.erase("python");
  std::string m = error_of([&] { request_from_event(e); });
  EXPECT_EQ(m, "variant-planned event for torch211-cxx11-cu130-x86_64-linux lacks python");
}

TEST(CompileRequestFromEvent, RejectsVariantNamesThatEscapeBuildDir) {
  // The variant becomes build/<variant>, which is replaced wholesale.
  for (const char* bad : {"..", ".", "../../etc", "a/b"}) {
    Json e = noarch_event();
    e["variant"] = bad;
    std::string m = error_of([&] { request_from_event(e); });
    EXPECT_EQ(m, std::string("variant-planned event has an invalid variant name: ") + bad);
  }
}

TEST(CompileCMakeBuildDir, IsPerVariantUnderTheScratchDir) {
  CompileRequest r = request_from_event(full_arch_event());
  EXPECT_EQ(cmake_build_dir(r), fs::path("/s/relu-act-0123456789ab/cmake/torch211-cxx11-cu130-x86_64-linux"));
  r.variant = "torch-cpu";
  EXPECT_EQ(cmake_build_dir(r), fs::path("/s/relu-act-0123456789ab/cmake/torch-cpu"));
}

TEST(CompileCMakeBuildDir, EventWithoutScratchDirUsesTheKernelsDefaultOneNeverTheKernelDir) {
  kb::testing::ScopedEnv root("KB_SCRATCH_DIR", "/scratch-root");
  Json e = full_arch_event();
  e.erase("scratch_dir");
  CompileRequest r = request_from_event(e);
  EXPECT_TRUE(r.scratch_dir.empty());
  EXPECT_EQ(cmake_build_dir(r), scratch_cmake_dir(scratch_dir("/k/relu", "relu_act"), r.variant));
  EXPECT_EQ(cmake_build_dir(r).parent_path().parent_path().parent_path(), fs::path("/scratch-root"));
}

// ---------------------------------------------------------- noarch compile

TEST_F(CompileNoarch, CopiesThePackageAndMetadataIntoBuildVariant) {
  std::vector<std::string> steps;
  CompileResult r = compile_variant(request(), [&](const std::string& s) { steps.push_back(s); });
  EXPECT_EQ(r.dir, variant_dir());
  EXPECT_FALSE(r.up_to_date);
  // Bytecode and __pycache__ (at any depth) are left out; other packages too.
  EXPECT_EQ(r.artifacts, kShipped);
  EXPECT_EQ(list_files(variant_dir()), kShipped);
  for (const char* rel : {"__init__.py", "_ops.py", "layers/__init__.py", "data/table.json", "data/deep/weights.bin"})
    EXPECT_EQ(read_file(variant_dir() / rel), read_file(kernel_ / "torch-ext/relu" / rel)) << rel;
  // metadata.json is a verbatim copy of the project dir's metadata-cpu.json.
  EXPECT_EQ(read_file(variant_dir() / "metadata.json"), kMetadataCpu);
  // Only this variant appears under build/, with no staging left anywhere.
  std::vector<std::string> in_build;
  for (const auto& e : fs::directory_iterator(kernel_ / "build")) in_build.push_back(e.path().filename().string());
  EXPECT_EQ(in_build, std::vector<std::string>{"torch-cpu"});
  expect_no_temporaries();
  EXPECT_EQ(steps, (std::vector<std::string>{"copying torch-ext/relu", "installing into build/torch-cpu"}));
}

TEST_F(CompileNoarch, SecondCompileIsUpToDateAndTouchesNothing) {
  compile_variant(request());
  backdate_variant();
  auto before = snapshot();
  std::vector<std::string> steps;
  CompileResult r = compile_variant(request(), [&](const std::string& s) { steps.push_back(s); });
  EXPECT_TRUE(r.up_to_date);
  EXPECT_EQ(r.artifacts, kShipped);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(steps, std::vector<std::string>{"copying torch-ext/relu"});
  expect_no_temporaries();
}

TEST_F(CompileNoarch, FinalizedMetadataDoesNotMakeItOutOfDate) {
  // kb-metadata adds digest and provenance to the installed metadata.json
  // after the build; that alone must not undo its work on the next build.
  compile_variant(request());
  Json m = Json::parse(read_file(variant_dir() / "metadata.json"));
  m["digest"] = {{"algorithm", "sha256"}, {"files", {{"__init__.py", "AAAA"}}}};
  m["provenance"] = {{"kernel-builder", {{"version", "kb 1"}}}};
  write_file_atomic(variant_dir() / "metadata.json", m.dump(2));
  const std::string finalized = read_file(variant_dir() / "metadata.json");
  CompileResult r = compile_variant(request());
  EXPECT_TRUE(r.up_to_date);
  EXPECT_EQ(read_file(variant_dir() / "metadata.json"), finalized);

  // A real change to the metadata (here: the version) does rebuild.
  write_file_atomic(project_ / "metadata-cpu.json", replace_all(kMetadataCpu, "\"version\": 1", "\"version\": 2"));
  r = compile_variant(request());
  EXPECT_FALSE(r.up_to_date);
  EXPECT_EQ(Json::parse(read_file(variant_dir() / "metadata.json"))["version"], 2);
  EXPECT_FALSE(Json::parse(read_file(variant_dir() / "metadata.json")).contains("digest"));
}

TEST_F(CompileNoarch, ChangedSourceRebuildsWithTheNewContent) {
  compile_variant(request());
  const fs::path pkg = kernel_ / "torch-ext/relu";
  write_file_atomic(pkg / "data/deep/weights.bin", "new weights");
  fs::remove(pkg / "layers/__init__.py");
  write_file_atomic(pkg / "layers/gelu.py", "class GELU: pass\n");
  CompileResult r = compile_variant(request());
  EXPECT_FALSE(r.up_to_date);
  EXPECT_EQ(read_file(variant_dir() / "data/deep/weights.bin"), "new weights");
  EXPECT_EQ(read_file(variant_dir() / "layers/gelu.py"), "class GELU: pass\n");
  // The tree is replaced, not merged: the removed file is gone.
  EXPECT_FALSE(fs::exists(variant_dir() / "layers/__init__.py"));
  EXPECT_EQ(r.artifacts, (std::vector<std::string>{"__init__.py", "_ops.py", "data/deep/weights.bin", "data/table.json",
                                                   "layers/gelu.py", "metadata.json"}));
  expect_no_temporaries();
  // And the rebuilt tree is then up to date.
  EXPECT_TRUE(compile_variant(request()).up_to_date);
}

TEST_F(CompileNoarch, StrayFileInTheInstalledVariantIsRemoved) {
  compile_variant(request());
  write_file_atomic(variant_dir() / "leftover.py", "x = 1\n");
  CompileResult r = compile_variant(request());
  EXPECT_FALSE(r.up_to_date);
  EXPECT_EQ(r.artifacts, kShipped);
}

TEST_F(CompileNoarch, MissingPackageFailsAndWritesNoVariant) {
  fs::remove_all(kernel_ / "torch-ext/relu");
  std::string m = error_of([&] { compile_variant(request()); });
  EXPECT_EQ(m, "torch-ext/relu does not exist in " + kernel_.string());
  EXPECT_FALSE(fs::exists(variant_dir()));
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(kernel_ / "build") || fs::is_empty(kernel_ / "build", ec));
  expect_no_temporaries();
}

TEST_F(CompileNoarch, MissingPackageKeepsThePreviousBuildIntact) {
  compile_variant(request());
  backdate_variant();
  auto before = snapshot();
  fs::remove_all(kernel_ / "torch-ext/relu");
  EXPECT_TRUE(contains(error_of([&] { compile_variant(request()); }), "torch-ext/relu does not exist"));
  EXPECT_EQ(snapshot(), before);
  expect_no_temporaries();
}

TEST_F(CompileNoarch, MissingMetadataFailsNamingTheFile) {
  fs::remove(project_ / "metadata-cpu.json");
  std::string m = error_of([&] { compile_variant(request()); });
  // The kernel dir's decoy metadata-cpu.json is not a substitute.
  EXPECT_TRUE(contains(m, (project_ / "metadata-cpu.json").string())) << m;
  EXPECT_FALSE(fs::exists(variant_dir()));
  expect_no_temporaries();
}

TEST_F(CompileNoarch, PackageWithOnlyBytecodeShipsJustMetadata) {
  // Like shutil.copytree in the noarch setup.py: the variant directory
  // exists even when nothing of the package is shipped.
  fs::remove_all(kernel_ / "torch-ext/relu");
  write_file_atomic(kernel_ / "torch-ext/relu/__pycache__/x.cpython-312.pyc", "bytecode");
  CompileResult r = compile_variant(request());
  EXPECT_EQ(r.artifacts, std::vector<std::string>{"metadata.json"});
  EXPECT_EQ(read_file(variant_dir() / "metadata.json"), kMetadataCpu);
}

TEST_F(CompileNoarch, GeneratedOpsFromTheProjectReplacesThePackagesAndTheKernelDirStaysUntouched) {
  // kb-genproject renders the noarch _ops.py into the project, never into
  // the user's torch-ext/<module>/.
  write_file_atomic(project_ / "torch-ext/relu/_ops.py", "# Generated by kb\nops = 'generated'\n");
  std::map<std::string, std::string> kernel_before;
  for (const auto& rel : list_files(kernel_)) kernel_before[rel] = read_file(kernel_ / rel);
  CompileResult r = compile_variant(request());
  EXPECT_EQ(r.artifacts, kShipped);
  EXPECT_EQ(read_file(variant_dir() / "_ops.py"), "# Generated by kb\nops = 'generated'\n");
  std::map<std::string, std::string> kernel_after;
  for (const auto& rel : list_files(kernel_))
    if (rel.rfind("build/", 0) != 0) kernel_after[rel] = read_file(kernel_ / rel);
  EXPECT_EQ(kernel_after, kernel_before);
  // The staging happened in the scratch directory, which keeps no leftovers.
  EXPECT_TRUE(fs::is_directory(cmake_build_dir(request())));
  EXPECT_EQ(cmake_build_dir(request()), scratch_ / "cmake/torch-cpu");
  expect_no_temporaries();
  EXPECT_TRUE(compile_variant(request()).up_to_date);
  // A changed generated _ops.py (a new unique id) rebuilds.
  write_file_atomic(project_ / "torch-ext/relu/_ops.py", "# Generated by kb\nops = 'other id'\n");
  EXPECT_FALSE(compile_variant(request()).up_to_date);
  EXPECT_EQ(read_file(variant_dir() / "_ops.py"), "# Generated by kb\nops = 'other id'\n");
}
