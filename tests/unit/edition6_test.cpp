// build.toml edition 6 (kernel `language`, Rust kernels, major.minor versions,
// build-layout), kernel dependencies declared in build.toml, the kernels-minver
// kb build writes, and update-build from editions 3, 4 and 5 to edition 6.
#include <gtest/gtest.h>

#include <filesystem>

#include "libkb/config/config.h"
#include "libkb/metadata/metadata.h"
#include "libkb/pipeline/plan.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"

using namespace kb;
using namespace kb::config;
namespace fs = std::filesystem;

namespace {

const char* const kGeneral6 = R"([general]
name = "relu"
version = 1
edition = 6
license = "apache-2.0"
backends = ["cuda", "cpu"]
)";

const char* const kTorch = R"(
[torch]
src = ["torch-ext/torch_binding.cpp"]
)";

// The kernel table at line 10 of every sample: keys start on line 11.
std::string kernel6(std::string_view language, std::string_view extra = "") {
  return std::string(kGeneral6) + kTorch + "\n[kernel.k]\nlanguage = \"" + std::string(language) +
         "\"\nsrc = [\"k.cpp\"]\ndepends = [\"torch\"]\n" + std::string(extra);
}

std::string with(std::string text, std::string_view from, std::string_view to) {
  size_t pos = text.find(from);
  if (pos == std::string::npos) throw std::logic_error("test text lacks " + std::string(from));
  return text.replace(pos, from.size(), to);
}

BuildConfig parse(const std::string& text) { return parse_build_config(text, "build.toml"); }

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const char* const kRustGeneral = R"([general]
name = "rusty"
version = 1
edition = 6
license = "apache-2.0"
backends = ["cpu", "cuda"]

[tvm-ffi]
)";

class TempDir {
 public:
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-edition6-test")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

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

std::vector<std::string> planned_names(const BuildConfig& config) {
  toolchain::Nvcc nvcc;
  nvcc.path = "/usr/local/cuda/bin/nvcc";
  nvcc.version = Version::parse("12.8");
  auto plan =
      pipeline::plan_variants(config, "abc1234", {torch_toolchain("2.8.0"), torch_toolchain("2.9.0", "12.8")}, nvcc);
  std::vector<std::string> out;
  for (const auto& v : plan.planned) out.push_back(v.variant);
  return out;
}

}  // namespace

// ------------------------------------------------------------ edition 6 kernels

TEST(Edition6, EachCppLanguageIsTheKernelOfItsBackend) {
  const std::vector<std::pair<std::string, Backend>> cases = {{"cpp-cpu", Backend::Cpu},
                                                              {"cpp-cuda", Backend::Cuda},
                                                              {"cpp-metal", Backend::Metal},
                                                              {"cpp-rocm", Backend::Rocm},
                                                              {"cpp-xpu", Backend::Xpu}};
  for (const auto& [language, backend] : cases) {
    BuildConfig c = parse(kernel6(language));
    EXPECT_EQ(c.edition, 6);
    ASSERT_EQ(c.kernels.size(), 1u);
    EXPECT_EQ(c.kernels[0].backend, backend) << language;
    EXPECT_FALSE(c.kernels[0].rust);
    EXPECT_EQ(kernel_language_name(c.kernels[0].language()), language);
  }
}

TEST(Edition6, ReadsAsTheSameConfigurationAsEdition5) {
  std::string v6 = std::string(kGeneral6) + kTorch + R"(
[kernel.relu]
language = "cpp-cuda"
src = ["relu_cuda/relu.cu"]
depends = ["torch"]
cuda-capabilities = ["8.0", "9.0a"]
cuda-flags = ["--use_fast_math"]
cuda-minver = "12.8"

[kernel.relu_cpu]
language = "cpp-cpu"
src = ["relu_cpu/relu.cpp"]
depends = ["torch"]
cxx-flags = ["-O3"]
)";
  std::string v5 = with(with(with(v6, "edition = 6", "edition = 5"), "language = \"cpp-cuda\"", "backend = \"cuda\""),
                        "language = \"cpp-cpu\"", "backend = \"cpu\"");
  BuildConfig six = parse(v6);
  BuildConfig five = parse(v5);
  EXPECT_EQ(five.edition, 5);
  five.edition = 6;
  EXPECT_EQ(six, five);
  EXPECT_EQ(planned_names(six), planned_names(five));
  EXPECT_EQ(planned_names(six).size(), 3u);  // cpu for both torch versions, cuda for 2.9
}

TEST(Edition6, BackendKeyIsReplacedByLanguage) {
  std::string text = with(kernel6("cpp-cuda"), "language = \"cpp-cuda\"", "backend = \"cuda\"");
  EXPECT_EQ(error_of(text),
            "build.toml:12:11: [kernel.k] \"backend\" was replaced by \"language\" in edition 6: write language = "
            "\"cpp-cuda\" (`kb update-build` converts the file)");
  EXPECT_EQ(error_of(kernel6("cpp-cuda", "backend = \"cuda\"\n")),
            "build.toml:15:1: [kernel.k] unknown key \"backend\" (edition 6 kernels set `language` only; "
            "\"backend\" follows from it)");
}

TEST(Edition6, LanguageIsRequiredAndChecked) {
  std::string missing = with(kernel6("cpp-cpu"), "language = \"cpp-cpu\"\n", "");
  EXPECT_EQ(error_of(missing),
            "build.toml:11:1: [kernel.k] missing required key \"language\"; expected one of: cpp-cpu, cpp-cuda, "
            "cpp-metal, cpp-rocm, cpp-xpu, rust-cpu, rust-cuda-oxide, rust-cutile");
  EXPECT_EQ(error_of(kernel6("cuda")),
            "build.toml:12:12: [kernel.k] unknown kernel language \"cuda\" (did you mean \"cpp-cuda\"?); expected one "
            "of: cpp-cpu, cpp-cuda, cpp-metal, cpp-rocm, cpp-xpu, rust-cpu, rust-cuda-oxide, rust-cutile");
  EXPECT_EQ(
      error_of(kernel6("cpp-cudaa"))
          .rfind("build.toml:12:12: [kernel.k] unknown kernel language \"cpp-cudaa\" (did you mean \"cpp-cuda\"?)", 0),
      0u);
  EXPECT_EQ(error_of(with(kernel6("x"), "language = \"x\"", "language = 3")),
            "build.toml:12:12: [kernel.k] \"language\" must be a string, one of: cpp-cpu, cpp-cuda, cpp-metal, "
            "cpp-rocm, cpp-xpu, rust-cpu, rust-cuda-oxide, rust-cutile; found integer");
}

TEST(Edition6, OptionsOfOtherLanguagesAreRejected) {
  EXPECT_EQ(error_of(kernel6("cpp-cpu", "cuda-flags = [\"-O3\"]\n")),
            "build.toml:15:1: [kernel.k] unknown key \"cuda-flags\" (\"cuda-flags\" is only valid in cpp-cuda "
            "kernels; this kernel has language = \"cpp-cpu\")");
  EXPECT_EQ(error_of(kernel6("cpp-cuda", "rocm-archs = [\"gfx942\"]\n")),
            "build.toml:15:1: [kernel.k] unknown key \"rocm-archs\" (\"rocm-archs\" is only valid in cpp-rocm "
            "kernels; this kernel has language = \"cpp-cuda\")");
  EXPECT_EQ(error_of(kernel6("cpp-cpu", "cargo-manifest = \"Cargo.toml\"\n")),
            "build.toml:15:1: [kernel.k] unknown key \"cargo-manifest\" (\"cargo-manifest\" is only valid in "
            "rust-cpu, rust-cuda-oxide, rust-cutile kernels; this kernel has language = \"cpp-cpu\")");
  EXPECT_EQ(error_of(kernel6("cpp-cpu", "srcs = []\n")),
            "build.toml:15:1: [kernel.k] unknown key \"srcs\" (did you mean \"src\"?)");
}

TEST(Edition6, TorchStableAbiShimIsADependencyOfEditionSix) {
  BuildConfig c = parse(with(kernel6("cpp-cuda"), "depends = [\"torch\"]", "depends = [\"torch-stable-abi-shim\"]"));
  EXPECT_EQ(c.kernels[0].depends, std::vector<std::string>{"torch-stable-abi-shim"});
  std::string v5 = with(
      with(with(kernel6("cpp-cuda"), "edition = 6", "edition = 5"), "language = \"cpp-cuda\"", "backend = \"cuda\""),
      "depends = [\"torch\"]", "depends = [\"torch-stable-abi-shim\"]");
  EXPECT_EQ(error_of(v5).rfind(
                "build.toml:14:12: [kernel.k] unknown dependency \"torch-stable-abi-shim\" in \"depends\" (it needs "
                "edition 6: set `edition = 6` in [general]); expected one of:",
                0),
            0u)
      << error_of(v5);
}

TEST(Edition6, LanguageInEditionFiveNamesTheEdition) {
  std::string v5 = with(kernel6("cpp-cuda"), "edition = 6", "edition = 5");
  EXPECT_EQ(error_of(v5),
            "build.toml:12:1: [kernel.k] unknown key \"language\" (\"language\" replaces \"backend\" in edition 6: "
            "set `edition = 6` in [general])");
  EXPECT_EQ(error_of(with(kernel6("cpp-cpu"), "edition = 6", "edition = 5\nbuild-layout = \"zip\"")),
            "build.toml:5:1: [general] unknown key \"build-layout\" (\"build-layout\" needs edition 6: set "
            "`edition = 6` in [general])");
}

TEST(Edition6, EditionsBeyondSixAreRefused) {
  EXPECT_EQ(error_of(with(kernel6("cpp-cpu"), "edition = 6", "edition = 7")),
            "build.toml:4:11: [general] unsupported build edition 7; this kb reads editions 5 and 6, a newer kb is "
            "needed");
  EXPECT_EQ(error_of(with(kernel6("cpp-cpu"), "edition = 6", "edition = 4")),
            "build.toml:4:11: [general] unsupported build edition 4; the editions are 5 and 6 (older formats have "
            "no `edition` key; `kb update-build` converts them)");
}

TEST(Edition6, BuildLayout) {
  EXPECT_EQ(parse(kernel6("cpp-cpu")).general.build_layout, BuildLayout::Files);
  EXPECT_EQ(parse(with(kernel6("cpp-cpu"), "backends", "build-layout = \"files\"\nbackends")).general.build_layout,
            BuildLayout::Files);
  EXPECT_EQ(parse(with(kernel6("cpp-cpu"), "backends", "build-layout = \"zip\"\nbackends")).general.build_layout,
            BuildLayout::Zip);
  EXPECT_EQ(error_of(with(kernel6("cpp-cpu"), "backends", "build-layout = \"tar\"\nbackends")),
            "build.toml:6:16: [general] \"build-layout\" must be \"files\" or \"zip\", found \"tar\"");
  EXPECT_EQ(error_of(with(kernel6("cpp-cpu"), "backends", "build-layout = 1\nbackends")),
            "build.toml:6:16: [general] \"build-layout\" must be a string, found integer");
}

TEST(Edition6, MlxNoarchIsNotBuiltByKb) {
  std::string text = std::string(kGeneral6) + "\n[mlx-noarch]\npyext = [\"py\"]\n";
  EXPECT_EQ(error_of(text),
            "build.toml:8:1: [mlx-noarch] [mlx-noarch] kernels are not supported by kb yet; use [torch-noarch] or "
            "[torch]");
}

// ------------------------------------------------------ major.minor versions

TEST(Edition6, VersionsAreExactlyMajorMinor) {
  struct Case {
    std::string text;   // the edition-6 file
    std::string where;  // expected "line:col: [table] \"key\""
  };
  std::string cuda_kernel = kernel6("cpp-cuda", "cuda-minver = \"V\"\n");
  const std::vector<Case> cases = {
      {std::string(kGeneral6) + kTorch + "\n[general.cuda]\nminver = \"V\"\n", "12:10: [general.cuda] \"minver\""},
      {std::string(kGeneral6) + kTorch + "\n[general.cuda]\nmaxver = \"V\"\n", "12:10: [general.cuda] \"maxver\""},
      {with(std::string(kGeneral6) + kTorch, "[torch]\n", "[torch]\nminver = \"V\"\n"), "9:10: [torch] \"minver\""},
      {with(std::string(kGeneral6) + kTorch, "[torch]\n", "[torch]\nmaxver = \"V\"\n"), "9:10: [torch] \"maxver\""},
      {with(std::string(kGeneral6) + kTorch, "[torch]\n", "[torch]\nstable-abi = \"V\"\n"),
       "9:14: [torch] \"stable-abi\""},
      {with(std::string(kGeneral6) + kTorch, "[torch]\n", "[torch]\nstable-abi = { cuda = \"V\" }\n"),
       "9:23: [torch.stable-abi] \"cuda\""},
      {cuda_kernel, "15:15: [kernel.k] \"cuda-minver\""},
  };
  for (const auto& c : cases) {
    for (std::string bad : {"13", "12.8.0", "12.x", ".8"}) {
      std::string message = error_of(with(c.text, "\"V\"", "\"" + bad + "\""));
      EXPECT_EQ(message, "build.toml:" + c.where +
                             " must be a version of exactly two parts, major.minor (e.g. \"12.8\"), found \"" + bad +
                             "\"")
          << c.text;
    }
    EXPECT_EQ(error_of(with(c.text, "\"V\"", "\"12.8\"")), "") << c.text;
  }
  // Edition 5 keeps reading such versions.
  std::string v5 = with(std::string(kGeneral6) + kTorch, "edition = 6", "edition = 5") +
                   "\n[general.cuda]\nminver = \"12\"\nmaxver = \"12.8.0\"\n";
  EXPECT_EQ(parse(v5).general.cuda_maxver, Version::parse("12.8"));
}

// ------------------------------------------------------------- Rust kernels

TEST(Edition6, RustKernelsNeedTvmFfiAndACargoManifest) {
  BuildConfig c = parse(std::string(kRustGeneral) +
                        "\n[kernel.cpu_kernel]\nlanguage = \"rust-cpu\"\ncargo-manifest = \"cpu/Cargo.toml\"\n"
                        "src = [\"cpu/src/lib.rs\"]\n");
  EXPECT_EQ(c.framework, Framework::TvmFfi);
  EXPECT_TRUE(c.tvm_ffi.src.empty());  // edition 6: [tvm-ffi] src may be left out
  ASSERT_TRUE(c.kernels[0].rust);
  EXPECT_EQ(c.kernels[0].backend, Backend::Cpu);
  EXPECT_EQ(c.kernels[0].rust->cargo_manifest, "cpu/Cargo.toml");
  EXPECT_EQ(c.kernels[0].language(), KernelLanguage::RustCpu);

  std::string in_torch = std::string(kGeneral6) + kTorch +
                         "\n[kernel.r]\nlanguage = \"rust-cpu\"\ncargo-manifest = \"Cargo.toml\"\nsrc = []\n";
  EXPECT_EQ(error_of(in_torch),
            "build.toml:12:12: [kernel.r] Rust kernels (language = \"rust-cpu\") require the [tvm-ffi] framework "
            "table, found [torch]");
  EXPECT_EQ(error_of(std::string(kRustGeneral) + "\n[kernel.r]\nlanguage = \"rust-cpu\"\nsrc = []\n"),
            "build.toml:10:1: [kernel.r] missing required key \"cargo-manifest\"");
  EXPECT_EQ(error_of(std::string(kRustGeneral) +
                     "\n[kernel.r]\nlanguage = \"rust-cpu\"\ncargo-manifest = \"Cargo.toml\"\nsrc = []\n"
                     "depends = []\n"),
            "build.toml:14:1: [kernel.r] unknown key \"depends\" (\"depends\" is only valid in cpp-cpu, cpp-cuda, "
            "cpp-metal, cpp-rocm, cpp-xpu kernels; this kernel has language = \"rust-cpu\")");
}

TEST(Edition6, RustCutileNeedsTileiras132) {
  std::string base = std::string(kRustGeneral) +
                     "\n[kernel.t]\nlanguage = \"rust-cutile\"\ncargo-manifest = \"Cargo.toml\"\nsrc = []\n";
  BuildConfig c = parse(base + "tileiras-minver = \"13.3\"\n");
  EXPECT_EQ(c.kernels[0].backend, Backend::Cuda);
  EXPECT_EQ(c.kernels[0].rust->tileiras_minver, Version::parse("13.3"));
  EXPECT_EQ(error_of(base), "build.toml:10:1: [kernel.t] missing required key \"tileiras-minver\"");
  EXPECT_EQ(error_of(base + "tileiras-minver = \"13.1\"\n"),
            "build.toml:14:19: [kernel.t] \"tileiras-minver\" must be at least 13.2, the first CUDA version with "
            "cuTile");
  EXPECT_EQ(error_of(base + "tileiras-minver = \"13\"\n"),
            "build.toml:14:19: [kernel.t] \"tileiras-minver\" must be a version of exactly two parts, major.minor "
            "(e.g. \"12.8\"), found \"13\"");
}

TEST(Edition6, RustKernelsArePlannedAsSkipped) {
  BuildConfig c = parse(std::string(kRustGeneral) +
                        "\n[kernel.cpu_kernel]\nlanguage = \"rust-cpu\"\ncargo-manifest = \"Cargo.toml\"\nsrc = []\n");
  auto plan = pipeline::plan_variants(c, "abc1234", {torch_toolchain("2.9.0")}, std::nullopt);
  EXPECT_TRUE(plan.planned.empty());
  ASSERT_EQ(plan.skipped.size(), 2u);
  EXPECT_EQ(plan.skipped[0].backend, Backend::Cpu);
  EXPECT_EQ(plan.skipped[0].reason,
            "kernel \"cpu_kernel\" is written in Rust (language = \"rust-cpu\"), which kb cannot build yet");
  EXPECT_EQ(plan.skipped[1].backend, Backend::Cuda);
  EXPECT_EQ(plan.skipped[1].reason,
            "build.toml has no [kernel.*] with backend = \"cuda\" (tvm-ffi kernels have no noarch variants)");
}

// ------------------------------------------------ kernel-depends in build.toml

TEST(KernelDepends, VersionAndRevisionEntries) {
  BuildConfig c = parse(with(kernel6("cpp-cuda"), "backends",
                             "kernel-depends = [{ repo-id = \"org/act\", version = 1 }, { repo-id = \"org/x\", "
                             "revision = \"v1.2\" }]\nbackends") +
                        "\n[general.cuda]\nkernel-depends = [{ repo-id = \"org/cuda-only\", version = 3 }]\n");
  ASSERT_EQ(c.general.kernel_depends.size(), 2u);
  EXPECT_EQ(c.general.kernel_depends[0], (KernelDependency{"org/act", 1u, std::nullopt}));
  EXPECT_EQ(c.general.kernel_depends[1], (KernelDependency{"org/x", std::nullopt, "v1.2"}));
  EXPECT_EQ(c.kernel_depends_for(Backend::Cpu).size(), 2u);
  auto cuda = c.kernel_depends_for(Backend::Cuda);
  ASSERT_EQ(cuda.size(), 3u);
  EXPECT_EQ(cuda[2].repo_id, "org/cuda-only");
}

TEST(KernelDepends, InvalidEntriesNameTheirKey) {
  auto error_with = [](const std::string& entries) {
    return error_of(with(kernel6("cpp-cpu"), "backends", "kernel-depends = " + entries + "\nbackends"));
  };
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", version = 1, revision = \"main\" }]"),
            "build.toml:6:19: [general.kernel-depends] \"version\" and \"revision\" are mutually exclusive");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\" }]"),
            "build.toml:6:19: [general.kernel-depends] either \"version\" or \"revision\" must be specified");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", version = 1, frobnicate = true }]"),
            "build.toml:6:51: [general.kernel-depends] unknown key \"frobnicate\"; expected one of: repo-id, "
            "version, revision");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", versoin = 1 }]"),
            "build.toml:6:38: [general.kernel-depends] unknown key \"versoin\" (did you mean \"version\"?)");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", version = \"1\" }]"),
            "build.toml:6:48: [general.kernel-depends] \"version\" must be a non-negative integer, found string");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", version = -1 }]"),
            "build.toml:6:48: [general.kernel-depends] \"version\" must be a non-negative integer, found -1");
  EXPECT_EQ(error_with("[{ repo-id = \"a/b\", revision = 7 }]"),
            "build.toml:6:49: [general.kernel-depends] \"revision\" must be a string, found integer");
  EXPECT_EQ(error_with("[{ version = 1 }]"),
            "build.toml:6:19: [general.kernel-depends] missing required key \"repo-id\"");
  EXPECT_EQ(error_with("[\"a/b\"]"),
            "build.toml:6:19: [general] \"kernel-depends\" entries must be tables like { repo-id = \"org/name\", "
            "version = 1 }, found string");
  EXPECT_EQ(error_with("{ repo-id = \"a/b\", version = 1 }"),
            "build.toml:6:18: [general] \"kernel-depends\" must be an array of tables, found table");
  // Per-backend lists are checked the same way and named by their table.
  EXPECT_EQ(error_of(kernel6("cpp-cpu") + "\n[general.xpu]\nkernel-depends = [{ repo-id = \"a/b\" }]\n"),
            "build.toml:17:19: [general.xpu.kernel-depends] either \"version\" or \"revision\" must be specified");
  EXPECT_EQ(error_of(kernel6("cpp-cpu") + "\n[general.tpu]\nkernel-depends = []\n"),
            "build.toml:17:1: [general.tpu] unknown key \"kernel-depends\"; expected one of: python-depends");
}

// ---------------------------------------------------------- kernels-minver

TEST(KernelsMinver, FromTheVariantsFeatures) {
  EXPECT_EQ(metadata::minimum_kernels_version({}), "0.14.0");
  EXPECT_EQ(metadata::minimum_kernels_version({.kernel_depends = true}), "0.17.0");
  EXPECT_EQ(metadata::minimum_kernels_version({.zip_layout = true}), "0.19.0");
  EXPECT_EQ(metadata::minimum_kernels_version({.kernel_depends = true, .zip_layout = true}), "0.19.0");
}

TEST(KernelsMinver, MetadataOfEachBackendCarriesItsMinimum) {
  BuildConfig c = parse(kernel6("cpp-cuda") +
                        "\n[general.cuda]\nkernel-depends = [{ repo-id = \"org/cuda-only\", revision = \"main\" }]\n");
  metadata::Metadata cpu = metadata::metadata_for_backend(c, Backend::Cpu, "_relu_cpu_abc", std::nullopt);
  metadata::Metadata cuda = metadata::metadata_for_backend(c, Backend::Cuda, "_relu_cuda_abc", std::nullopt);
  EXPECT_EQ(cpu.kernels_minver, "0.14.0");
  EXPECT_TRUE(cpu.kernel_depends.empty());
  EXPECT_EQ(cuda.kernels_minver, "0.17.0");
  // Key order and the kernel-depends entry shape of the current metadata format.
  EXPECT_EQ(metadata::to_json_text(cuda),
            "{\n"
            "  \"name\": \"relu\",\n"
            "  \"id\": \"_relu_cuda_abc\",\n"
            "  \"version\": 1,\n"
            "  \"kernels-minver\": \"0.17.0\",\n"
            "  \"license\": \"apache-2.0\",\n"
            "  \"python-depends\": [],\n"
            "  \"kernel-depends\": [\n"
            "    {\n"
            "      \"repo-id\": \"org/cuda-only\",\n"
            "      \"revision\": \"main\"\n"
            "    }\n"
            "  ],\n"
            "  \"backend\": {\n"
            "    \"type\": \"cuda\"\n"
            "  }\n"
            "}\n");
  // What is written reads back the same.
  EXPECT_EQ(metadata::parse_metadata(metadata::to_json_text(cuda), "metadata.json"), cuda);
}

// ------------------------------------------------------------ update-build

namespace {

const char* const kV5 = R"(# comments are not kept
[general]
name = "relu"
version = 1
edition = 5
license = "apache-2.0"
backends = ["cuda", "cpu"]
kernel-depends = [{ repo-id = "org/act", version = 1 }]

[general.cuda]
minver = "12"
maxver = "12.9.0"

[torch]
src = ["torch-ext/torch_binding.cpp"]
minver = "2.8"
stable-abi = { cuda = "2.9" }

[kernel.relu]
backend = "cuda"
src = ["relu_cuda/relu.cu"]
depends = ["torch"]
cuda-minver = "12.8"

[kernel.relu_cpu]
backend = "cpu"
src = ["relu_cpu/relu.cpp"]
depends = ["torch"]
)";

// v4 has neither kernel-depends nor per-backend stable-abi tables.
std::string v4_text() {
  return with(with(with(kV5, "edition = 5\n", ""), "kernel-depends", "python-depends = []\n#"),
              "stable-abi = { cuda = \"2.9\" }", "stable-abi = \"2.9\"");
}

const char* const kV3 = R"([general]
name = "relu"
license = "mit"
backends = ["cpu"]

[kernel.relu]
backend = "cpu"
src = ["relu_cpu/relu.cpp"]
depends = ["torch"]

[torch]
src = ["torch-ext/torch_binding.cpp"]
)";

// Upgrades `text` in a fresh directory and checks the result: edition 6 on
// disk, the same configuration, the same planned variants.
void expect_upgrade(const std::string& text, int from_edition) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  write_file_atomic(file, text);
  LoadOptions allow;
  allow.allow_v3 = true;
  BuildConfig before = load_build_config(dir.path(), allow);
  ASSERT_EQ(before.edition, from_edition);

  UpdateBuildResult preview = plan_build_update(dir.path());
  EXPECT_TRUE(preview.changed);
  EXPECT_EQ(read_file(file), text);  // planning writes nothing

  UpdateBuildResult result = update_build_file(dir.path());
  EXPECT_TRUE(result.changed);
  EXPECT_EQ(result.from_edition, from_edition);
  EXPECT_EQ(result.text, preview.text);
  std::string written = read_file(file);
  EXPECT_EQ(written, result.text);
  EXPECT_NE(written.find("\nedition = 6\n"), std::string::npos) << written;
  EXPECT_EQ(written.find("backend = "), std::string::npos) << written;
  EXPECT_EQ(written.find("# comments"), std::string::npos);

  std::vector<std::string> warnings;
  BuildConfig after = load_build_config(dir.path(), {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(after.edition, 6);
  EXPECT_EQ(planned_names(after), planned_names(before));
  after.edition = before.edition;
  EXPECT_EQ(after, before) << written;

  // A second run finds edition 6 and leaves the file alone.
  auto mtime = fs::last_write_time(file);
  UpdateBuildResult again = update_build_file(dir.path());
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(again.from_edition, 6);
  EXPECT_EQ(read_file(file), written);
  EXPECT_EQ(fs::last_write_time(file), mtime);
}

}  // namespace

TEST(UpdateBuild, Edition5BecomesEdition6) {
  expect_upgrade(kV5, 5);
  TempDir dir;
  write_file_atomic(dir.path() / "build.toml", kV5);
  std::string text = update_build_file(dir.path()).text;
  EXPECT_NE(text.find("[kernel.relu]\nlanguage = \"cpp-cuda\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[kernel.relu_cpu]\nlanguage = \"cpp-cpu\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[general.cuda]\nminver = \"12.0\"\nmaxver = \"12.9\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("kernel-depends = [\n  { repo-id = \"org/act\", version = 1 },\n]\n"), std::string::npos) << text;
}

TEST(UpdateBuild, LegacyV4BecomesEdition6) { expect_upgrade(v4_text(), 4); }

TEST(UpdateBuild, LegacyV3BecomesEdition6) { expect_upgrade(kV3, 3); }

TEST(UpdateBuild, Edition6IsLeftAlone) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  std::string text = "# keep me\n" + kernel6("cpp-cpu") + "\n\n";
  write_file_atomic(file, text);
  UpdateBuildResult result = update_build_file(dir.path());
  EXPECT_FALSE(result.changed);
  EXPECT_EQ(result.from_edition, 6);
  EXPECT_EQ(result.text, text);
  EXPECT_EQ(read_file(file), text);
}

TEST(UpdateBuild, VersionsEditionSixCannotHoldLeaveTheFileUntouched) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  std::string text = with(kV5, "minver = \"2.8\"", "minver = \"2.8.1\"");
  write_file_atomic(file, text);
  try {
    update_build_file(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              file.string() +
                  ": [torch] minver = \"2.8.1\" cannot be written in edition 6, which takes versions as exactly "
                  "major.minor; change it by hand (e.g. \"2.8\") and run update-build again");
  }
  EXPECT_EQ(read_file(file), text);
  std::vector<fs::path> entries(fs::directory_iterator(dir.path()), fs::directory_iterator{});
  EXPECT_EQ(entries.size(), 1u);  // no temporary file left behind
}

TEST(UpdateBuild, InvalidFilesAreReportedAndLeftUntouched) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  std::string text = with(kV5, "depends = [\"torch\"]", "depends = [\"torhc\"]");
  write_file_atomic(file, text);
  try {
    update_build_file(dir.path());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file.string() + ":22:12: [kernel.relu] unknown dependency \"torhc\"", 0), 0u)
        << e.what();
  }
  EXPECT_EQ(read_file(file), text);
}
