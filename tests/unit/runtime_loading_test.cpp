// The torch-free parts of loading: libtorch build settings, the shared object
// of a variant, the dirty-provenance warning, and the `kb variants` report.
#include <gtest/gtest.h>

#include "libkb/runtime/torch_config.h"
#include "libkb/runtime/variant_files.h"
#include "libkb/runtime/variants_report.h"
#include "libkb/util/fs.h"
#include "libkb/util/platform.h"
#include "tests/unit/support.h"

using namespace kb;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

// Shortened at::show_config() of Debian's libtorch 1.13 and of a PyPI CUDA build.
const char* kDebianConfig =
    "PyTorch built with:\n"
    "  - GCC 12.2\n"
    "  - CPU capability usage: AVX2\n"
    "  - Build settings: BLAS_INFO=generic, BUILD_TYPE=RelWithDebInfo, CXX_COMPILER=/usr/bin/c++, "
    "CXX_FLAGS=-Wdate-time -D_FORTIFY_SOURCE=2 -g -O2 -fopenmp, LAPACK_INFO=generic, TORCH_VERSION=1.13.0, "
    "USE_CUDA=OFF, USE_CUDNN=OFF, USE_ROCM=OFF, \n";
const char* kCudaConfig =
    "PyTorch built with:\n"
    "  - Build settings: BLAS_INFO=mkl, CUDA_FLAGS= -Xcudafe --diag_suppress=cc_clobber_ignored,--diag_suppress=x "
    "-gencode arch=compute_90,code=sm_90, CUDA_VERSION=13.0, CXX_COMPILER=/usr/bin/c++, TORCH_VERSION=2.14.1, "
    "USE_CUDA=1, USE_ROCM=OFF, USE_XPU=OFF, \n";

class TempDir {
 public:
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-runtime-loading")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

metadata::Metadata relu_metadata() {
  metadata::Metadata m;
  m.name = "relu-act";
  m.id = "_relu_act_cpu_abc1234";
  m.version = 1;
  m.license = "MIT";
  return m;
}

void touch(const fs::path& file) { write_file_atomic(file, "x"); }

void make_variant(const fs::path& dir) { write_file_atomic(dir / "metadata.json", "{}"); }

resolve::Environment cpu_environment(const std::string& torch = "1.13.0") {
  resolve::TorchFacts facts;
  facts.version = torch;
  facts.cxx11_abi = true;
  return resolve::make_environment("x86_64", "Linux", facts);
}

}  // namespace

TEST(TorchBuildSettings, ParsesEntriesWhoseValuesHoldCommasAndSpaces) {
  auto settings = runtime::parse_build_settings(kCudaConfig);
  EXPECT_EQ(settings.at("CUDA_FLAGS"),
            "-Xcudafe --diag_suppress=cc_clobber_ignored,--diag_suppress=x -gencode arch=compute_90,code=sm_90");
  EXPECT_EQ(settings.at("CUDA_VERSION"), "13.0");
  EXPECT_EQ(settings.at("USE_XPU"), "OFF") << "the trailing \", \" is not part of the last value";
  EXPECT_EQ(runtime::parse_build_settings(kDebianConfig).at("CXX_FLAGS"),
            "-Wdate-time -D_FORTIFY_SOURCE=2 -g -O2 -fopenmp");
  EXPECT_TRUE(runtime::parse_build_settings("PyTorch built with:\n  - GCC 12.2\n").empty());
}

TEST(TorchBuildSettings, FactsOfACpuBuild) {
  auto facts = runtime::torch_facts_from_build_settings(runtime::parse_build_settings(kDebianConfig), true);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->version, "1.13.0");
  EXPECT_TRUE(facts->cxx11_abi);
  EXPECT_FALSE(facts->cuda);
  EXPECT_FALSE(facts->hip);
  EXPECT_EQ(resolve::make_environment("x86_64", "Linux", *facts).describe(), "torch 1.13, cxx11, cpu, x86_64-linux");
}

TEST(TorchBuildSettings, ACudaBuildReportsCudaWhateverTheMachine) {
  auto facts = runtime::torch_facts_from_build_settings(runtime::parse_build_settings(kCudaConfig), false);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts->cuda, "13.0");
  EXPECT_EQ(resolve::make_environment("x86_64", "Linux", *facts).describe(), "torch 2.14, cxx98, cu130, x86_64-linux");
}

TEST(TorchBuildSettings, RocmAndXpuVersionsOnlyWhenEnabled) {
  auto rocm = runtime::torch_facts_from_build_settings(
      {{"TORCH_VERSION", "2.9.0"}, {"USE_ROCM", "ON"}, {"ROCM_VERSION", "6.3.42131"}, {"CUDA_VERSION", "12.6"}},
      true);
  EXPECT_EQ(rocm->hip, "6.3.42131");
  EXPECT_FALSE(rocm->cuda) << "CUDA_VERSION without USE_CUDA";
  auto xpu = runtime::torch_facts_from_build_settings(
      {{"TORCH_VERSION", "2.9.0"}, {"USE_XPU", "1"}, {"SYCL_COMPILER_VERSION", "20250300"}}, true);
  EXPECT_EQ(xpu->xpu, "20250300");
  EXPECT_FALSE(runtime::torch_facts_from_build_settings({{"USE_CUDA", "1"}}, true)) << "no TORCH_VERSION";
}

TEST(KernelLibrary, PrefersTheAbi3SharedObjectNamedAfterTheId) {
  TempDir tmp;
  touch(tmp.path() / "_relu_act_cpu_abc1234.abi3.so");
  touch(tmp.path() / "_relu_act_cpu_abc1234.cpython-311-x86_64-linux-gnu.so");
  touch(tmp.path() / "_other_cpu_0000000.abi3.so");
  EXPECT_EQ(runtime::find_kernel_library(tmp.path(), relu_metadata()), tmp.path() / "_relu_act_cpu_abc1234.abi3.so");
}

TEST(KernelLibrary, AcceptsOneVersionSpecificSuffixAndTheLegacyPackageDirectory) {
  TempDir tmp;
  fs::path legacy = tmp.path() / "relu_act" / "_relu_act_cpu_abc1234.cpython-311-x86_64-linux-gnu.so";
  touch(legacy);
  EXPECT_EQ(runtime::find_kernel_library(tmp.path(), relu_metadata()), legacy);
}

TEST(KernelLibrary, NoneOrSeveralAreErrorsNamingTheDirectory) {
  TempDir tmp;
  EXPECT_EQ(error_of([&] { runtime::find_kernel_library(tmp.path(), relu_metadata()); }),
            "No shared object for kernel `relu-act` (id _relu_act_cpu_abc1234) in " + tmp.path().string() +
                ": expected _relu_act_cpu_abc1234.abi3.so (noarch variants are pure Python and cannot be loaded "
                "without Python)");
  touch(tmp.path() / "_relu_act_cpu_abc1234.cpython-311-x86_64-linux-gnu.so");
  touch(tmp.path() / "_relu_act_cpu_abc1234.cpython-312-x86_64-linux-gnu.so");
  std::string error = error_of([&] { runtime::find_kernel_library(tmp.path(), relu_metadata()); });
  EXPECT_TRUE(contains(error, "Several shared objects for kernel `relu-act` (id _relu_act_cpu_abc1234) in " +
                                  tmp.path().string() +
                                  ": _relu_act_cpu_abc1234.cpython-311-x86_64-linux-gnu.so, "
                                  "_relu_act_cpu_abc1234.cpython-312-x86_64-linux-gnu.so"))
      << error;
}

TEST(DirtyProvenance, WarnsNamingWhatWasDirty) {
  metadata::Metadata m = relu_metadata();
  EXPECT_FALSE(runtime::dirty_provenance_warning(m, "torch-cpu")) << "no provenance";
  m.provenance = metadata::Provenance{{"kb 0.1.0", git::CommitState{std::string(40, 'a'), false}},
                                     git::CommitState{std::string(40, 'b'), false}};
  EXPECT_FALSE(runtime::dirty_provenance_warning(m, "torch-cpu")) << "clean";
  m.provenance->kernel->dirty = true;
  m.provenance->kernel_builder.git->dirty = true;
  EXPECT_EQ(runtime::dirty_provenance_warning(m, "torch-cpu"),
            "Kernel 'relu-act' variant 'torch-cpu' was built from a dirty git tree (kernel source, kernel-builder "
            "had uncommitted changes). Its recorded git revision does not fully identify the sources it was built "
            "from, so the build may not be reproducible.");
}

TEST(VariantsReport, DecidesEveryVariantAndNamesWhatWouldLoad) {
  TempDir tmp;
  for (const char* v : {"torch113-cxx11-cpu-x86_64-linux", "torch214-cxx11-cpu-x86_64-linux", "torch-cuda"})
    make_variant(tmp.path() / "build" / v);
  fs::create_directories(tmp.path() / "build" / "notes");
  fs::create_directories(tmp.path() / "torch-ext");  // a source directory that parses as a variant name

  runtime::VariantsReport report = runtime::report_local_variants(tmp.path(), cpu_environment());
  // A kernel root's own directories (torch-ext/) are not variants: only build/ is listed.
  ASSERT_EQ(report.groups.size(), 1u);
  EXPECT_EQ(report.groups[0].dir, tmp.path() / "build");
  EXPECT_EQ(report.groups[0].skipped.size(), 1u);
  EXPECT_EQ(report.chosen, tmp.path() / "build" / "torch113-cxx11-cpu-x86_64-linux");
  EXPECT_TRUE(report.error.empty());

  std::string text = runtime::render_report(report);
  EXPECT_TRUE(contains(text, "Variants in " + (tmp.path() / "build").string() + ":\n"
                             "  torch113-cxx11-cpu-x86_64-linux compatible, preferred ✅\n"
                             "  torch214-cxx11-cpu-x86_64-linux: Torch version (2.14) does not match environment "
                             "Torch version (1.13)\n"
                             "  torch-cuda: backend (cuda) does not match system backend (cpu) and is not universal\n"
                             "  (not a variant) notes: "))
      << text;
  EXPECT_TRUE(contains(text, "Would load: " + report.chosen->string() + "\n")) << text;

  auto json = runtime::report_json(report);
  EXPECT_EQ(json["chosen"], report.chosen->string());
  ASSERT_EQ(json["variants"].size(), 3u);
  EXPECT_EQ(json["variants"][0]["variant"], "torch113-cxx11-cpu-x86_64-linux");
  EXPECT_EQ(json["variants"][0]["accepted"], true);
  EXPECT_TRUE(json["variants"][0]["reason"].is_null());
  EXPECT_EQ(json["variants"][2]["reason"],
            "backend (cuda) does not match system backend (cpu) and is not universal");
}

TEST(VariantsReport, NothingCompatibleKeepsTheTraceAndTheLoaderError) {
  TempDir tmp;
  make_variant(tmp.path() / "torch214-cxx11-cpu-x86_64-linux");
  runtime::VariantsReport report = runtime::report_local_variants(tmp.path(), cpu_environment());
  EXPECT_FALSE(report.chosen);
  EXPECT_TRUE(contains(report.error, "Cannot find a build variant for this system in " + tmp.path().string()));
  EXPECT_TRUE(contains(runtime::render_report(report), "No compatible variant: nothing would load"));
  EXPECT_TRUE(runtime::report_json(report)["chosen"].is_null());
}

TEST(VariantsReport, AnExplicitVariantDirectoryLoadsWithoutResolution) {
  TempDir tmp;
  fs::path variant = tmp.path() / "my-variant";
  make_variant(variant);
  runtime::VariantsReport report = runtime::report_local_variants(variant, cpu_environment());
  EXPECT_EQ(report.chosen, variant);
  EXPECT_FALSE(report.chosen_variant);
  EXPECT_TRUE(contains(runtime::render_report(report), "is a variant directory: it loads as is"));
}

TEST(PythonEnvironment, FromTheProbedTorchOrWithoutTorch) {
  toolchain::PythonToolchain py;
  py.machine = "x86_64";
  py.system = "Linux";
  py.python_version = "3.13.1";
  py.gil_disabled = true;
  py.torch.version_raw = "2.14.1+cu130";
  py.torch.cxx11_abi = true;
  py.torch.cuda = "13.0";
  resolve::Environment env = runtime::python_environment(&py);
  EXPECT_EQ(env.describe(), "torch 2.14, cxx11, cu130, x86_64-linux");
  EXPECT_TRUE(env.free_threaded);
  EXPECT_EQ(runtime::python_environment(&py, "cpu").backend.str(), "cpu");
  EXPECT_EQ(error_of([&] { runtime::python_environment(&py, "rocm"); }),
            "Invalid backend 'rocm', system supported backends: cpu, cuda");

  resolve::Environment none = runtime::python_environment(nullptr);
  EXPECT_FALSE(none.torch);
  EXPECT_EQ(none.backend.str(), "cpu");
  EXPECT_EQ(none.os, variant::normalize_os(host_platform().system));
}
