// build.toml loading: every validation rule with a rejected and an accepted
// sample, positioned error texts, legacy editions, serialisation.
#include "libkb/config/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "libkb/util/error.h"
#include "libkb/util/fs.h"

using namespace kb;
using namespace kb::config;
namespace fs = std::filesystem;

namespace {

const char* const kGeneral = R"([general]
name = "relu"
version = 1
edition = 5
license = "apache-2.0"
backends = ["cuda", "cpu"]
)";

const char* const kTorch = R"(
[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h"]
)";

const char* const kCudaKernel = R"(
[kernel.relu]
backend = "cuda"
src = ["relu_cuda/relu.cu"]
depends = ["torch"]
)";

std::string base() { return std::string(kGeneral) + kTorch + kCudaKernel; }

BuildConfig parse(const std::string& text, const LoadOptions& options = {},
                  std::vector<std::string>* warnings = nullptr) {
  return parse_build_config(text, "build.toml", options, warnings);
}

// The message of the kb::Error that parsing `text` throws ("" when it parses).
std::string error_of(const std::string& text, const LoadOptions& options = {}) {
  try {
    parse(text, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string git_url_error(std::string_view url) {
  try {
    parse_git_url(url);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// `text` with the first occurrence of `from` replaced.
std::string with(std::string text, std::string_view from, std::string_view to) {
  size_t pos = text.find(from);
  if (pos == std::string::npos) throw std::logic_error("test text lacks " + std::string(from));
  return text.replace(pos, from.size(), to);
}

std::string kernel_with(std::string_view backend, std::string_view extra) {
  return std::string(kGeneral) + kTorch + "\n[kernel.k]\nbackend = \"" + std::string(backend) +
         "\"\nsrc = [\"k.cpp\"]\ndepends = []\n" + std::string(extra);
}

// A v4 file: no edition key.
std::string v4_text() { return with(base(), "edition = 5\n", ""); }

class TempDir {
 public:
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-config-test")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

}  // namespace

// ---------------------------------------------------------------- backends

TEST(ConfigBackend, NamesAndCanonicalOrder) {
  std::vector<std::string> names;
  for (Backend b : all_backends()) names.emplace_back(backend_name(b));
  EXPECT_EQ(names, (std::vector<std::string>{"cann", "cpu", "cuda", "metal", "neuron", "rocm",
                                             "tpu", "xpu"}));
  EXPECT_EQ(parse_backend("CUDA"), Backend::Cuda);
  EXPECT_EQ(parse_backend("Metal"), Backend::Metal);
  EXPECT_EQ(parse_backend("gpu"), std::nullopt);
  for (Backend b : all_backends()) EXPECT_EQ(parse_backend(backend_name(b)), b);
  EXPECT_TRUE(is_compiled_backend(Backend::Xpu));
  EXPECT_TRUE(is_compiled_backend(Backend::Cpu));
  EXPECT_FALSE(is_compiled_backend(Backend::Tpu));
  EXPECT_FALSE(is_compiled_backend(Backend::Neuron));
  EXPECT_FALSE(is_compiled_backend(Backend::Cann));
}

// ------------------------------------------------------------ kernel names

TEST(ConfigKernelName, AcceptsLowercaseDigitsAndDashes) {
  for (const char* name : {"my-kernel", "relu2d", "flash-attention", "my--kernel", "ab", "a1"})
    EXPECT_NO_THROW(validate_kernel_name(name)) << name;
}

TEST(ConfigKernelName, RejectsWithRulesAndExamples) {
  for (const char* name : {"Relu", "my_kernel", "1relu", "-relu", "relu-", "r", "", "relu.x"})
    EXPECT_THROW(validate_kernel_name(name), Error) << name;
  try {
    validate_kernel_name("My_Kernel");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("\"My_Kernel\""), std::string::npos) << m;
    EXPECT_NE(m.find("lowercase"), std::string::npos) << m;
    EXPECT_NE(m.find("my-kernel, relu2d, flash-attention"), std::string::npos) << m;
  }
}

TEST(ConfigKernelName, GeneralNameIsValidatedAtItsPosition) {
  std::string m = error_of(with(base(), "name = \"relu\"", "name = \"Relu_Op\""));
  EXPECT_EQ(m.rfind("build.toml:2:8: [general] invalid kernel name \"Relu_Op\"", 0), 0u) << m;
  EXPECT_EQ(parse(with(base(), "name = \"relu\"", "name = \"silu-and-mul\"")).module_name(),
            "silu_and_mul");
}

// ---------------------------------------------------------------- versions

TEST(ConfigVersion, VersionStringsAreParsedAndTrimmed) {
  auto c = parse(with(base(), "[torch]\n", "[torch]\nminver = \" 2.8 \"\nmaxver = \"2.12.0\"\n"));
  EXPECT_EQ(c.torch.minver, Version::parse("2.8"));
  EXPECT_EQ(c.torch.maxver->str(), "2.12");
}

TEST(ConfigVersion, FloatIsATypeError) {
  EXPECT_EQ(error_of(with(base(), "[torch]\n", "[torch]\nminver = 2.12\n")),
            "build.toml:9:10: [torch] \"minver\" must be a version string in quotes (e.g. "
            "\"2.12\"), found float");
}

TEST(ConfigVersion, BadVersionTextsAreRejected) {
  EXPECT_EQ(error_of(with(base(), "[torch]\n", "[torch]\nmaxver = \"2.x\"\n")),
            "build.toml:9:10: [torch] \"maxver\" is not a valid version: Version must consist "
            "of numbers: 2.x");
  EXPECT_EQ(error_of(with(base(), "[torch]\n", "[torch]\nmaxver = \"\"\n")),
            "build.toml:9:10: [torch] \"maxver\" is not a valid version: Empty version string");
  std::string m = error_of(kernel_with("cuda", "cuda-minver = \"12.x\"\n"));
  EXPECT_NE(m.find("[kernel.k] \"cuda-minver\" is not a valid version"), std::string::npos) << m;
}

TEST(ConfigVersion, GeneralCudaBounds) {
  auto c = parse(base() + "\n[general.cuda]\nminver = \"12.6\"\nmaxver = \"13.0\"\n");
  EXPECT_EQ(c.general.cuda_minver, Version::parse("12.6"));
  EXPECT_EQ(c.general.cuda_maxver, Version::parse("13"));
  std::string m = error_of(base() + "\n[general.cuda]\nminver = 12\n");
  EXPECT_NE(m.find("[general.cuda] \"minver\" must be a version string"), std::string::npos) << m;
}

TEST(ConfigVersion, GeneralVersionMustBeANonNegativeInteger) {
  EXPECT_EQ(error_of(with(base(), "version = 1", "version = \"1\"")),
            "build.toml:3:11: [general] \"version\" must be a non-negative integer, found string");
  EXPECT_EQ(error_of(with(base(), "version = 1", "version = -2")),
            "build.toml:3:11: [general] \"version\" must be a non-negative integer, found -2");
  EXPECT_EQ(parse(with(base(), "version = 1", "version = 0")).general.version, 0u);
}

// ---------------------------------------------------------------- git URLs

TEST(ConfigGitUrl, AcceptsAllowedSchemes) {
  for (const char* url :
       {"https://github.com/org/repo", "http://example.com/r.git", "git://example.com/r.git",
        "ssh://git@example.com:22/r.git", "git+ssh://git@example.com/r",
        "git+https://example.com/r", "git+http://example.com/r", "HTTPS://github.com/org/repo",
        "https://[::1]:8080/repo"}) {
    GitUrl parsed = parse_git_url(url);
    EXPECT_EQ(parsed.original, url);
    EXPECT_EQ(parsed.normalized, url);
  }
}

TEST(ConfigGitUrl, ScpFormIsNormalisedToSsh) {
  GitUrl u = parse_git_url("git@github.com:org/repo.git");
  EXPECT_EQ(u.original, "git@github.com:org/repo.git");
  EXPECT_EQ(u.normalized, "ssh://git@github.com/org/repo.git");
  EXPECT_EQ(parse_git_url("example.org:repo").normalized, "ssh://example.org/repo");
}

TEST(ConfigGitUrl, RejectsOtherSchemes) {
  EXPECT_EQ(git_url_error("ftp://example.com/repo"),
            "unsupported scheme `ftp` in git URL `ftp://example.com/repo`, expected one of: "
            "https, http, git, ssh, git+ssh, git+https, git+http");
  EXPECT_NE(git_url_error("file:///srv/repo").find("unsupported scheme `file`"), std::string::npos);
}

TEST(ConfigGitUrl, RejectsUnparsableUrls) {
  for (const char* url : {"github.com/org/repo", "host:/absolute/path", ":path", "host:", "",
                          "https://", "https:///path", "https://host:port/x", "git@host:org repo",
                          "1ttp://host/x", "https:host/x"})
    EXPECT_EQ(git_url_error(url), "invalid git URL `" + std::string(url) + "`") << url;
}

TEST(ConfigGitUrl, UpstreamAndSourceInBuildToml) {
  auto c = parse(with(base(), "backends =",
                      "upstream = \"git@github.com:org/relu.git\"\nsource = "
                      "\"https://github.com/org/relu-kernel\"\nbackends ="));
  ASSERT_TRUE(c.general.upstream && c.general.source);
  EXPECT_EQ(c.general.upstream->normalized, "ssh://git@github.com/org/relu.git");
  EXPECT_EQ(c.general.source->original, "https://github.com/org/relu-kernel");
  EXPECT_EQ(
      error_of(with(base(), "backends =", "upstream = \"ftp://x.org/r\"\nbackends =")),
      "build.toml:6:12: [general] \"upstream\": unsupported scheme `ftp` in git URL "
      "`ftp://x.org/r`, expected one of: https, http, git, ssh, git+ssh, git+https, git+http");
  EXPECT_EQ(error_of(with(base(), "backends =", "source = \"not a url\"\nbackends =")),
            "build.toml:6:10: [general] \"source\": invalid git URL `not a url`");
}

// ------------------------------------------------------------ unknown keys

TEST(ConfigUnknownKeys, KernelKeyTypoHasPositionAndSuggestion) {
  std::string text = std::string(kGeneral) + kTorch +
                     "\n[kernel.relu]\n  backend = \"cuda\"\n  src = [\"a.cu\"]\n  depends = []\n"
                     "  cuda-capabilites = [\"9.0\"]\n";
  EXPECT_EQ(error_of(text),
            "build.toml:15:3: [kernel.relu] unknown key \"cuda-capabilites\" (did you mean "
            "\"cuda-capabilities\"?)");
}

TEST(ConfigUnknownKeys, EveryTableDeniesUnknownKeys) {
  struct Case {
    std::string text;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"nmae = \"x\"\n" + base(),
       "build.toml:1:1: unknown key \"nmae\"; expected one of: general, "
       "kernel, torch, tvm-ffi, torch-noarch"},
      {"license = \"mit\"\n" + base(),
       "build.toml:1:1: unknown key \"license\" (\"license\" belongs in [general])"},
      {base() + "\n[torhc]\n", "build.toml:16:2: unknown table [torhc] (did you mean [torch]?)"},
      {with(base(), "backends =", "licence = \"x\"\nbackends ="),
       "build.toml:6:1: [general] unknown key \"licence\" (did you mean \"license\"?)"},
      {base() + "\n[general.cuda]\nminvr = \"12\"\n",
       "build.toml:17:1: [general.cuda] unknown key \"minvr\" (did you mean \"minver\"?)"},
      {base() + "\n[general.hub]\nrepo_id = \"a/b\"\n",
       "build.toml:17:1: [general.hub] unknown key \"repo_id\" (did you mean \"repo-id\"?)"},
      {base() + "\n[general.neuron]\npython-deps = []\n",
       "build.toml:17:1: [general.neuron] unknown key \"python-deps\""},
      {base() + "\n[general.tpu]\nkernel-depends = []\n",
       "build.toml:17:1: [general.tpu] unknown key \"kernel-depends\""},
      {base() + "\n[general.xpu]\nminver = \"1\"\n",
       "build.toml:17:1: [general.xpu] unknown key \"minver\""},
      {with(base(), "[torch]\n", "[torch]\ncxxflags = []\n"),
       "build.toml:9:1: [torch] unknown key \"cxxflags\" (did you mean \"cxx-flags\"?)"},
      {with(base(), "[torch]\n", "[torch]\nstable-abi = { cdua = \"2.11\" }\n"),
       "build.toml:9:16: [torch.stable-abi] unknown key \"cdua\""},
      {std::string(kGeneral) + "\n[torch-noarch]\ncuda-capabilities = [\"9.0\"]\n",
       "build.toml:9:1: [torch-noarch] unknown key \"cuda-capabilities\" (did you mean "
       "\"cuda_capabilities\"?)"},
      {std::string(kGeneral) + "\n[tvm-ffi]\nsrc = []\nsources = []\n",
       "build.toml:10:1: [tvm-ffi] unknown key \"sources\""},
      {with(base(), "license", "kernel-depends = [{ repo-id = \"a/b\", versoin = 1 }]\nlicense"),
       "build.toml:5:38: [general.kernel-depends] unknown key \"versoin\" (did you mean "
       "\"version\"?)"},
  };
  for (const auto& c : cases) {
    std::string m = error_of(c.text);
    EXPECT_EQ(m.substr(0, c.expected.size()), c.expected) << c.text;
  }
}

TEST(ConfigUnknownKeys, WithoutSuggestionListsTheAllowedKeys) {
  EXPECT_EQ(error_of(base() + "\n[general.hub]\nzzz = 1\n"),
            "build.toml:17:1: [general.hub] unknown key \"zzz\"; expected one of: repo-id, branch");
}

TEST(ConfigUnknownKeys, NoGeneralTableForBackendsWithoutOne) {
  std::string m = error_of(base() + "\n[general.rocm]\npython-depends = []\n");
  EXPECT_EQ(m,
            "build.toml:16:10: [general] unknown table [general.rocm] (there is no "
            "[general.rocm] table; per-backend tables exist for cuda, neuron, tpu and xpu)");
}

TEST(ConfigUnknownKeys, EarliestUnknownKeyIsReported) {
  // toml++ keeps keys sorted; the error must still name the first one in the file.
  std::string m = error_of(with(base(), "backends =", "zeta = 1\nalpha = 2\nbackends ="));
  EXPECT_EQ(m.rfind("build.toml:6:1: [general] unknown key \"zeta\"", 0), 0u) << m;
}

// ------------------------------------------------------------------- types

TEST(ConfigTypes, WrongTypesAreNamed) {
  EXPECT_EQ(error_of(with(base(), "name = \"relu\"", "name = 3")),
            "build.toml:2:8: [general] \"name\" must be a string, found integer");
  EXPECT_EQ(error_of(with(base(), "backends = [\"cuda\", \"cpu\"]", "backends = \"cuda\"")),
            "build.toml:6:12: [general] \"backends\" must be an array of strings, found string");
  EXPECT_EQ(error_of(with(base(), "src = [\"relu_cuda/relu.cu\"]", "src = [\"a.cu\", 7]")),
            "build.toml:13:16: [kernel.relu] \"src\" must contain only strings, found integer");
  EXPECT_EQ(error_of(with(base(), "[torch]\n", "[torch]\npyext = \"py\"\n")),
            "build.toml:9:9: [torch] \"pyext\" must be an array of strings, found string");
  EXPECT_EQ(error_of(with(base(), "license = \"apache-2.0\"", "license = true")),
            "build.toml:5:11: [general] \"license\" must be a string, found boolean");
  EXPECT_EQ(error_of(base() + "hub = 1\n"),
            "build.toml:15:1: [kernel.relu] unknown key \"hub\"; expected one of: backend, src, "
            "depends, include, cxx-flags, cuda-capabilities, cuda-flags, cuda-minver");
  EXPECT_EQ(error_of(with(base(), "backends =", "hub = \"x\"\nbackends =")),
            "build.toml:6:7: [general] \"hub\" must be a table, found string");
  EXPECT_EQ(error_of(with(base(), "[kernel.relu]\n", "[kernel]\nrelu = 1\n[kernel.x]\n")),
            "build.toml:12:8: [kernel] \"relu\" must be a table, found integer");
  EXPECT_EQ(error_of("general = 1\n[torch]\n"),
            "build.toml:1:11: \"general\" must be a table, found integer");
}

// ----------------------------------------------------------- required keys

TEST(ConfigRequired, MissingKeysPointAtTheTableHeader) {
  for (const char* key : {"name = \"relu\"\n", "version = 1\n", "license = \"apache-2.0\"\n",
                          "backends = [\"cuda\", \"cpu\"]\n"}) {
    std::string name = std::string(key).substr(0, std::string(key).find(' '));
    EXPECT_EQ(error_of(with(base(), key, "")),
              "build.toml:1:1: [general] missing required key \"" + name + "\"");
  }
  EXPECT_EQ(error_of(with(base(), "src = [\"relu_cuda/relu.cu\"]\n", "")),
            "build.toml:11:1: [kernel.relu] missing required key \"src\"");
  EXPECT_EQ(error_of(with(base(), "depends = [\"torch\"]\n", "")),
            "build.toml:11:1: [kernel.relu] missing required key \"depends\"");
  EXPECT_EQ(error_of(with(base(), "backend = \"cuda\"\n", "")),
            "build.toml:11:1: [kernel.relu] missing required key \"backend\"");
  EXPECT_EQ(error_of(std::string(kGeneral) + "\n[tvm-ffi]\ninclude = []\n"),
            "build.toml:8:1: [tvm-ffi] missing required key \"src\"");
  EXPECT_EQ(error_of("[torch]\nsrc = []\n"), "build.toml:1:1: missing required table [general]");
}

TEST(ConfigRequired, MisspelledRequiredKeyGetsASuggestion) {
  EXPECT_EQ(error_of(with(base(), "backend = \"cuda\"", "backnd = \"cuda\"")),
            "build.toml:12:1: [kernel.relu] unknown key \"backnd\" (did you mean \"backend\"?)");
}

TEST(ConfigRequired, OptionalKeysMayBeLeftOut) {
  auto c = parse(std::string(kGeneral) + "\n[torch]\n");
  EXPECT_TRUE(c.torch.src.empty());
  EXPECT_FALSE(c.torch.pyext.has_value());
  EXPECT_EQ(c.pyext(), (std::vector<std::string>{"py", "pyi"}));
  EXPECT_TRUE(c.kernels.empty());
  EXPECT_TRUE(parse(std::string(kGeneral) + "\n[torch]\n[kernel]\n").kernels.empty());
}

// ------------------------------------------------------------------ kernels

TEST(ConfigKernel, CompiledBackendsAreAccepted) {
  for (const char* b : {"cpu", "cuda", "metal", "rocm", "xpu"}) {
    auto c = parse(kernel_with(b, ""));
    ASSERT_EQ(c.kernels.size(), 1u);
    EXPECT_EQ(backend_name(c.kernels[0].backend), b);
    EXPECT_TRUE(c.has_kernel_for(*parse_backend(b)));
  }
}

TEST(ConfigKernel, NonCompiledAndUnknownBackendsAreRejected) {
  for (const char* b : {"cann", "neuron", "tpu"}) {
    std::string m = error_of(kernel_with(b, ""));
    EXPECT_EQ(
        m.rfind("build.toml:12:11: [kernel.k] backend \"" + std::string(b) +
                    "\" cannot be used for a [kernel.*] component; components are compiled for one "
                    "of: cpu, cuda, metal, rocm, xpu",
                0),
        0u)
        << m;
  }
  EXPECT_EQ(error_of(kernel_with("cdua", "")),
            "build.toml:12:11: [kernel.k] unknown kernel backend \"cdua\" (did you mean "
            "\"cuda\"?); expected one of: cpu, cuda, metal, rocm, xpu");
  std::string upper = error_of(kernel_with("CUDA", ""));
  EXPECT_NE(upper.find("unknown kernel backend \"CUDA\" (did you mean \"cuda\"?)"),
            std::string::npos)
      << upper;
  EXPECT_EQ(error_of(with(kernel_with("cpu", ""), "backend = \"cpu\"", "backend = 1")),
            "build.toml:12:11: [kernel.k] \"backend\" must be a string, one of: cpu, cuda, metal, "
            "rocm, xpu; found integer");
}

TEST(ConfigKernel, DependsNames) {
  for (const auto& dep : known_cpp_dependencies(5)) {
    auto c = parse(with(base(), "depends = [\"torch\"]", "depends = [\"" + dep + "\"]"));
    EXPECT_EQ(c.kernels[0].depends, std::vector<std::string>{dep});
  }
  EXPECT_EQ(known_cpp_dependencies(5).size(), 11u);
  EXPECT_EQ(known_cpp_dependencies(6).size(), 12u);
  std::string m =
      error_of(with(base(), "depends = [\"torch\"]", "depends = [\"torch\", \"cutlas_3_6\"]"));
  EXPECT_EQ(m.rfind("build.toml:14:21: [kernel.relu] unknown dependency \"cutlas_3_6\" in "
                    "\"depends\" (did you mean \"cutlass_3_6\"?); expected one of: cutlass_2_10,",
                    0),
            0u)
      << m;
  EXPECT_NE(error_of(with(base(), "depends = [\"torch\"]", "depends = [\"cutlass_3_7\"]")), "");
}

TEST(ConfigKernel, BackendSpecificKeysOnTheirBackend) {
  auto cuda =
      parse(kernel_with("cuda",
                        "cuda-capabilities = [\"8.0\", \"9.0a\"]\ncuda-flags = [\"-O3\"]\n"
                        "cuda-minver = \"12.8\"\ninclude = [\".\"]\ncxx-flags = [\"-g\"]\n"));
  const KernelComponent& k = cuda.kernels[0];
  EXPECT_EQ(k.cuda_capabilities, (std::vector<std::string>{"8.0", "9.0a"}));
  EXPECT_EQ(k.cuda_flags, std::vector<std::string>{"-O3"});
  EXPECT_EQ(k.cuda_minver, Version::parse("12.8"));
  EXPECT_EQ(k.include, std::vector<std::string>{"."});
  EXPECT_EQ(k.cxx_flags, std::vector<std::string>{"-g"});
  auto rocm = parse(kernel_with("rocm", "rocm-archs = [\"gfx942\"]\nhip-flags = [\"-x\"]\n"));
  EXPECT_EQ(rocm.kernels[0].rocm_archs, std::vector<std::string>{"gfx942"});
  EXPECT_EQ(rocm.kernels[0].hip_flags, std::vector<std::string>{"-x"});
  auto xpu = parse(kernel_with("xpu", "sycl-flags = [\"-fsycl\"]\n"));
  EXPECT_EQ(xpu.kernels[0].sycl_flags, std::vector<std::string>{"-fsycl"});
}

TEST(ConfigKernel, BackendSpecificKeysOnAnotherBackendAreRejected) {
  EXPECT_EQ(error_of(kernel_with("cuda", "rocm-archs = [\"gfx942\"]\n")),
            "build.toml:15:1: [kernel.k] unknown key \"rocm-archs\" (\"rocm-archs\" is only valid "
            "in rocm kernels; this kernel has backend = \"cuda\")");
  EXPECT_NE(error_of(kernel_with("rocm", "cuda-capabilities = [\"9.0\"]\n"))
                .find("\"cuda-capabilities\" is only valid in cuda kernels; this kernel has "
                      "backend = \"rocm\""),
            std::string::npos);
  EXPECT_NE(error_of(kernel_with("cpu", "sycl-flags = []\n")).find("only valid in xpu kernels"),
            std::string::npos);
  EXPECT_NE(
      error_of(kernel_with("metal", "cuda-minver = \"12\"\n")).find("only valid in cuda kernels"),
      std::string::npos);
  EXPECT_NE(error_of(kernel_with("xpu", "hip-flags = []\n")).find("only valid in rocm kernels"),
            std::string::npos);
}

TEST(ConfigKernel, KernelsAreSortedByName) {
  std::string text = std::string(kGeneral) + kTorch +
                     "\n[kernel.zeta]\nbackend = \"cpu\"\nsrc = []\ndepends = []\n"
                     "\n[kernel.alpha]\nbackend = \"cuda\"\nsrc = []\ndepends = []\n";
  auto c = parse(text);
  ASSERT_EQ(c.kernels.size(), 2u);
  EXPECT_EQ(c.kernels[0].name, "alpha");
  EXPECT_EQ(c.kernels[1].name, "zeta");
}

// ---------------------------------------------------------- kernel-depends

TEST(ConfigKernelDepends, VersionOrRevision) {
  auto c = parse(with(base(), "license",
                      "kernel-depends = [\n  { repo-id = \"org/a\", version = 2 },\n"
                      "  { repo-id = \"org/b\", revision = \"main\" },\n]\nlicense") +
                 "\n[general.cuda]\nkernel-depends = [{ repo-id = \"org/c\", version = 0 }]\n"
                 "[general.xpu]\nkernel-depends = [{ repo-id = \"org/x\", revision = \"abc\" }]\n"
                 "[general.neuron]\nkernel-depends = [{ repo-id = \"org/n\", version = 1 }]\n");
  ASSERT_EQ(c.general.kernel_depends.size(), 2u);
  EXPECT_EQ(c.general.kernel_depends[0], (KernelDependency{"org/a", 2, std::nullopt}));
  EXPECT_EQ(c.general.kernel_depends[1], (KernelDependency{"org/b", std::nullopt, "main"}));
  auto cuda = c.kernel_depends_for(Backend::Cuda);
  ASSERT_EQ(cuda.size(), 3u);
  EXPECT_EQ(cuda[2].repo_id, "org/c");
  EXPECT_EQ(c.kernel_depends_for(Backend::Xpu).back().repo_id, "org/x");
  EXPECT_EQ(c.kernel_depends_for(Backend::Neuron).back().repo_id, "org/n");
  EXPECT_EQ(c.kernel_depends_for(Backend::Cpu).size(), 2u);
}

TEST(ConfigKernelDepends, BothOrNeitherAreRejected) {
  EXPECT_EQ(
      error_of(with(base(), "license",
                    "kernel-depends = [{ repo-id = \"o/a\", version = 1, revision = \"x\" }]\n"
                    "license")),
      "build.toml:5:19: [general.kernel-depends] \"version\" and \"revision\" are mutually "
      "exclusive");
  EXPECT_EQ(error_of(with(base(), "license", "kernel-depends = [{ repo-id = \"o/a\" }]\nlicense")),
            "build.toml:5:19: [general.kernel-depends] either \"version\" or \"revision\" must be "
            "specified");
  EXPECT_EQ(error_of(with(base(), "license", "kernel-depends = [{ version = 1 }]\nlicense")),
            "build.toml:5:19: [general.kernel-depends] missing required key \"repo-id\"");
  EXPECT_EQ(error_of(with(base(), "license", "kernel-depends = [\"org/a\"]\nlicense")),
            "build.toml:5:19: [general] \"kernel-depends\" entries must be tables like { repo-id = "
            "\"org/name\", version = 1 }, found string");
  EXPECT_NE(
      error_of(base() +
               "\n[general.cuda]\nkernel-depends = [{ repo-id = \"o/a\", version = -1 }]\n")
          .find(
              "[general.cuda.kernel-depends] \"version\" must be a non-negative integer, found -1"),
      std::string::npos);
}

// -------------------------------------------------------------- stable-abi

TEST(ConfigStableAbi, StringAppliesToEveryBackend) {
  auto c = parse(with(base(), "[torch]\n", "[torch]\nstable-abi = \"2.11\"\n"));
  EXPECT_EQ(c.torch.stable_abi_all, Version::parse("2.11"));
  EXPECT_EQ(c.stable_abi_for(Backend::Cuda), Version::parse("2.11"));
  EXPECT_EQ(c.stable_abi_for(Backend::Xpu), Version::parse("2.11"));
}

TEST(ConfigStableAbi, TableAppliesToListedBackends) {
  auto c = parse(base() + "\n[torch.stable-abi]\ncuda = \"2.11\"\ntpu = \"2.12\"\n");
  EXPECT_FALSE(c.torch.stable_abi_all);
  EXPECT_EQ(c.stable_abi_for(Backend::Cuda), Version::parse("2.11"));
  EXPECT_EQ(c.stable_abi_for(Backend::Tpu), Version::parse("2.12"));
  EXPECT_EQ(c.stable_abi_for(Backend::Cpu), std::nullopt);
}

TEST(ConfigStableAbi, BadForms) {
  EXPECT_EQ(error_of(base() + "\n[torch.stable-abi]\ncdua = \"2.11\"\n"),
            "build.toml:17:1: [torch.stable-abi] unknown key \"cdua\" (did you mean \"cuda\"? "
            "stable-abi keys are backend names: cann, cpu, cuda, metal, neuron, rocm, tpu, xpu)");
  EXPECT_EQ(error_of(base() + "\n[torch.stable-abi]\ncuda = 2.11\n"),
            "build.toml:17:8: [torch.stable-abi] \"cuda\" must be a version string in quotes (e.g. "
            "\"2.12\"), found float");
  EXPECT_EQ(error_of(with(base(), "[torch]\n", "[torch]\nstable-abi = 2\n")),
            "build.toml:9:14: [torch] \"stable-abi\" must be a version string (e.g. \"2.11\") or a "
            "table of backend = version, found integer");
}

// --------------------------------------------------------------- framework

TEST(ConfigFramework, EachFrameworkTable) {
  auto noarch = parse(std::string(kGeneral) +
                      "\n[torch-noarch]\ncuda_capabilities = [\"9.0\"]\nrocm_archs = [\"gfx942\"]\n"
                      "pyext = [\"py\", \"json\"]\n");
  EXPECT_EQ(noarch.framework, Framework::TorchNoarch);
  EXPECT_EQ(noarch.torch_noarch.cuda_capabilities, std::vector<std::string>{"9.0"});
  EXPECT_EQ(noarch.torch_noarch.rocm_archs, std::vector<std::string>{"gfx942"});
  EXPECT_EQ(noarch.pyext(), (std::vector<std::string>{"py", "json"}));
  EXPECT_EQ(noarch.extension_dir(), "torch-ext");
  EXPECT_EQ(parse(std::string(kGeneral) + "\n[torch-noarch]\n").framework, Framework::TorchNoarch);

  auto tvm = parse(std::string(kGeneral) +
                   "\n[tvm-ffi]\nsrc = [\"tvm-ffi-ext/b.cpp\"]\n"
                   "include = [\"inc\"]\ncxx-flags = [\"-O2\"]\n");
  EXPECT_EQ(tvm.framework, Framework::TvmFfi);
  EXPECT_EQ(tvm.tvm_ffi.src, std::vector<std::string>{"tvm-ffi-ext/b.cpp"});
  EXPECT_EQ(tvm.tvm_ffi.cxx_flags, std::vector<std::string>{"-O2"});
  EXPECT_EQ(tvm.extension_dir(), "tvm-ffi-ext");
  EXPECT_EQ(tvm.stable_abi_for(Backend::Cuda), std::nullopt);

  auto torch = parse(base());
  EXPECT_EQ(torch.framework, Framework::Torch);
  EXPECT_EQ(torch.torch.src.size(), 2u);
}

TEST(ConfigFramework, NoneIsAnError) {
  EXPECT_EQ(error_of(std::string(kGeneral) + kCudaKernel),
            "build.toml:1:1: missing framework table: add one of [torch], [torch-noarch] or "
            "[tvm-ffi]");
}

TEST(ConfigFramework, TwoAreAnErrorNamingBoth) {
  EXPECT_EQ(error_of(base() + "\n[tvm-ffi]\nsrc = []\n"),
            "build.toml:16:1: [tvm-ffi] only one framework table is allowed, found [torch] and "
            "[tvm-ffi]");
  EXPECT_EQ(error_of(std::string(kGeneral) + "\n[torch-noarch]\n" + kTorch),
            "build.toml:10:1: [torch] only one framework table is allowed, found [torch-noarch] "
            "and [torch]");
}

// ----------------------------------------------------------------- editions

TEST(ConfigEdition, EditionsFiveAndSixAreAccepted) {
  EXPECT_EQ(parse(base()).edition, 5);
  EXPECT_EQ(error_of(with(base(), "edition = 5", "edition = 4")),
            "build.toml:4:11: [general] unsupported build edition 4; the editions are 5 and 6 (older "
            "formats have no `edition` key; `kb update-build` converts them)");
  EXPECT_EQ(error_of(with(base(), "edition = 5", "edition = 7")),
            "build.toml:4:11: [general] unsupported build edition 7; this kb reads editions 5 and 6, a "
            "newer kb is needed");
  EXPECT_EQ(error_of(with(base(), "edition = 5", "edition = \"5\"")),
            "build.toml:4:11: [general] \"edition\" must be an integer, found string");
  EXPECT_EQ(error_of(with(base(), "edition = 5", "edition = 5.0")),
            "build.toml:4:11: [general] \"edition\" must be an integer, found float");
}

TEST(ConfigEdition, V4IsUpgradedWithAWarning) {
  std::vector<std::string> warnings;
  std::string text = with(v4_text(), "[torch]\n", "[torch]\nstable-abi = \"2.11\"\n");
  auto c = parse(text, {}, &warnings);
  EXPECT_EQ(c.edition, 4);
  EXPECT_EQ(c.general.name, "relu");
  EXPECT_EQ(c.torch.stable_abi_all, Version::parse("2.11"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "build.toml uses the legacy v4 format; upgrading to edition 6 in memory. Run `kb "
            "update-build` to persist the upgrade.");
  warnings.clear();
  parse(base(), {}, &warnings);
  EXPECT_TRUE(warnings.empty());
}

TEST(ConfigEdition, V4LacksEditionFiveFeatures) {
  EXPECT_EQ(error_of(with(v4_text(), "license", "kernel-depends = []\nlicense")),
            "build.toml:4:1: [general] unknown key \"kernel-depends\" (\"kernel-depends\" needs "
            "edition 5: add `edition = 5` to [general])");
  EXPECT_NE(error_of(v4_text() + "\n[general.tpu]\npython-depends = []\n")
                .find("unknown table [general.tpu] (\"tpu\" needs edition 5"),
            std::string::npos);
  EXPECT_NE(error_of(v4_text() + "\n[torch.stable-abi]\ncuda = \"2.11\"\n")
                .find("\"stable-abi\" must be a version string (e.g. \"2.11\"), found table "
                      "(per-backend stable-abi tables need edition 5"),
            std::string::npos);
  EXPECT_NE(error_of(v4_text() + "\n[general.cuda]\nkernel-depends = []\n")
                .find("[general.cuda] unknown key \"kernel-depends\" (\"kernel-depends\" needs "
                      "edition 5"),
            std::string::npos);
}

const char* const kV3 = R"([general]
name = "relu"
backends = ["cuda"]

[kernel.relu]
backend = "cuda"
src = ["relu_cuda/relu.cu"]
depends = ["torch"]
)";

TEST(ConfigEdition, V3IsRejectedByDefault) {
  EXPECT_EQ(error_of(kV3),
            "build.toml uses an unsupported legacy format; migrate it with `kb "
            "update-build`");
}

TEST(ConfigEdition, V3IsMigratedWhenAllowed) {
  LoadOptions allow;
  allow.allow_v3 = true;
  std::string text = with(kV3, "backends", "license = \"mit\"\nbackends");
  auto c = parse(text, allow);
  EXPECT_EQ(c.edition, 3);
  EXPECT_EQ(c.general.version, 1u);
  EXPECT_EQ(c.general.license, "mit");
  EXPECT_EQ(c.framework, Framework::TorchNoarch);
  EXPECT_EQ(c.torch_noarch, TorchNoarchTable{});
  ASSERT_EQ(c.kernels.size(), 1u);

  auto with_torch = parse(with(text, "backends", "version = 3\nbackends") +
                              "[torch]\nsrc = [\"b.cpp\"]\nminver = \"2.5\"\n",
                          allow);
  EXPECT_EQ(with_torch.framework, Framework::Torch);
  EXPECT_EQ(with_torch.general.version, 3u);
  EXPECT_EQ(with_torch.torch.minver, Version::parse("2.5"));

  auto tvm = parse(text + "[tvm-ffi]\nsrc = [\"b.cpp\"]\n", allow);
  EXPECT_EQ(tvm.framework, Framework::TvmFfi);
}

TEST(ConfigEdition, V3WithoutLicenseCannotBeMigrated) {
  LoadOptions allow;
  allow.allow_v3 = true;
  EXPECT_EQ(error_of(kV3, allow),
            "build.toml:1:1: [general] cannot migrate to edition 6: the \"license\" key is "
            "required in [general] (e.g. license = \"apache-2.0\")");
}

TEST(ConfigEdition, WhenNothingMatchesTheV4ErrorIsReported) {
  // Neither v4 (missing license) nor v3 (torch-noarch) accepts this file.
  std::string text = "[general]\nname = \"relu\"\nversion = 1\nbackends = []\n[torch-noarch]\n";
  EXPECT_EQ(error_of(text), "build.toml:1:1: [general] missing required key \"license\"");
}

TEST(ConfigEdition, RetiredV1AndV2FormatsExplainTheMigration) {
  std::string v2 = "[general]\nname = \"relu\"\nuniversal = true\n\n[torch]\n";
  std::string m = error_of(v2);
  EXPECT_EQ(m.rfind("build.toml:3:1: [general] this build.toml uses the retired v1/v2 format "
                    "(`universal` in [general]), which kb no longer reads.",
                    0),
            0u)
      << m;
  for (const char* part : {"backends = [...]", "[torch-noarch]", "[general.cuda]", "`backend`",
                           "`edition = 5`", "cuda-hipify"})
    EXPECT_NE(m.find(part), std::string::npos) << part;

  std::string v1 =
      "[general]\nname = \"relu\"\n\n[torch]\nsrc = []\n\n[kernel.relu]\n"
      "language = \"cuda-hipify\"\nsrc = []\n";
  EXPECT_EQ(error_of(v1).rfind("build.toml:8:1: [kernel.relu] this build.toml uses the retired "
                               "v1/v2 format (`language` in [kernel.relu])",
                               0),
            0u);
  EXPECT_EQ(error_of("[general]\nname = \"relu\"\n\n[torch]\n")
                .rfind("build.toml:1:1: [general] this build.toml uses the retired v1/v2 format "
                       "(no `backends` in [general])",
                       0),
            0u);
  EXPECT_NE(error_of("[general]\nname = \"relu\"\ncuda-minver = \"11.8\"\nbackends = []\n[torch]\n")
                .find("(`cuda-minver` in [general])"),
            std::string::npos);
}

// ------------------------------------------------------------- TOML syntax

TEST(ConfigSyntax, SyntaxErrorsCarryPositions) {
  std::string m = error_of("[general]\nname = \"relu\"\nversion = = 1\n");
  EXPECT_EQ(m.rfind("build.toml:3:", 0), 0u) << m;
  EXPECT_NE(m.find("invalid TOML: "), std::string::npos) << m;
  std::string dup = error_of("[general]\nname = \"a\"\nname = \"b\"\n");
  EXPECT_EQ(dup.rfind("build.toml:3:", 0), 0u) << dup;
  EXPECT_NE(dup.find("invalid TOML: "), std::string::npos) << dup;
}

// --------------------------------------------------------- python-depends

TEST(ConfigPythonDepends, NamesAreNotCheckedWhenParsing) {
  auto c = parse(with(base(), "license", "python-depends = [\"numpy\"]\nlicense") +
                 "\n[general.tpu]\npython-depends = [\"jax\"]\n");
  EXPECT_EQ(c.general.python_depends, std::vector<std::string>{"numpy"});
  EXPECT_EQ(c.general.backend_python_depends.at(Backend::Tpu), std::vector<std::string>{"jax"});
}

TEST(ConfigPythonDepends, UnknownGeneralName) {
  auto c = parse(with(base(), "license", "python-depends = [\"einops\", \"numpy\"]\nlicense"));
  try {
    c.python_depends_for(Backend::Cpu);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Unknown dependency: `\"numpy\"`");
  }
}

TEST(ConfigPythonDepends, UnknownBackendName) {
  auto c = parse(base() + "\n[general.cuda]\npython-depends = [\"einops\"]\n");
  try {
    c.python_depends_for(Backend::Cuda);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "Unknown dependency `\"einops\"` for backend `\"cuda\"`");
  }
  // Other backends do not consult the cuda list.
  EXPECT_TRUE(c.python_depends_for(Backend::Cpu).empty());
}

TEST(ConfigPythonDepends, TpuHasNoTable) {
  auto c = parse(base() + "\n[general.tpu]\npython-depends = [\"jax\"]\n");
  try {
    c.python_depends_for(Backend::Tpu);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "No dependencies are defined for backend: \"tpu\"");
  }
  auto empty = parse(base() + "\n[general.tpu]\npython-depends = []\n");
  EXPECT_TRUE(empty.python_depends_for(Backend::Tpu).empty());
}

TEST(ConfigPythonDepends, NeuronListIsIgnored) {
  auto c = parse(base() + "\n[general.neuron]\npython-depends = [\"anything\"]\n");
  EXPECT_TRUE(c.python_depends_for(Backend::Neuron).empty());
}

TEST(ConfigPythonDepends, ResolvedNamesAndPipPackages) {
  auto c = parse(with(base(), "license", "python-depends = [\"einops\", \"tvm-ffi\"]\nlicense") +
                 "\n[general.cuda]\npython-depends = [\"nvidia-cutlass-dsl\"]\n"
                 "[general.xpu]\npython-depends = [\"onednn\"]\n");
  EXPECT_EQ(c.python_depends_for(Backend::Cuda),
            (std::vector<std::string>{"einops", "tvm-ffi", "nvidia-cutlass-dsl"}));
  EXPECT_EQ(c.pip_packages_for(std::nullopt),
            (std::vector<std::string>{"einops", "apache-tvm-ffi"}));
  EXPECT_EQ(c.pip_packages_for(Backend::Cuda),
            (std::vector<std::string>{"einops", "apache-tvm-ffi", "nvidia-cutlass-dsl"}));
  EXPECT_EQ(c.pip_packages_for(Backend::Xpu),
            (std::vector<std::string>{"einops", "apache-tvm-ffi", "onednn-devel"}));
  EXPECT_EQ(c.pip_packages_for(Backend::Rocm),
            (std::vector<std::string>{"einops", "apache-tvm-ffi"}));
}

TEST(ConfigPythonDepends, CuratedTable) {
  auto tvm = find_python_dependency("tvm-ffi", std::nullopt);
  ASSERT_NE(tvm, nullptr);
  EXPECT_EQ(*tvm, (std::vector<PythonPackage>{{"apache-tvm-ffi", "tvm_ffi"}}));
  EXPECT_EQ(*find_python_dependency("helion", std::nullopt),
            (std::vector<PythonPackage>{{"helion", "helion"}}));
  EXPECT_EQ(*find_python_dependency("nvidia-cutlass-dsl", Backend::Cuda),
            (std::vector<PythonPackage>{{"nvidia-cutlass-dsl", "cutlass"}}));
  EXPECT_EQ(*find_python_dependency("nki", Backend::Neuron),
            (std::vector<PythonPackage>{{"nki", "nki"}}));
  EXPECT_EQ(*find_python_dependency("onednn", Backend::Xpu),
            (std::vector<PythonPackage>{{"onednn-devel", std::nullopt}}));
  EXPECT_EQ(find_python_dependency("nvidia-cutlass-dsl", std::nullopt), nullptr);
  EXPECT_EQ(find_python_dependency("einops", Backend::Cuda), nullptr);
  EXPECT_EQ(find_python_dependency("jax", Backend::Tpu), nullptr);
  EXPECT_EQ(find_python_dependency("torch", std::nullopt), nullptr);
}

// ----------------------------------------------------------- serialisation

const char* const kFull = R"(# a comment that update-build drops
[general]
name = "flash-attn"
version = 2
edition = 5
license = "bsd-3-clause"
upstream = "git@github.com:org/flash.git"
source = "https://github.com/org/flash-kernel"
backends = ["cuda", "rocm", "xpu", "metal", "cpu", "tpu"]
python-depends = ["einops"]
kernel-depends = [{ repo-id = "org/activation", version = 1 }, { repo-id = "org/x", revision = "v1.2" }]

[general.cuda]
minver = "12.6"
maxver = "13.0"
python-depends = ["nvidia-cutlass-dsl"]
kernel-depends = [{ repo-id = "org/cuda-only", version = 3 }]

[general.hub]
repo-id = "org/flash-attn"
branch = "main"

[general.neuron]
python-depends = ["nki"]
kernel-depends = []

[general.tpu]
python-depends = []

[general.xpu]
python-depends = ["onednn"]

[torch]
src = ["torch-ext/torch_binding.cpp", "torch-ext/torch_binding.h", "torch-ext/a/very/long/path/to/make/the/array/wrap.cpp"]
include = ["."]
pyext = ["py", "json"]
minver = "2.8"
maxver = "2.12"
cxx-flags = ["-DX=\"quoted\\path\""]
stable-abi = { cuda = "2.11", xpu = "2.12" }

[kernel."weird name.x"]
backend = "cpu"
src = ["cpu/a.cpp"]
depends = []

[kernel.fwd]
backend = "cuda"
src = ["fwd.cu"]
depends = ["torch", "cutlass_3_6"]
include = ["csrc"]
cxx-flags = ["-O3"]
cuda-capabilities = ["8.0", "9.0a", "10.0f", "8.0+PTX"]
cuda-flags = ["--use_fast_math"]
cuda-minver = "12.8"

[kernel.fwd_rocm]
backend = "rocm"
src = ["fwd.cu"]
depends = ["torch"]
rocm-archs = ["gfx942"]
hip-flags = ["-O2"]

[kernel.fwd_xpu]
backend = "xpu"
src = ["fwd_xpu.cpp"]
depends = ["sycl_tla"]
sycl-flags = ["-fno-sycl-rdc"]

[kernel.fwd_metal]
backend = "metal"
src = ["fwd.mm", "fwd.metal"]
depends = ["metal-cpp"]
)";

TEST(ConfigSerialize, RoundTripIsEqual) {
  BuildConfig original = parse(kFull);
  std::string text = to_toml(original);
  BuildConfig reread = parse(text);
  original.edition = 6;  // to_toml writes the current edition
  EXPECT_EQ(reread, original) << text;
  EXPECT_EQ(to_toml(reread), text);
  // Spot checks that the fixture really exercised the fields.
  EXPECT_EQ(reread.general.upstream->normalized, "ssh://git@github.com/org/flash.git");
  EXPECT_EQ(reread.torch.stable_abi_per_backend.size(), 2u);
  EXPECT_EQ(reread.torch.cxx_flags, std::vector<std::string>{"-DX=\"quoted\\path\""});
  EXPECT_EQ(reread.kernels.size(), 5u);
  EXPECT_EQ(reread.general.backend_kernel_depends.at(Backend::Cuda)[0].version, 3u);
  EXPECT_TRUE(reread.general.backend_kernel_depends.at(Backend::Neuron).empty());
  EXPECT_EQ(reread.general.hub_repo_id, "org/flash-attn");
  EXPECT_EQ(reread.general.hub_branch, "main");
  EXPECT_EQ(reread.general.backend_python_depends.at(Backend::Xpu),
            std::vector<std::string>{"onednn"});
  EXPECT_EQ(reread.torch.maxver, Version::parse("2.12"));
  EXPECT_EQ(reread.edition, 6);
  EXPECT_EQ(reread.kernels[0].language(), KernelLanguage::CppCuda);
}

TEST(ConfigSerialize, LayoutStartsWithGeneralAndSortsKernels) {
  std::string text = to_toml(parse(kFull));
  EXPECT_EQ(text.rfind("[general]\nname = \"flash-attn\"\nversion = 2\nedition = 6\n", 0), 0u)
      << text;
  size_t torch = text.find("\n[torch]\n");
  size_t fwd = text.find("\n[kernel.fwd]\n");
  size_t fwd_metal = text.find("\n[kernel.fwd_metal]\n");
  size_t weird = text.find("\n[kernel.\"weird name.x\"]\n");
  ASSERT_NE(torch, std::string::npos);
  ASSERT_NE(weird, std::string::npos);
  EXPECT_LT(torch, fwd);
  EXPECT_LT(fwd, fwd_metal);
  EXPECT_LT(fwd_metal, weird);
  EXPECT_EQ(text.find("# a comment"), std::string::npos);
  EXPECT_NE(text.find("stable-abi = { cuda = \"2.11\", xpu = \"2.12\" }"), std::string::npos);
}

TEST(ConfigSerialize, AbsentOptionalKeysAreOmitted) {
  std::string text = to_toml(parse(base()));
  EXPECT_EQ(
      text,
      "[general]\nname = \"relu\"\nversion = 1\nedition = 6\nlicense = \"apache-2.0\"\n"
      "backends = [\"cuda\", \"cpu\"]\n\n[torch]\n"
      "src = [\"torch-ext/torch_binding.cpp\", \"torch-ext/torch_binding.h\"]\n\n"
      "[kernel.relu]\nlanguage = \"cpp-cuda\"\nsrc = [\"relu_cuda/relu.cu\"]\ndepends = [\"torch\"]\n");
}

TEST(ConfigSerialize, MigratedConfigsSerialiseAsEditionSix) {
  LoadOptions allow;
  allow.allow_v3 = true;
  BuildConfig v3 = parse(with(kV3, "backends", "license = \"mit\"\nbackends"), allow);
  std::string text = to_toml(v3);
  EXPECT_NE(text.find("\n[torch-noarch]\n"), std::string::npos) << text;
  BuildConfig reread = parse(text);
  EXPECT_EQ(reread.edition, 6);
  reread.edition = v3.edition;
  EXPECT_EQ(reread, v3);
}

// ------------------------------------------------------------ files on disk

TEST(ConfigFiles, LoadReportsThePathInErrors) {
  TempDir dir;
  try {
    load_build_config(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "Cannot open " + (dir.path() / "build.toml").string() +
                                         " for reading: No such file or directory");
  }
  write_file_atomic(dir.path() / "build.toml", with(base(), "version = 1", "version = \"1\""));
  try {
    load_build_config(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir.path() / "build.toml").string() +
                                         ":3:11: [general] \"version\" must be a non-negative "
                                         "integer, found string");
  }
}

TEST(ConfigFiles, LoadWarnsAboutV4) {
  TempDir dir;
  write_file_atomic(dir.path() / "build.toml", v4_text());
  std::vector<std::string> warnings;
  auto c = load_build_config(dir.path(), {}, &warnings);
  EXPECT_EQ(c.edition, 4);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(
      warnings[0].rfind((dir.path() / "build.toml").string() + " uses the legacy v4 format", 0),
      0u);
}

TEST(ConfigFiles, UpdateBuildRewritesV4) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  std::string v4 = with(v4_text(), "[torch]\n", "[torch]\nstable-abi = \"2.11\"\n") +
                   "\n[general.cuda]\nminver = \"12.6\"\n";
  write_file_atomic(file, v4);
  BuildConfig before = parse(v4);
  EXPECT_TRUE(update_build_file(dir.path()).changed);
  std::string written = read_file(file);
  EXPECT_NE(written, v4);
  EXPECT_NE(written.find("edition = 6"), std::string::npos);
  std::vector<std::string> warnings;
  BuildConfig after = load_build_config(dir.path(), {}, &warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(after.edition, 6);
  after.edition = before.edition;
  EXPECT_EQ(after, before);
  // A second run finds edition 6 and leaves the file alone.
  EXPECT_FALSE(update_build_file(dir.path()).changed);
  EXPECT_EQ(read_file(file), written);
}

TEST(ConfigFiles, UpdateBuildLeavesV6Untouched) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  std::string v6 = "# keep me\n" + with(with(base(), "edition = 5", "edition = 6"), "backend = \"cuda\"",
                                        "language = \"cpp-cuda\"") +
                   "\n\n";
  write_file_atomic(file, v6);
  auto mtime = fs::last_write_time(file);
  EXPECT_FALSE(update_build_file(dir.path()).changed);
  EXPECT_EQ(read_file(file), v6);
  EXPECT_EQ(fs::last_write_time(file), mtime);
}

TEST(ConfigFiles, UpdateBuildMigratesV3AndKeepsBadFilesIntact) {
  TempDir dir;
  fs::path file = dir.path() / "build.toml";
  write_file_atomic(file, with(kV3, "backends", "license = \"mit\"\nbackends"));
  EXPECT_TRUE(update_build_file(dir.path()).changed);
  BuildConfig migrated = load_build_config(dir.path());
  EXPECT_EQ(migrated.framework, Framework::TorchNoarch);
  EXPECT_EQ(migrated.general.version, 1u);

  write_file_atomic(file, kV3);
  EXPECT_THROW(update_build_file(dir.path()), Error);
  EXPECT_EQ(read_file(file), kV3);
  std::vector<fs::path> entries(fs::directory_iterator(dir.path()), fs::directory_iterator{});
  EXPECT_EQ(entries.size(), 1u);  // no temporary file left behind
}
