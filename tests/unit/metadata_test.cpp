#include <gtest/gtest.h>

#include "tests/unit/support.h"

#include "libkb/metadata/checks.h"
#include "libkb/metadata/digest.h"
#include "libkb/metadata/discover.h"
#include "libkb/metadata/finalize.h"
#include "libkb/metadata/metadata.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

using namespace kb;
using namespace kb::metadata;
using nlohmann::json;

namespace {

class TempDir {
 public:
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-metadata-test")) {}
  const fs::path& path() const { return guard_.path(); }

 private:
  TempDirGuard guard_;
};

const std::string kCommitA = "0123456789abcdef0123456789abcdef01234567";
const std::string kCommitB = "89abcdef0123456789abcdef0123456789abcdef";

Metadata full_metadata() {
  Metadata m;
  m.name = "silu-and-mul";
  m.id = "_silu_and_mul_cuda_abc1234";
  m.version = 2;
  m.license = "Apache-2.0";
  m.upstream = "https://github.com/org/silu.git";
  m.source = "git@github.com:org/src.git";
  m.python_depends = {"einops", "nvidia-cutlass-dsl"};
  m.kernel_depends = {{"kernels-community/relu", 1, std::nullopt}, {"org/other", std::nullopt, "main"}};
  m.backend = {config::Backend::Cuda, std::vector<std::string>{"10.0", "7.5", "9.0+PTX"}};
  m.digest = Digest{DigestAlgorithm::Sha256, {{"__init__.py", "AAAA"}, {"a/b.py", "BBBB"}}};
  m.provenance = Provenance{{"kb 0.1.0", CommitState{kCommitA, false}}, CommitState{kCommitB, true}};
  return m;
}

json minimal_json() {
  return json::parse(R"({"name": "relu", "id": "_relu_cpu_abc1234", "version": 1, "license": "MIT",
                         "python-depends": [], "backend": {"type": "cpu"}})");
}

// The message of the kb::Error that parsing `j` throws ("" when it parses).
std::string parse_error(const json& j) {
  try {
    parse_metadata(j.dump(), "variant/metadata.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Digest of the given files computed by Python's hashlib, independently of kb.
std::map<std::string, std::string> python_digest(const fs::path& dir, const std::vector<std::string>& files,
                                                 const std::string& algorithm) {
  std::string script =
      "import base64, hashlib, json, os, sys\n"
      "root, algo = sys.argv[1], sys.argv[2]\n"
      "out = {}\n"
      "for rel in sys.argv[3:]:\n"
      "    with open(os.path.join(root, rel), 'rb') as f:\n"
      "        out[rel] = base64.b64encode(hashlib.new(algo, f.read()).digest()).decode()\n"
      "print(json.dumps(out))\n";
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", script, dir.string(), algorithm};
  argv.insert(argv.end(), files.begin(), files.end());
  ProcessResult r = run_process({.argv = argv});
  EXPECT_TRUE(r.ok()) << r.err;
  return json::parse(r.out).get<std::map<std::string, std::string>>();
}

void write(const fs::path& path, const std::string& content) { write_file_atomic(path, content); }

const char* kGoodOps = R"(import torch
from ._ops import add_op_namespace_prefix

@torch.library.custom_op(add_op_namespace_prefix("silu"), mutates_args=())
def silu(x: torch.Tensor) -> torch.Tensor:
    return x

@silu.register_fake
def _(x):
    return x

def helper():
    @torch.library.custom_op("not_top_level::op", mutates_args=())
    def nested(x):
        return x
    return nested

@torch.library.custom_op(name="keyword_only", mutates_args=())
def keyword_only(x):
    return x
)";

const char* kBadOps = R"(import torch


@torch.library.custom_op("myns::op", mutates_args=())
def op(x: torch.Tensor) -> torch.Tensor:
    return x

@register_fake("myns::op")
async def fake(x):
    return x

@torch.library.register_torch_dispatch(ops.prefix("myns::op"), object)
class Dispatch:
    pass
)";

}  // namespace

// ---------------------------------------------------------------------------
// JSON model

TEST(Metadata, RoundTripKeepsEverythingAndKeyOrder) {
  TempDir tmp;
  Metadata m = full_metadata();
  write_metadata(tmp.path() / "metadata.json", m);
  EXPECT_EQ(read_metadata(tmp.path() / "metadata.json"), m);

  std::string text = read_file(tmp.path() / "metadata.json");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.substr(0, 12), "{\n  \"name\": ");  // 2-space indent
  std::vector<std::string> order = {"\"name\"", "\"id\"", "\"version\"", "\"license\"", "\"upstream\"",
                                    "\"source\"", "\"python-depends\"", "\"kernel-depends\"", "\"backend\"",
                                    "\"digest\"", "\"provenance\""};
  size_t last = 0;
  for (const std::string& key : order) {
    size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, last) << key << " out of order";
    last = at;
  }
  EXPECT_LT(text.find("\"type\""), text.find("\"archs\""));
  EXPECT_LT(text.find("\"kernel-builder\""), text.find("\"kernel\":"));
  EXPECT_LT(text.find("\"algorithm\""), text.find("\"files\""));
}

TEST(Metadata, MinimalMetadataHasExactCanonicalText) {
  Metadata m = parse_metadata(minimal_json().dump(), "m.json");
  EXPECT_EQ(to_json_text(m),
            "{\n"
            "  \"name\": \"relu\",\n"
            "  \"id\": \"_relu_cpu_abc1234\",\n"
            "  \"version\": 1,\n"
            "  \"license\": \"MIT\",\n"
            "  \"python-depends\": [],\n"
            "  \"kernel-depends\": [],\n"
            "  \"backend\": {\n"
            "    \"type\": \"cpu\"\n"
            "  }\n"
            "}\n");
}

TEST(Metadata, KernelsMinverHasThreePartsAndIsWrittenAfterTheVersion) {
  const std::string base = R"({"name": "relu", "id": "_relu_cpu_x", "version": 1, "license": "MIT",
                               "python-depends": [], "backend": {"type": "cpu"}, "kernels-minver": )";
  metadata::Metadata m = metadata::parse_metadata(base + "\"0.19.0\"}", "m.json");
  EXPECT_EQ(m.kernels_minver, "0.19.0");
  std::string text = metadata::to_json_text(m);
  EXPECT_NE(text.find("\"version\": 1,\n  \"kernels-minver\": \"0.19.0\",\n  \"license\""), std::string::npos) << text;
  EXPECT_EQ(metadata::parse_metadata(text, "again"), m);
  for (const char* bad : {"\"0.19\"", "\"0.19.0.1\"", "\"a.b.c\"", "\"0..1\""})
    EXPECT_NE(kb::testing::error_of([&] { metadata::parse_metadata(base + bad + "}", "m.json"); })
                  .find("`kernels-minver`: expected a version with three parts (X.Y.Z)"),
              std::string::npos)
        << bad;
  EXPECT_FALSE(kb::testing::error_of([&] { metadata::parse_metadata(base + "19}", "m.json"); }).empty());
}

TEST(Metadata, UnknownKeysAreIgnoredAndOptionalKeysDefault) {
  json j = minimal_json();
  j["python-depends-backends"] = {{"cuda", json::array()}};
  j["backend"]["future"] = true;
  Metadata m = parse_metadata(j.dump(), "m.json");
  EXPECT_TRUE(m.kernel_depends.empty());
  EXPECT_FALSE(m.backend.archs);
  EXPECT_FALSE(m.digest);
  EXPECT_FALSE(m.provenance);
  EXPECT_EQ(to_json(m).dump().find("future"), std::string::npos);
}

TEST(Metadata, AgnosticBackendReadsAndWritesBack) {
  for (json backend : {json{{"type", "agnostic"}}, json{{"type", "agnostic"}, {"archs", {"x"}}, {"future", 1}}}) {
    SCOPED_TRACE(backend.dump());
    json j = minimal_json();
    j["backend"] = backend;
    Metadata m = parse_metadata(j.dump(), "m.json");
    EXPECT_TRUE(m.backend.agnostic);
    EXPECT_FALSE(m.backend.unknown_type);
    EXPECT_FALSE(m.backend.archs) << "an agnostic build has no architectures";
    EXPECT_EQ(to_json(m)["backend"].dump(), R"({"type":"agnostic"})");
    EXPECT_EQ(parse_metadata(to_json_text(m), "again.json"), m);
  }
  json cpu = minimal_json();
  EXPECT_FALSE(parse_metadata(cpu.dump(), "m.json").backend.agnostic);
}

TEST(Metadata, UnknownBackendTypesReadButAreNeverWritten) {
  // A newer builder's backend: the metadata still reads (the variant was
  // chosen by its name and may load), names match exactly.
  for (json backend : {json{{"type", "foo"}}, json{{"type", "foo"}, {"archs", {"x"}}},
                       json{{"type", "foo"}, {"nested", {{"a", {1, 2}}}}, {"n", nullptr}}, json{{"type", "CUDA"}}}) {
    SCOPED_TRACE(backend.dump());
    json j = minimal_json();
    j["backend"] = backend;
    Metadata m = parse_metadata(j.dump(), "m.json");
    EXPECT_EQ(m.backend.unknown_type, backend["type"].get<std::string>());
    EXPECT_FALSE(m.backend.agnostic);
    EXPECT_FALSE(m.backend.archs);
    std::string error = kb::testing::error_of([&] { to_json(m); });
    EXPECT_NE(error.find("backend type `" + backend["type"].get<std::string>() + "` is unknown"), std::string::npos)
        << error;
  }
}

TEST(Metadata, ShaAliasAndUppercaseOidsAreNormalised) {
  json j = minimal_json();
  std::string upper = to_lower(kCommitB);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  j["provenance"] = {{"kernel-builder", {{"version", "0.17.0-dev0"}, {"sha", upper}, {"dirty", false}}},
                     {"kernel", {{"sha", kCommitA}, {"dirty", true}}}};
  Metadata m = parse_metadata(j.dump(), "m.json");
  ASSERT_TRUE(m.provenance);
  EXPECT_EQ(m.provenance->kernel_builder.git->commit, kCommitB);
  EXPECT_EQ(m.provenance->kernel->commit, kCommitA);
  EXPECT_TRUE(m.provenance->dirty());
  std::string text = to_json_text(m);
  EXPECT_EQ(text.find("\"sha\""), std::string::npos);
  EXPECT_NE(text.find("\"commit\": \"" + kCommitB + "\""), std::string::npos);
}

TEST(Metadata, BuilderProvenanceWithoutGitIsValid) {
  json j = minimal_json();
  j["provenance"] = {{"kernel-builder", {{"version", "kb 0.1.0"}}}};
  Metadata m = parse_metadata(j.dump(), "m.json");
  EXPECT_FALSE(m.provenance->kernel_builder.git);
  EXPECT_FALSE(m.provenance->dirty());
}

TEST(Metadata, EachValidationErrorNamesFileAndKey) {
  struct Case {
    std::string what;
    std::function<void(json&)> mutate;
    std::string expected;  // substring of the message after the file part
  };
  std::vector<Case> cases = {
      {"missing name", [](json& j) { j.erase("name"); }, "`name`: missing required key"},
      {"bad name", [](json& j) { j["name"] = "Relu_"; }, "`name`: "},
      {"name not a string", [](json& j) { j["name"] = 3; }, "`name`: expected a string, found an integer"},
      {"missing id", [](json& j) { j.erase("id"); }, "`id`: missing required key"},
      {"negative version", [](json& j) { j["version"] = -1; }, "`version`: expected a non-negative integer, found -1"},
      {"float version", [](json& j) { j["version"] = 1.5; }, "`version`: expected a non-negative integer"},
      {"string version", [](json& j) { j["version"] = "1"; }, "`version`: expected a non-negative integer"},
      {"missing license", [](json& j) { j.erase("license"); }, "`license`: missing required key"},
      {"bad upstream", [](json& j) { j["upstream"] = "ftp://example.com/x.git"; }, "`upstream`: "},
      {"bad source", [](json& j) { j["source"] = "not a url"; }, "`source`: "},
      {"missing python-depends", [](json& j) { j.erase("python-depends"); }, "`python-depends`: missing required key"},
      {"python-depends item", [](json& j) { j["python-depends"] = {"einops", 1}; },
       "`python-depends[1]`: expected a string"},
      {"dep both", [](json& j) { j["kernel-depends"] = {{{"repo-id", "a/b"}, {"version", 1}, {"revision", "x"}}}; },
       "`kernel-depends[0]`: `version` and `revision` are mutually exclusive"},
      {"dep neither", [](json& j) { j["kernel-depends"] = {{{"repo-id", "a/b"}}}; },
       "`kernel-depends[0]`: either `version` or `revision` is required"},
      {"dep unknown key", [](json& j) { j["kernel-depends"] = {{{"repo-id", "a/b"}, {"version", 1}, {"rev", "x"}}}; },
       "`kernel-depends[0].rev`: unknown key"},
      {"dep no repo", [](json& j) { j["kernel-depends"] = {{{"version", 1}}}; },
       "`kernel-depends[0].repo-id`: missing required key"},
      {"missing backend", [](json& j) { j.erase("backend"); }, "`backend`: missing required key"},
      {"backend without type", [](json& j) { j["backend"] = {{"archs", {"x"}}}; }, "`backend.type`: missing required key"},
      {"backend type number", [](json& j) { j["backend"]["type"] = 42; }, "`backend.type`: expected a string"},
      {"backend type null", [](json& j) { j["backend"]["type"] = nullptr; }, "`backend.type`: missing required key"},
      {"archs not strings", [](json& j) { j["backend"]["archs"] = {7.5}; }, "`backend.archs[0]`: expected a string"},
      {"digest algorithm", [](json& j) { j["digest"] = {{"algorithm", "md5"}, {"files", json::object()}}; },
       "`digest.algorithm`: unsupported digest algorithm `md5`"},
      {"digest files", [](json& j) { j["digest"] = {{"algorithm", "sha256"}}; }, "`digest.files`: missing required key"},
      {"provenance number", [](json& j) { j["provenance"] = 42; }, "`provenance`: expected an object, found an integer"},
      {"provenance empty", [](json& j) { j["provenance"] = json::object(); },
       "`provenance.kernel-builder`: missing required key"},
      {"commit without dirty",
       [](json& j) { j["provenance"] = {{"kernel-builder", {{"version", "1"}, {"commit", kCommitA}}}}; },
       "`provenance.kernel-builder`: git commit and dirty must be specified together"},
      {"dirty without commit",
       [](json& j) { j["provenance"] = {{"kernel-builder", {{"version", "1"}, {"dirty", true}}}}; },
       "git commit and dirty must be specified together"},
      {"bad oid",
       [](json& j) { j["provenance"] = {{"kernel-builder", {{"version", "1"}, {"commit", "abc"}, {"dirty", false}}}}; },
       "`provenance.kernel-builder.commit`: Invalid git object id, expected 40 or 64 hexadecimal digits: abc"},
      {"kernel nonsense",
       [](json& j) { j["provenance"] = {{"kernel-builder", {{"version", "1"}}}, {"kernel", "nonsense"}}; },
       "`provenance.kernel`: expected an object, found a string"},
      {"kernel without dirty",
       [](json& j) { j["provenance"] = {{"kernel-builder", {{"version", "1"}}}, {"kernel", {{"commit", kCommitA}}}}; },
       "`provenance.kernel.dirty`: missing required key"},
      {"sha and commit",
       [](json& j) {
         j["provenance"] = {{"kernel-builder", {{"version", "1"}}},
                            {"kernel", {{"commit", kCommitA}, {"sha", kCommitA}, {"dirty", false}}}};
       },
       "`provenance.kernel.sha`: duplicate of `commit`"},
  };
  for (const Case& c : cases) {
    json j = minimal_json();
    c.mutate(j);
    std::string message = parse_error(j);
    EXPECT_EQ(message.rfind("Cannot parse metadata from `variant/metadata.json`: ", 0), 0u)
        << c.what << ": " << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
  }
  EXPECT_EQ(parse_error(minimal_json()), "");
}

TEST(Metadata, InvalidJsonAndUnreadableFilesAreErrors) {
  try {
    parse_metadata("{\"name\": ", "x/metadata.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Cannot parse metadata from `x/metadata.json`: invalid JSON"),
              std::string::npos)
        << e.what();
  }
  TempDir tmp;
  try {
    read_metadata(tmp.path() / "missing.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json"), std::string::npos);
  }
}

TEST(Metadata, ForBackendFollowsCreatePyproject) {
  config::BuildConfig cfg;
  cfg.general.name = "silu-and-mul";
  cfg.general.version = 3;
  cfg.general.license = "Apache-2.0";
  cfg.general.upstream = config::GitUrl{"git@github.com:org/silu.git", "ssh://git@github.com/org/silu.git"};
  cfg.general.backends = {config::Backend::Cuda, config::Backend::Rocm, config::Backend::Cpu};
  cfg.general.python_depends = {"einops"};
  cfg.general.backend_python_depends[config::Backend::Cuda] = {"nvidia-cutlass-dsl"};
  cfg.general.kernel_depends = {{"org/relu", 1, std::nullopt}};
  cfg.general.backend_kernel_depends[config::Backend::Cuda] = {{"org/gelu", std::nullopt, "main"}};
  cfg.framework = config::Framework::TorchNoarch;
  cfg.torch_noarch.cuda_capabilities = {"8.0", "9.0"};

  Provenance provenance = build_provenance(std::nullopt);
  Metadata cuda = metadata_for_backend(cfg, config::Backend::Cuda, "_silu_and_mul_cuda_abc1234", provenance);
  EXPECT_EQ(cuda.name, "silu-and-mul");
  EXPECT_EQ(cuda.id, "_silu_and_mul_cuda_abc1234");
  EXPECT_EQ(cuda.version, 3u);
  EXPECT_EQ(cuda.upstream, "git@github.com:org/silu.git");  // the text as written
  EXPECT_FALSE(cuda.source);
  EXPECT_EQ(cuda.python_depends, (std::vector<std::string>{"einops", "nvidia-cutlass-dsl"}));
  ASSERT_EQ(cuda.kernel_depends.size(), 2u);
  EXPECT_EQ(cuda.kernel_depends[1].revision, "main");
  EXPECT_EQ(cuda.backend.archs, (std::vector<std::string>{"8.0", "9.0"}));
  EXPECT_EQ(cuda.provenance, provenance);

  Metadata cpu = metadata_for_backend(cfg, config::Backend::Cpu, "_silu_and_mul_cpu_abc1234", std::nullopt);
  EXPECT_EQ(cpu.python_depends, (std::vector<std::string>{"einops"}));
  EXPECT_EQ(cpu.kernel_depends.size(), 1u);
  EXPECT_FALSE(cpu.backend.archs);
  EXPECT_FALSE(cpu.provenance);
  // rocm_archs is empty: no archs. Arch (compiled) builds never get archs here.
  EXPECT_FALSE(metadata_for_backend(cfg, config::Backend::Rocm, "x", std::nullopt).backend.archs);
  cfg.framework = config::Framework::Torch;
  EXPECT_FALSE(metadata_for_backend(cfg, config::Backend::Cuda, "x", std::nullopt).backend.archs);
  // What it produces reads back unchanged.
  EXPECT_EQ(parse_metadata(to_json_text(cuda), "m.json"), cuda);
}

TEST(Metadata, KbProvenanceNamesKb) {
  BuilderProvenance p = kb_provenance();
  EXPECT_EQ(p.version, std::string("kb ") + KB_VERSION);
  if (p.git) {
    EXPECT_TRUE(git::is_object_id(p.git->commit));
  }
}

// ---------------------------------------------------------------------------
// Digest

TEST(Digest, MatchesIndependentHashesAndExcludesWhatTheSpecExcludes) {
  TempDir tmp;
  fs::path v = tmp.path() / "variant";
  write(v / "__init__.py", "from ._ops import ops\n");
  write(v / "_ops.py", "ops = None\n");
  write(v / "_relu_cpu_abc.abi3.so", std::string("\x7f" "ELF\0\1\2", 7));
  write(v / "layers" / "__init__.py", "class ReLU: pass\n");
  write(v / "layers" / "metadata.json", "{}\n");     // nested copy: hashed
  write(v / "metadata.json", "{}\n");                // top level: excluded
  write(v / "metadata.json.sigstore", "{}\n");       // excluded
  write(v / "__pycache__" / "x.cpython-311.pyc", "bytecode");
  write(v / "layers" / "__pycache__" / "y.txt", "under pycache");
  write(v / "stray.pyc", "bytecode");
  write(tmp.path() / "outside" / "data.bin", "outside the variant");
  fs::create_symlink("_ops.py", v / "ops_link.py");                       // file link: followed
  fs::create_directory_symlink(tmp.path() / "outside", v / "linked_dir");  // dir link: not entered

  std::vector<std::string> expected_files = {"__init__.py", "_ops.py", "_relu_cpu_abc.abi3.so", "layers/__init__.py",
                                             "layers/metadata.json", "ops_link.py"};
  for (DigestAlgorithm algorithm : {DigestAlgorithm::Sha256, DigestAlgorithm::Sha512}) {
    Digest d = compute_digest(v, algorithm);
    EXPECT_EQ(d.algorithm, algorithm);
    EXPECT_EQ(d.files, python_digest(v, expected_files, std::string(digest_algorithm_name(algorithm))));
  }
}

TEST(Digest, KnownVectorAndEmptyDirectory) {
  TempDir tmp;
  EXPECT_TRUE(compute_digest(tmp.path()).files.empty());
  write(tmp.path() / "hello.txt", "hello world");
  EXPECT_EQ(compute_digest(tmp.path()).files.at("hello.txt"), "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
}

TEST(Digest, BrokenSymlinkIsAnError) {
  TempDir tmp;
  fs::create_symlink(tmp.path() / "nowhere", tmp.path() / "broken.py");
  try {
    compute_digest(tmp.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Failed to hash variant `" + tmp.path().string() + "`"), std::string::npos);
  }
}

TEST(Digest, Exclusions) {
  EXPECT_TRUE(excluded_from_digest("metadata.json"));
  EXPECT_TRUE(excluded_from_digest("metadata.json.sigstore"));
  EXPECT_FALSE(excluded_from_digest("sub/metadata.json"));
  EXPECT_TRUE(excluded_from_digest("a/__pycache__/b.py"));
  EXPECT_TRUE(excluded_from_digest("a/b.pyc"));
  EXPECT_FALSE(excluded_from_digest("a/b.py"));
  EXPECT_FALSE(excluded_from_digest("__pycache__x/b.py"));
}

TEST(Digest, ViolationsInRuntimeOrder) {
  Digest expected{DigestAlgorithm::Sha256, {{"a", "1"}, {"b", "2"}, {"c", "3"}}};
  Digest actual{DigestAlgorithm::Sha512, {{"a", "1"}, {"c", "9"}, {"d", "4"}}};
  EXPECT_EQ(digest_violations(expected, actual),
            (std::vector<std::string>{"Algorithm mismatch: expected: SHA256, got: SHA512", "Missing file: b",
                                      "File hash mismatch for c: expected: 3, got: 9", "Unknown file: d"}));
  EXPECT_TRUE(digest_violations(expected, expected).empty());
}

// ---------------------------------------------------------------------------
// Layout and ops registration checks

TEST(Checks, OpsLintAcceptsPrefixedAndUndetectableForms) {
  TempDir tmp;
  write(tmp.path() / "pkg" / "__init__.py", kGoodOps);
  EXPECT_TRUE(lint_ops_registrations(tmp.path()).empty());
}

TEST(Checks, OpsLintReportsUnprefixedTopLevelRegistrations) {
  TempDir tmp;
  fs::path file = tmp.path() / "pkg" / "ops.py";
  write(file, kBadOps);
  write(tmp.path() / "pkg" / "__init__.py", kGoodOps);
  std::vector<OpsViolation> v = lint_ops_registrations(tmp.path());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], (OpsViolation{file.string(), 4, "function", "op"}));
  EXPECT_EQ(v[1], (OpsViolation{file.string(), 8, "async function", "fake"}));
  EXPECT_EQ(v[2], (OpsViolation{file.string(), 12, "class", "Dispatch"}));
  EXPECT_EQ(format_ops_report(v),
            "Found Torch library registrations that do not use `add_op_namespace_prefix`:\n" + file.string() +
                ":4 function op\n" + file.string() + ":8 async function fake\n" + file.string() +
                ":12 class Dispatch");
  // A single file can be linted too, with the interpreter named explicitly.
  EXPECT_EQ(lint_ops_registrations(file, fs::path("/usr/bin/python3")).size(), 3u);
}

TEST(Checks, OpsLintNamesFilesThatDoNotParse) {
  TempDir tmp;
  fs::path file = tmp.path() / "broken.py";
  write(file, "def f(:\n    pass\n");
  try {
    lint_ops_registrations(tmp.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Cannot parse Python file `" + file.string() + "`, line 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(lint_ops_registrations(tmp.path(), fs::path("/nonexistent/python3")), Error);
}

TEST(Checks, LayoutRequiresInitForbidsNestingAndBytecode) {
  TempDir tmp;
  fs::path m = tmp.path() / "relu";
  write(m / "_ops.py", "");
  write(m / "relu" / "__init__.py", "");
  write(m / "__pycache__" / "_ops.cpython-311.pyc", "");
  write(m / "sub" / "old.pyc", "");
  std::vector<std::string> problems = check_layout(m, "relu");
  std::string where = "Python module at `" + m.string() + "`";
  EXPECT_EQ(problems, (std::vector<std::string>{where + " must contain __init__.py",
                                                where + " must not contain `relu` (no nested relu/relu)",
                                                where + " ships bytecode: `__pycache__`",
                                                where + " ships bytecode: `sub/old.pyc`"}) );

  EXPECT_EQ(remove_bytecode(m), 2u);
  EXPECT_FALSE(fs::exists(m / "__pycache__"));
  EXPECT_FALSE(fs::exists(m / "sub" / "old.pyc"));
  fs::remove_all(m / "relu");
  write(m / "__init__.py", "");
  EXPECT_TRUE(check_layout(m, "relu").empty());
}

// ---------------------------------------------------------------------------
// Discovery and finalizing a variant

TEST(Discover, PrefersResultThenBuildThenDirectory) {
  TempDir tmp;
  fs::path k = tmp.path();
  try {
    discover_variants(k);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "No build variants found in `" + (k / "result").string() + "`, `" +
                                         (k / "build").string() + "`, or `" + k.string() + "`");
  }
  write(k / "torch-cpu" / "metadata.json", "{}");
  EXPECT_EQ(discover_variants(k).base, k);
  write(k / "build" / "torch-cuda" / "metadata.json", "{}");
  write(k / "build" / "torch-cpu" / "metadata.json", "{}");
  write(k / "build" / "no-metadata" / "x.py", "");
  DiscoveredVariants found = discover_variants(k);
  EXPECT_EQ(found.base, k / "build");
  EXPECT_EQ(found.variants, (std::vector<fs::path>{k / "build" / "torch-cpu", k / "build" / "torch-cuda"}));
  write(k / "result" / "torch-xpu" / "metadata.json", "{}");
  EXPECT_EQ(discover_variants(k).base, k / "result");
  EXPECT_THROW(discover_variants(k / "missing"), Error);
}

namespace {

fs::path make_variant(const fs::path& root, const std::string& ops_source) {
  fs::path v = root / "build" / "torch-cpu";
  Metadata m = parse_metadata(minimal_json().dump(), "m.json");
  write_metadata(v / "metadata.json", m);
  write(v / "__init__.py", "from ._ops import ops\n");
  write(v / "_ops.py", ops_source);
  write(v / "__pycache__" / "_ops.cpython-311.pyc", "bytecode");
  return v;
}

}  // namespace

TEST(Finalize, WritesProvenanceAndDigest) {
  TempDir tmp;
  fs::path v = make_variant(tmp.path(), kGoodOps);
  FinalizeOptions options;
  options.kernel_commit = CommitState{kCommitA, true};
  FinalizeResult r = finalize_variant(v, options);
  ASSERT_TRUE(r.ok) << join(r.problems, "\n");
  EXPECT_FALSE(fs::exists(v / "__pycache__"));

  Metadata written = read_metadata(v / "metadata.json");
  EXPECT_EQ(written, *r.metadata);
  EXPECT_EQ(r.metadata_json()["name"], "relu");
  ASSERT_TRUE(written.provenance);
  EXPECT_EQ(written.provenance->kernel_builder, kb_provenance());
  EXPECT_EQ(written.provenance->kernel, (CommitState{kCommitA, true}));
  ASSERT_TRUE(written.digest);
  EXPECT_EQ(written.digest->files, python_digest(v, {"__init__.py", "_ops.py"}, "sha256"));
  EXPECT_EQ(read_file(v / "metadata.json"), to_json_text(written));
}

TEST(Finalize, KeepsRecordedKernelProvenanceOverGit) {
  TempDir tmp;
  fs::path v = make_variant(tmp.path(), "");
  Metadata m = read_metadata(v / "metadata.json");
  m.provenance = Provenance{{"old", std::nullopt}, CommitState{kCommitB, false}};
  write_metadata(v / "metadata.json", m);
  FinalizeOptions options;
  options.kernel_dir = tmp.path();  // not a repository: would give no kernel provenance
  FinalizeResult r = finalize_variant(v, options);
  ASSERT_TRUE(r.ok) << join(r.problems, "\n");
  EXPECT_EQ(r.metadata->provenance->kernel, (CommitState{kCommitB, false}));
  EXPECT_EQ(r.metadata->provenance->kernel_builder.version, std::string("kb ") + KB_VERSION);
}

TEST(Finalize, FailedChecksLeaveMetadataUntouched) {
  TempDir tmp;
  fs::path v = make_variant(tmp.path(), kBadOps);
  fs::remove(v / "__init__.py");
  std::string before = read_file(v / "metadata.json");
  FinalizeResult r = finalize_variant(v);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems[0], "Python module at `" + v.string() + "` must contain __init__.py");
  EXPECT_EQ(r.problems[1].rfind("Found Torch library registrations that do not use `add_op_namespace_prefix`:\n", 0),
            0u);
  EXPECT_NE(r.problems[1].find((v / "_ops.py").string() + ":4 function op"), std::string::npos);
  EXPECT_EQ(read_file(v / "metadata.json"), before);
}

TEST(Finalize, InvalidMetadataIsReportedLikeCheckBuilds) {
  TempDir tmp;
  fs::path v = tmp.path() / "torch-cpu";
  write(v / "metadata.json", R"({"name": "relu"})");
  write(v / "__init__.py", "");
  FinalizeResult r = finalize_variant(v);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].rfind("Failed to parse metadata: " + (v / "metadata.json").string() + "\n  Caused by: ", 0),
            0u)
      << r.problems[0];
  EXPECT_THROW(check_variant_metadata(v), Error);
}

TEST(Finalize, OwnBuildsMustNameAKnownBackendButMayBeAgnostic) {
  TempDir tmp;
  fs::path v = tmp.path() / "sdk";
  json j = minimal_json();
  j["backend"] = {{"type", "gpu"}};
  write(v / "metadata.json", j.dump());
  write(v / "__init__.py", "");
  std::string before = read_file(v / "metadata.json");
  FinalizeResult r = finalize_variant(v);
  EXPECT_FALSE(r.ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("`backend.type`: unknown backend `gpu`, expected one of: agnostic, cann, cpu"),
            std::string::npos)
      << r.problems[0];
  EXPECT_EQ(read_file(v / "metadata.json"), before);
  j["backend"] = {{"type", "agnostic"}};
  write(v / "metadata.json", j.dump());
  EXPECT_TRUE(check_variant_metadata(v).backend.agnostic);
}
