#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "libkb/cache/cache.h"
#include "libkb/lock/download.h"
#include "libkb/lock/lockfile.h"
#include "libkb/lock/project.h"
#include "libkb/lock/variant_hash.h"
#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

// Independent references, computed by Python's standard library.
const char* kPython = "/usr/bin/python3";

std::string python(const std::string& script, const std::vector<std::string>& args = {},
                   const std::string& input = "") {
  std::vector<std::string> argv = {kPython, "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = run_process({.argv = argv, .stdin_data = input});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

// The git_lfs_concat hash of the files under `dir`, as the spec defines it:
// files named in `lfs` count by their SHA-256, the others by their git blob
// SHA-1; sorted (path bytes, hex); bytecode left out.
std::string python_variant_hash(const fs::path& dir, const std::vector<std::string>& lfs = {}) {
  static const char* script = R"(
import hashlib, os, sys
root, lfs = sys.argv[1], set(sys.argv[2:])
entries = []
for dirpath, _, filenames in os.walk(root):
    for f in filenames:
        full = os.path.join(dirpath, f)
        rel = os.path.relpath(full, root).replace(os.sep, "/")
        if rel.endswith(".pyc") or "__pycache__" in rel.split("/"):
            continue
        data = open(full, "rb").read()
        if rel in lfs:
            h = hashlib.sha256(data).hexdigest()
        else:
            h = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        entries.append((rel.encode("utf-8"), h))
m = hashlib.sha256()
for name, h in sorted(entries):
    m.update(name)
    m.update(bytes.fromhex(h))
print("sha256-" + m.hexdigest())
)";
  std::vector<std::string> args = {dir.string()};
  args.insert(args.end(), lfs.begin(), lfs.end());
  return trim(python(script, args));
}

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<lock::KernelLock> sample_locks() {
  return {{"kernels-community/activation",
           "ece277f908b9453112722d584fee4b5696f21c49",
           {{"torch210-cu128-x86_64-windows",
             {"sha256-cbf085e1d297d990d9cb074fb5079ff48e9682c729f53a0899a36b5164a6fb45", "git_lfs_concat"}},
            {"torch29-metal-aarch64-darwin",
             {"sha256-9f665b54a53246a7d3627422f8a0d41d7956dc5409043dbd14c4ec0327aea310", "git_lfs_concat"}}}},
          {"acme/empty", "0123456789abcdef0123456789abcdef01234567", {}}};
}

}  // namespace

// ---------------------------------------------------------------------------
// The lock file

TEST(LockFile, WritesTheBytesOfTheExistingTool) {
  std::string expected = R"([
  {
    "repo_id": "kernels-community/activation",
    "sha": "ece277f908b9453112722d584fee4b5696f21c49",
    "variants": {
      "torch210-cu128-x86_64-windows": {
        "hash": "sha256-cbf085e1d297d990d9cb074fb5079ff48e9682c729f53a0899a36b5164a6fb45",
        "hash_type": "git_lfs_concat"
      },
      "torch29-metal-aarch64-darwin": {
        "hash": "sha256-9f665b54a53246a7d3627422f8a0d41d7956dc5409043dbd14c4ec0327aea310",
        "hash_type": "git_lfs_concat"
      }
    }
  },
  {
    "repo_id": "acme/empty",
    "sha": "0123456789abcdef0123456789abcdef01234567",
    "variants": {}
  }
])";
  EXPECT_EQ(lock::format_lock_file(sample_locks()), expected);
  EXPECT_EQ(lock::format_lock_file({}), "[]");
}

TEST(LockFile, MatchesPythonJsonDumpWithIndentTwoIncludingEscapes) {
  std::vector<lock::KernelLock> locks = sample_locks();
  // Names the writer must escape as Python does (ensure_ascii, \uXXXX lowercase).
  locks[0].variants.push_back({"torch-\"q\"\\\t\x7f-\xc3\xa9-\xf0\x9f\x98\x80", {"sha256-00", "other"}});
  nlohmann::ordered_json doc = nlohmann::ordered_json::array();
  for (const auto& k : locks) {
    nlohmann::ordered_json variants = nlohmann::ordered_json::object();
    for (const auto& [name, v] : k.variants) variants[name] = {{"hash", v.hash}, {"hash_type", v.hash_type}};
    doc.push_back({{"repo_id", k.repo_id}, {"sha", k.sha}, {"variants", variants}});
  }
  std::string reference = python("import json, sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.buffer.read().decode()), indent=2))", {},
                                 doc.dump());
  EXPECT_EQ(lock::format_lock_file(locks), reference);
  EXPECT_EQ(lock::parse_lock_file(reference), locks);
}

TEST(LockFile, RoundTripsThroughAFileAndKeepsVariantOrder) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockfile"));
  std::vector<lock::KernelLock> locks = sample_locks();
  std::swap(locks[0].variants[0], locks[0].variants[1]);  // not alphabetical
  lock::write_lock_file(tmp.path() / "kernels.lock", locks);
  EXPECT_EQ(lock::read_lock_file(tmp.path() / "kernels.lock"), locks);
  EXPECT_EQ(read(tmp.path() / "kernels.lock").back(), ']');  // no trailing newline
  EXPECT_EQ(lock::locked_revision(locks, "acme/empty"), "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(lock::locked_revision(locks, "acme/other"), std::nullopt);
}

TEST(LockFile, ReaderDefaultsHashTypeAndIgnoresUnknownEntryKeys) {
  auto locks = lock::parse_lock_file(R"([{"repo_id": "a/b", "sha": "s", "extra": 1, "variants": {"v": {"hash": "h"}}}])");
  ASSERT_EQ(locks.size(), 1u);
  EXPECT_EQ(locks[0].find("v")->hash_type, "git_lfs_concat");
  EXPECT_EQ(locks[0].find("w"), nullptr);
}

TEST(LockFile, MalformedFilesGiveErrorsNamingTheFileAndKey) {
  auto error = [](const std::string& text) { return error_of([&] { lock::parse_lock_file(text, "p/kernels.lock"); }); };
  std::string m = error("[\n  {\"repo_id\": \"a/b\",,}\n]");
  EXPECT_TRUE(contains(m, "p/kernels.lock:2:")) << m;
  EXPECT_TRUE(contains(m, "not valid JSON")) << m;
  EXPECT_TRUE(contains(error("{}"), "p/kernels.lock: expected a JSON array of locked kernels, found object"));
  m = error(R"([{"repo_id": "a/b", "variants": {}}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 0 (a/b): missing key \"sha\"");
  m = error(R"([{"repo_id": "a/b", "sha": 5, "variants": {}}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 0 (a/b): key \"sha\" must be a string, not number");
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": []}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 0 (a/b): key \"variants\" must be an object, not array");
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": {}}, {"sha": "s"}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 1: missing key \"repo_id\"");
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": {"v": {"hash_type": "git_lfs_concat"}}}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 0 (a/b): variant \"v\": missing key \"hash\"");
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": {"v": {"hash": "h", "size": "1"}}}])");
  EXPECT_TRUE(contains(m, "variant \"v\": unknown key \"size\"")) << m;
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": {"v": {"hash": 1}}}])");
  EXPECT_EQ(m, "p/kernels.lock: entry 0 (a/b): variant \"v\": key \"hash\" must be a string, not number");
  m = error(R"([{"repo_id": "a/b", "sha": "s", "variants": {"v": "sha256-00"}}])");
  EXPECT_TRUE(contains(m, "variant \"v\" must be an object, not string")) << m;
  EXPECT_TRUE(contains(error_of([] { lock::read_lock_file("/nonexistent/kernels.lock"); }), "/nonexistent/kernels.lock"));
}

// ---------------------------------------------------------------------------
// The variant hash

namespace {

// A variant directory with names whose byte order differs from other
// orders (uppercase, '.', '/', '_', non-ASCII), bytecode, and LFS files.
void write_variant(const fs::path& dir) {
  write(dir / "__init__.py", "from ._ops import ops\n");
  write(dir / "_relu_cpu_abc.abi3.so", std::string("\x7f" "ELF\0\0binary", 12));
  write(dir / "Z.txt", "upper");
  write(dir / "a.b", "dot");
  write(dir / "a/b", "slash");
  write(dir / "a_b", "underscore");
  write(dir / "\xc3\xa9t\xc3\xa9.py", "non-ascii name");
  write(dir / "empty", "");
  write(dir / "metadata.json", "{\"name\": \"relu\"}\n");
  write(dir / "__pycache__/x.cpython-311.pyc", "bytecode");
  write(dir / "stale.pyc", "bytecode");
}
const std::vector<std::string> kLfsFiles = {"_relu_cpu_abc.abi3.so", "a/b"};

// The hub's listing of the files under `src`, at build/<variant>/.
std::vector<hub::TreeEntry> listing(const fs::path& src, const std::string& variant,
                                    const std::vector<std::string>& lfs = {}) {
  std::vector<hub::TreeEntry> out;
  for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    std::string name = relative_slash_path(it->path(), src), content = read(it->path());
    hub::TreeEntry e{"build/" + variant + "/" + name, false, content.size(), git_blob_sha1_hex(content), {}};
    if (std::find(lfs.begin(), lfs.end(), name) != lfs.end()) e.lfs_sha256 = to_hex(sha256_bytes(content));
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST(LockHash, TreeListingHashEqualsAnIndependentPythonComputation) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockhash"));
  write_variant(tmp.path() / "v");
  std::string expected = python_variant_hash(tmp.path() / "v", kLfsFiles);
  ASSERT_TRUE(starts_with(expected, "sha256-")) << expected;

  std::vector<hub::TreeEntry> tree = listing(tmp.path() / "v", "torch28-cxx11-cpu-x86_64-linux", kLfsFiles);
  // Entries that never take part: other top-level files, tvm-ffi variants,
  // directories.
  tree.push_back({"README.md", false, 3, std::string(40, 'a'), {}});
  tree.push_back({"build/tvm-ffi01-cpu-x86_64-linux/__init__.py", false, 3, std::string(40, 'b'), {}});
  tree.push_back({"build/torch-cpu", true, 0, std::string(40, 'c'), {}});
  std::reverse(tree.begin(), tree.end());  // listing order must not matter for the hash
  tree.push_back({"build/torch-cpu/__init__.py", false, 1, git_blob_sha1_hex("x"), {}});

  auto locks = lock::variant_locks(tree);
  ASSERT_EQ(locks.size(), 2u);
  EXPECT_EQ(locks[0].first, "torch28-cxx11-cpu-x86_64-linux");  // first seen first
  EXPECT_EQ(locks[0].second.hash, expected);
  EXPECT_EQ(locks[0].second.hash_type, "git_lfs_concat");
  EXPECT_EQ(locks[1].first, "torch-cpu");

  // Without the LFS ids the same files hash differently: the kind matters.
  EXPECT_NE(lock::variant_locks(listing(tmp.path() / "v", "torch-cpu"))[0].second.hash, expected);
  EXPECT_EQ(lock::variant_locks(listing(tmp.path() / "v", "torch-cpu"))[0].second.hash,
            python_variant_hash(tmp.path() / "v"));
  // An empty variant list hashes nothing; a file without a blob id is an error.
  EXPECT_EQ(lock::git_lfs_concat({}), "sha256-" + to_hex(sha256_bytes("")));
  EXPECT_EQ(error_of([] { lock::variant_locks({{"build/torch-cpu/x", false, 1, "", {}}}); }),
            "Cannot get blob ID for build/torch-cpu/x");
}

TEST(LockHash, ACacheSnapshotHashesLikeTheListingAndTamperingIsNamed) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockhash"));
  fs::path src = tmp.path() / "v";
  write_variant(src);
  const std::string variant = "torch-cpu", commit(40, 'e');
  cache::RepoCache repo(tmp.path() / "cache", "kernel", "acme/relu");
  for (const hub::TreeEntry& e : listing(src, variant, kLfsFiles)) {
    if (lock::bytecode_path(e.path)) continue;
    cache::ExpectedHash want{e.lfs_sha256 ? cache::ExpectedHash::Sha256 : cache::ExpectedHash::GitBlobSha1,
                             e.lfs_sha256 ? *e.lfs_sha256 : e.blob_id, e.size};
    std::string content = read(src / e.path.substr(("build/" + variant + "/").size()));
    repo.store(commit, e.path, want, [&](std::ostream& out) { out << content; });
  }
  fs::path dir = repo.snapshot_dir(commit) / "build" / variant;
  write(dir / "__pycache__" / "__init__.cpython-311.pyc", "made by an interpreter");  // ignored

  std::string expected = python_variant_hash(src, kLfsFiles);
  lock::LocalVariant local = lock::scan_variant_dir(dir);
  EXPECT_EQ(local.hash(), expected);
  EXPECT_TRUE(local.foreign.empty());
  EXPECT_EQ(error_of([&] { lock::verify_variant_dir(dir, "acme/relu", variant, {expected}); }), "");

  std::string m = error_of([&] { lock::verify_variant_dir(dir, "acme/relu", variant, {"sha256-" + std::string(64, '0')}); });
  EXPECT_TRUE(contains(m, "variant torch-cpu of acme/relu")) << m;
  EXPECT_TRUE(contains(m, "Lock file specifies kernel with hash sha256-000")) << m;
  EXPECT_TRUE(contains(m, "but downloaded kernel has hash: " + expected)) << m;
  m = error_of([&] { lock::verify_variant_dir(dir, "acme/relu", variant, {expected, "nix"}); });
  EXPECT_TRUE(contains(m, "unsupported hash_type `nix`")) << m;

  // An LFS file changed in its blob: named, with the kind its blob name says.
  fs::path blob = fs::canonical(dir / "a" / "b");
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  write(blob, "tampered");
  m = error_of([&] { lock::verify_variant_dir(dir, "acme/relu", variant, {expected}); });
  EXPECT_TRUE(contains(m, "\n  a/b: content does not match the hub's sha256 " + to_hex(sha256_bytes("slash")))) << m;
  EXPECT_TRUE(contains(m, "(found " + to_hex(sha256_bytes("tampered")) + ")")) << m;
  write(blob, "slash");

  // A plain file in place of a link is not the hub's, even with the right content.
  fs::remove(dir / "Z.txt");
  write(dir / "Z.txt", "upper");
  m = error_of([&] { lock::verify_variant_dir(dir, "acme/relu", variant, {expected}); });
  EXPECT_TRUE(contains(m, "\n  Z.txt: not a file downloaded from the hub")) << m;

  fs::remove(dir / "Z.txt");
  fs::create_symlink("../odd-blob-name", dir / "Z.txt");
  write(dir.parent_path() / "odd-blob-name", "upper");
  m = error_of([&] { lock::scan_variant_dir(dir); });
  EXPECT_TRUE(contains(m, "Unexpected blob filename length: 13")) << m;
}

// ---------------------------------------------------------------------------
// pyproject.toml

TEST(LockPyproject, ReadsDependenciesInFileOrder) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockpy"));
  write(tmp.path() / "pyproject.toml",
        "[project]\nname = \"app\"\n\n[tool.kernels.dependencies]\n\"kernels-community/zeta\" = 2\n"
        "\"kernels-community/activation\" = 1\n");
  auto deps = lock::read_dependencies(tmp.path() / "pyproject.toml");
  ASSERT_TRUE(deps);
  ASSERT_EQ(deps->size(), 2u);
  EXPECT_EQ((*deps)[0].repo_id, "kernels-community/zeta");
  EXPECT_EQ((*deps)[0].version, 2);
  EXPECT_EQ((*deps)[1].repo_id, "kernels-community/activation");
  EXPECT_EQ((*deps)[1].version, 1);
}

TEST(LockPyproject, NoDependencyTableIsANoOpAndWritesNothing) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockpy"));
  write(tmp.path() / "pyproject.toml", "[project]\nname = \"app\"\n[tool.kernels]\nother = 1\n");
  EXPECT_EQ(lock::read_dependencies(tmp.path() / "pyproject.toml"), std::nullopt);
  auto hub = hub::open_local_hub(tmp.path() / "hub");
  lock::ProjectLock result = lock::lock_project(*hub, tmp.path());
  EXPECT_FALSE(result.declared);
  EXPECT_FALSE(fs::exists(tmp.path() / "kernels.lock"));
  EXPECT_EQ(error_of([&] { lock::lock_project(*hub, tmp.path() / "missing"); }),
            "No pyproject.toml found in: " + (tmp.path() / "missing").string());
}

TEST(LockPyproject, BadValuesAndKeysNameTheKeyAndPosition) {
  TempDirGuard tmp(make_temp_dir(fs::temp_directory_path(), "kb-lockpy"));
  fs::path file = tmp.path() / "pyproject.toml";
  auto error = [&](const std::string& body) {
    write(file, "[tool.kernels.dependencies]\n" + body);
    return error_of([&] { lock::read_dependencies(file); });
  };
  std::string m = error("\"acme/relu\" = \"1\"\n");
  EXPECT_EQ(m, file.string() + ":2:15: [tool.kernels.dependencies] \"acme/relu\": the version must be a positive "
                               "integer (a major version such as 1), found string '1'");
  EXPECT_TRUE(contains(error("\"acme/relu\" = 0\n"), "\"acme/relu\": the version must be a positive integer")) << m;
  EXPECT_TRUE(contains(error("\"acme/relu\" = 1.5\n"), "found float 1.5"));
  EXPECT_TRUE(contains(error("\"acme/relu\" = 1\n\"acme/x\" = true\n"), ":3:12: [tool.kernels.dependencies] \"acme/x\""));
  m = error("\"relu\" = 1\n");
  EXPECT_TRUE(contains(m, ":2:10: [tool.kernels.dependencies] \"relu\": invalid repository id 'relu'")) << m;
  write(file, "[tool.kernels]\ndependencies = [\"acme/relu\"]\n");
  m = error_of([&] { lock::read_dependencies(file); });
  EXPECT_TRUE(contains(m, ":2:16: `tool.kernels.dependencies` must be a table, found array")) << m;
  write(file, "[tool.kernels.dependencies\n");
  EXPECT_TRUE(contains(error_of([&] { lock::read_dependencies(file); }), file.string() + ":1:"));
}

// ---------------------------------------------------------------------------
// Locking and downloading through real hubs

namespace {

class LockHubTest : public ::testing::Test {
 protected:
  LockHubTest()
      : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-lockhub")), hub_(hub::open_local_hub(tmp_.path() / "hub")) {}

  // Publishes the files under src/<name>/ (paths as in the repository).
  std::string publish(hub::Hub& hub, const std::string& repo, const std::string& branch, const std::string& name) {
    std::vector<hub::FileOperation> ops;
    fs::path src = tmp_.path() / "src" / name;
    for (auto it = fs::recursive_directory_iterator(src); it != fs::recursive_directory_iterator(); ++it)
      if (it->is_regular_file())
        ops.push_back({hub::FileOperation::Kind::Add, relative_slash_path(it->path(), src), it->path()});
    return hub.publish(repo, {branch, "Upload", ops}).commit;
  }

  // acme/relu: v1 with torch-cpu, torch-universal and a tvm-ffi variant;
  // v2 with another torch-cpu.
  void publish_relu(hub::Hub& hub) {
    fs::path v1 = tmp_.path() / "src" / "relu-v1";
    write(v1 / "README.md", "# relu\n");
    write(v1 / "build/torch-cpu/__init__.py", "BACKEND = 'cpu'\n");
    write(v1 / "build/torch-cpu/sub/data.txt", "data of cpu");
    write(v1 / "build/torch-cpu/metadata.json", "{\"name\": \"relu\"}\n");
    write(v1 / "build/torch-cpu/__pycache__/x.cpython-311.pyc", "bytecode");
    write(v1 / "build/torch-universal/__init__.py", "BACKEND = 'universal'\n");
    write(v1 / "build/tvm-ffi01-cpu-x86_64-linux/__init__.py", "tvm\n");
    v1_ = publish(hub, "acme/relu", "v1", "relu-v1");
    write(tmp_.path() / "src/relu-v2/build/torch-cpu/__init__.py", "BACKEND = 'cpu v2'\n");
    v2_ = publish(hub, "acme/relu", "v2", "relu-v2");
  }

  fs::path project(const std::string& dependencies) {
    fs::path dir = tmp_.path() / "project";
    write(dir / "pyproject.toml", "[project]\nname = \"app\"\n\n[tool.kernels.dependencies]\n" + dependencies);
    return dir;
  }

  lock::DownloadOptions options(bool all = false, bool offline = false) {
    return {tmp_.path() / "cache", resolve::make_environment("x86_64", "Linux", std::nullopt), all, offline, 4};
  }

  fs::path snapshot(const std::string& commit) { return tmp_.path() / "cache/kernels--acme--relu/snapshots" / commit; }
  std::string expected_hash(const std::string& variant) {
    return python_variant_hash(tmp_.path() / "src/relu-v1/build" / variant);
  }

  TempDirGuard tmp_;
  std::unique_ptr<hub::Hub> hub_;
  std::string v1_, v2_;
};

// The format that records a hash per variant (kb's verified locks).
lock::LockOptions legacy_format() {
  lock::LockOptions options;
  options.format = lock::LockFormat::Legacy;
  return options;
}

}  // namespace

TEST_F(LockHubTest, LocksEveryTorchVariantAtTheVersionCommit) {
  publish_relu(*hub_);
  std::vector<std::string> warnings;
  lock::LockOptions opts{4, [&](const std::string& w) { warnings.push_back(w); }};
  opts.format = lock::LockFormat::Legacy;  // the format that records variant hashes
  lock::ProjectLock result = lock::lock_project(*hub_, project("\"acme/relu\" = 1\n"), opts);
  ASSERT_TRUE(result.declared);
  std::vector<lock::KernelLock> written = lock::read_lock_file(tmp_.path() / "project/kernels.lock");
  EXPECT_EQ(written, result.locks);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0].repo_id, "acme/relu");
  EXPECT_EQ(written[0].sha, v1_);
  ASSERT_EQ(written[0].variants.size(), 2u);  // the tvm-ffi variant is never locked
  EXPECT_EQ(written[0].variants[0].first, "torch-cpu");
  EXPECT_EQ(written[0].variants[0].second.hash, expected_hash("torch-cpu"));
  EXPECT_EQ(written[0].variants[1].first, "torch-universal");
  EXPECT_EQ(written[0].variants[1].second.hash, expected_hash("torch-universal"));
  EXPECT_EQ(warnings, std::vector<std::string>{"You are using version 1 of 'acme/relu', but version 2 is available."});
  EXPECT_EQ(read(tmp_.path() / "project/kernels.lock"), lock::format_lock_file(written));
}

TEST_F(LockHubTest, LocksSeveralKernelsInFileOrderAndReportsEachFailure) {
  publish_relu(*hub_);
  write(tmp_.path() / "src/zeta/build/torch-cpu/__init__.py", "zeta\n");
  std::string zeta = publish(*hub_, "acme/zeta", "v3", "zeta");
  const lock::LockOptions legacy = legacy_format();  // file order, every failure at once
  lock::ProjectLock result = lock::lock_project(*hub_, project("\"acme/zeta\" = 3\n\"acme/relu\" = 2\n"), legacy);
  ASSERT_EQ(result.locks.size(), 2u);
  EXPECT_EQ(result.locks[0].repo_id, "acme/zeta");
  EXPECT_EQ(result.locks[0].sha, zeta);
  EXPECT_EQ(result.locks[1].sha, v2_);

  // A missing kernel and a missing version: one line each; the old lock stays.
  std::string before = read(tmp_.path() / "project/kernels.lock");
  std::string m = error_of([&] {
    lock::lock_project(*hub_, project("\"acme/nothere\" = 1\n\"acme/relu\" = 1\n\"acme/zeta\" = 1\n"), legacy);
  });
  std::vector<std::string> lines = split(m, '\n');
  ASSERT_EQ(lines.size(), 2u) << m;
  EXPECT_TRUE(starts_with(lines[0], "acme/nothere: ") && contains(lines[0], "acme/nothere")) << m;
  EXPECT_EQ(lines[1], "acme/zeta: Version 1 not found, available versions: 3");
  EXPECT_EQ(read(tmp_.path() / "project/kernels.lock"), before);
}

TEST_F(LockHubTest, StructuredLocksKeepVersionOneAndARevisionNamedV1Apart) {
  // acme/leaf v1; acme/mid v1 needs leaf version 1, acme/top v1 needs mid
  // version 1 and leaf at revision "v1": two pins of leaf, one commit.
  write(tmp_.path() / "src/leaf/build/torch-cpu/metadata.json", "{\"name\": \"leaf\"}\n");
  std::string leaf = publish(*hub_, "acme/leaf", "v1", "leaf");
  auto with_deps = [](const std::string& name, const std::string& deps) {
    return "{\"name\": \"" + name + "\", \"id\": \"_" + name + "_cpu_0\", \"version\": 1, \"license\": \"MIT\", "
           "\"python-depends\": [], \"kernel-depends\": [" + deps + "], \"backend\": {\"type\": \"cpu\"}}\n";
  };
  write(tmp_.path() / "src/mid/build/torch-cpu/metadata.json",
        with_deps("mid", R"({"repo-id": "acme/leaf", "version": 1})"));
  std::string mid = publish(*hub_, "acme/mid", "v1", "mid");
  write(tmp_.path() / "src/top/build/torch-cpu/metadata.json",
        with_deps("top", R"({"repo-id": "acme/mid", "version": 1}, {"repo-id": "acme/leaf", "revision": "v1"})"));
  std::string top = publish(*hub_, "acme/top", "v1", "top");

  lock::ProjectLock result = lock::lock_project(*hub_, project("\"acme/top\" = 1\n"), {});
  std::vector<lock::KernelLock> written = lock::read_lock_file(tmp_.path() / "project/kernels.lock");
  ASSERT_EQ(written.size(), 4u) << read(tmp_.path() / "project/kernels.lock");
  EXPECT_EQ(written[0].repo_id, "acme/leaf");
  EXPECT_EQ(written[0].pin->version, 1u);
  EXPECT_EQ(written[1].repo_id, "acme/leaf");
  EXPECT_EQ(written[1].pin->revision, "v1");
  EXPECT_EQ(written[1].sha, leaf);
  EXPECT_EQ(written[2].sha, mid);
  EXPECT_EQ(written[3].sha, top);
  EXPECT_EQ(result.locks, written);
}

// As in kernels >= 0.17, a kernel-status.toml redirect is not followed: the
// repository asked for is locked, even when its status file is malformed.
TEST_F(LockHubTest, LocksTheAskedRepositoryNotAKernelStatusRedirectDestination) {
  publish_relu(*hub_);
  write(tmp_.path() / "src/old/kernel-status.toml", "kind = \"redirect\"\ndestination = \"acme/relu\"\n");
  publish(*hub_, "acme/old", "main", "old");
  write(tmp_.path() / "src/old-v1/build/torch-cpu/__init__.py", "old\n");
  std::string old_v1 = publish(*hub_, "acme/old", "v1", "old-v1");
  std::vector<std::string> warnings;
  auto locks = lock::lock_dependencies(*hub_, {{"acme/old", 1}}, {2, [&](const std::string& w) { warnings.push_back(w); }});
  ASSERT_EQ(locks.size(), 1u);
  EXPECT_EQ(locks[0].repo_id, "acme/old");
  EXPECT_EQ(locks[0].sha, old_v1);
  ASSERT_NE(locks[0].find("torch-cpu"), nullptr);
  EXPECT_EQ(locks[0].find("torch-cpu")->hash, python_variant_hash(tmp_.path() / "src/old-v1/build/torch-cpu"));
  EXPECT_EQ(warnings, std::vector<std::string>{});

  // The structured format (kb lock's default) locks the same commit.
  lock::ProjectLock structured = lock::lock_project(*hub_, project("\"acme/old\" = 1\n"));
  ASSERT_EQ(structured.locks.size(), 1u);
  EXPECT_EQ(structured.locks[0].repo_id, "acme/old");
  EXPECT_EQ(structured.locks[0].sha, old_v1);

  write(tmp_.path() / "src/bad/kernel-status.toml", "destination = \"acme/relu\"\n");
  publish(*hub_, "acme/bad", "main", "bad");
  write(tmp_.path() / "src/bad-v1/build/torch-cpu/__init__.py", "bad\n");
  std::string bad_v1 = publish(*hub_, "acme/bad", "v1", "bad-v1");
  auto bad = lock::lock_dependencies(*hub_, {{"acme/bad", 1}});
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].repo_id, "acme/bad");
  EXPECT_EQ(bad[0].sha, bad_v1);
}

TEST_F(LockHubTest, DownloadsTheVariantForThisSystemAndVerifiesIt) {
  publish_relu(*hub_);
  lock::lock_project(*hub_, project("\"acme/relu\" = 1\n"), legacy_format());
  std::vector<lock::KernelLock> locks = lock::read_project_lock(tmp_.path() / "project");
  auto got = lock::download_locked(*hub_, locks[0], options());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].variant, "torch-cpu");
  EXPECT_EQ(got[0].dir, snapshot(v1_) / "build/torch-cpu");
  EXPECT_EQ(read(got[0].dir / "sub/data.txt"), "data of cpu");
  EXPECT_FALSE(fs::exists(snapshot(v1_) / "build/torch-universal"));
  EXPECT_EQ(lock::scan_variant_dir(got[0].dir).hash(), locks[0].find("torch-cpu")->hash);
  EXPECT_EQ(error_of([&] { lock::read_project_lock(tmp_.path() / "src"); }),
            "No kernels.lock file found in: " + (tmp_.path() / "src").string());
}

TEST_F(LockHubTest, ATamperedCachedFileIsDetectedAndRemovedThenFetchedAgain) {
  publish_relu(*hub_);
  lock::KernelLock locked = lock::lock_dependency(*hub_, {"acme/relu", 1});
  fs::path dir = lock::download_locked(*hub_, locked, options())[0].dir;
  fs::path blob = fs::canonical(dir / "__init__.py");
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  write(blob, "import os; os.system('evil')\n");

  // Offline nothing can be fetched again: the altered copy is named and removed.
  std::string m = error_of([&] { lock::download_locked(*hub_, locked, options(false, true)); });
  EXPECT_TRUE(contains(m, "variant torch-cpu of acme/relu")) << m;
  EXPECT_TRUE(contains(m, "__init__.py: content does not match the hub's git-sha1 " +
                              git_blob_sha1_hex("BACKEND = 'cpu'\n"))) << m;
  EXPECT_FALSE(fs::exists(dir)) << "the unverified variant stays in the cache";
  EXPECT_FALSE(fs::exists(blob)) << "the corrupt blob stays in the cache";

  auto again = lock::download_locked(*hub_, locked, options());
  EXPECT_EQ(read(again[0].dir / "__init__.py"), "BACKEND = 'cpu'\n");

  // Online, one download replaces an altered copy with the hub's.
  fs::path blob2 = fs::canonical(again[0].dir / "__init__.py");
  fs::permissions(blob2, fs::perms::owner_write, fs::perm_options::add);
  write(blob2, "tampered\n");
  auto repaired = lock::download_locked(*hub_, locked, options());
  EXPECT_EQ(read(repaired[0].dir / "__init__.py"), "BACKEND = 'cpu'\n");
}

TEST_F(LockHubTest, ALockHashTheHubDoesNotMatchLeavesNothingInTheCache) {
  publish_relu(*hub_);
  lock::KernelLock locked = lock::lock_dependency(*hub_, {"acme/relu", 1});
  for (auto& [_, v] : locked.variants) v.hash = "sha256-" + std::string(64, 'f');

  std::string m = error_of([&] { lock::download_locked(*hub_, locked, options()); });
  EXPECT_TRUE(contains(m, "Lock file specifies kernel with hash sha256-fff")) << m;
  EXPECT_FALSE(fs::exists(snapshot(v1_) / "build/torch-cpu"));

  fs::remove_all(tmp_.path() / "cache");
  m = error_of([&] { lock::download_locked(*hub_, locked, options(true)); });
  EXPECT_TRUE(contains(m, "but the hub's files hash to: " + expected_hash("torch-cpu"))) << m;
  EXPECT_TRUE(contains(m, "nothing was downloaded")) << m;
  EXPECT_FALSE(fs::exists(snapshot(v1_)));
}

TEST_F(LockHubTest, AllVariantsFetchesExactlyTheLockedOnes) {
  publish_relu(*hub_);
  lock::KernelLock locked = lock::lock_dependency(*hub_, {"acme/relu", 1});
  auto got = lock::download_locked(*hub_, locked, options(true));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].variant, "torch-cpu");
  EXPECT_EQ(got[1].variant, "torch-universal");
  EXPECT_EQ(read(got[1].dir / "__init__.py"), "BACKEND = 'universal'\n");
  EXPECT_FALSE(fs::exists(got[0].dir / "__pycache__"));
  EXPECT_FALSE(fs::exists(snapshot(v1_) / "build/tvm-ffi01-cpu-x86_64-linux"));

  // Offline, the cached copies are checked without the hub.
  lock::DownloadOptions offline = options(true);
  offline.local_files_only = true;
  auto nohub = hub::open_local_hub(tmp_.path() / "nowhere");
  EXPECT_EQ(lock::download_locked(*nohub, locked, offline).size(), 2u);
}

TEST_F(LockHubTest, AStructuredEntryDownloadsTheCommitsVariantsVerifiedByTheHubsHashes) {
  publish_relu(*hub_);
  lock::KernelLock pinned = lock::parse_lock_file(R"([{"dependency": {"repo-id": "acme/relu", "version": 1},
                                                       "lock": {"commit": ")" + v1_ + R"("}}])")[0];
  auto got = lock::download_locked(*hub_, pinned, options());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].variant, "torch-cpu");
  EXPECT_EQ(got[0].dir, snapshot(v1_) / "build/torch-cpu");
  EXPECT_EQ(read(got[0].dir / "sub/data.txt"), "data of cpu");

  // Every variant of the commit, then offline from the cache alone.
  auto all = lock::download_locked(*hub_, pinned, options(true));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].variant, "torch-cpu");
  EXPECT_EQ(all[1].variant, "torch-universal");
  EXPECT_EQ(all[2].variant, "tvm-ffi01-cpu-x86_64-linux");
  auto nohub = hub::open_local_hub(tmp_.path() / "nowhere");
  EXPECT_EQ(lock::download_locked(*nohub, pinned, options(true, true)).size(), 3u);
  EXPECT_EQ(lock::download_locked(*nohub, pinned, options(false, true))[0].variant, "torch-cpu");

  // A commit that is not in the cache, offline: named.
  lock::KernelLock elsewhere = pinned;
  elsewhere.sha = std::string(40, 'e');
  EXPECT_TRUE(kb::testing::contains(
      kb::testing::error_of([&] { lock::download_locked(*nohub, elsewhere, options(true, true)); }),
      "Cannot find a local snapshot for acme/relu (revision: " + elsewhere.sha + ")"));
}

TEST_F(LockHubTest, ALockedVariantTheHubNoLongerHasFailsBeforeDownloading) {
  publish_relu(*hub_);
  lock::KernelLock locked = lock::lock_dependency(*hub_, {"acme/relu", 1});
  locked.variants.push_back({"torch99-cxx11-cpu-x86_64-linux", {"sha256-" + std::string(64, '1')}});
  std::string m = error_of([&] { lock::download_locked(*hub_, locked, options(true)); });
  EXPECT_EQ(m, "Variant torch99-cxx11-cpu-x86_64-linux not found in acme/relu (revision: " + v1_ + ")");
  EXPECT_FALSE(fs::exists(snapshot(v1_)));

  // The variant this system would load is not the one locked.
  lock::KernelLock universal_only = lock::lock_dependency(*hub_, {"acme/relu", 1});
  universal_only.variants.erase(universal_only.variants.begin());
  m = error_of([&] { lock::download_locked(*hub_, universal_only, options()); });
  EXPECT_TRUE(contains(m, "variant torch-cpu of acme/relu, the one for this environment")) << m;
  EXPECT_TRUE(contains(m, "is not locked in kernels.lock (locked: torch-universal)")) << m;
  EXPECT_FALSE(fs::exists(snapshot(v1_) / "build/torch-cpu"));

  // A commit the hub does not have (history rewritten).
  lock::KernelLock gone = locked;
  gone.sha = std::string(40, '7');
  m = error_of([&] { lock::download_locked(*hub_, gone, options()); });
  EXPECT_TRUE(contains(m, "acme/relu")) << m;
  EXPECT_FALSE(fs::exists(snapshot(gone.sha)));

  // Variant names from the file never reach outside the snapshot.
  lock::KernelLock hostile = locked;
  hostile.variants.push_back({"..", {"sha256-00"}});
  EXPECT_TRUE(contains(error_of([&] { lock::download_locked(*hub_, hostile, options(true)); }), "refusing unsafe path"));
}

TEST_F(LockHubTest, LocksAndDownloadsThroughAGitHubOverFileUrls) {
  std::string url = "file://" + (tmp_.path() / "server").string();
  auto writer = hub::open_git_hub(url, tmp_.path() / "mirrors/writer");
  publish_relu(*writer);
  auto reader = hub::open_git_hub(url, tmp_.path() / "mirrors/reader");
  lock::ProjectLock result = lock::lock_project(*reader, project("\"acme/relu\" = 1\n"), legacy_format());
  ASSERT_EQ(result.locks.size(), 1u);
  EXPECT_EQ(result.locks[0].sha, v1_);
  EXPECT_EQ(result.locks[0].find("torch-cpu")->hash, expected_hash("torch-cpu"));
  EXPECT_EQ(result.locks[0].find("torch-universal")->hash, expected_hash("torch-universal"));

  auto client = hub::open_git_hub(url, tmp_.path() / "mirrors/client");
  auto got = lock::download_locked(*client, lock::read_project_lock(tmp_.path() / "project")[0], options(true));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(read(got[0].dir / "metadata.json"), "{\"name\": \"relu\"}\n");
}

TEST(LockFile, TheStructuredFormatOfNewerKernelsIsRead) {
  std::string commit(40, 'a');
  std::string text = R"([{"dependency": {"repo-id": "acme/relu", "version": 1},
                         "lock": {"commit": "0123456789ABCDEF0123456789abcdef01234567"}},
                        {"dependency": {"repo-id": "acme/relu", "revision": "main"},
                         "lock": {"commit": ")" + std::string(64, 'b') + R"("}}])";
  std::vector<lock::KernelLock> locks = lock::parse_lock_file(text);
  ASSERT_EQ(locks.size(), 2u);
  EXPECT_EQ(locks[0].repo_id, "acme/relu");
  EXPECT_EQ(locks[0].sha, "0123456789abcdef0123456789abcdef01234567");  // stored lowercase
  EXPECT_EQ(locks[0].pin, (lock::Pin{1, std::nullopt}));
  EXPECT_TRUE(locks[0].variants.empty());
  EXPECT_EQ(locks[1].pin, (lock::Pin{std::nullopt, std::string("main")}));
  EXPECT_EQ(locks[1].sha, std::string(64, 'b'));
  EXPECT_EQ(lock::locked_revision(locks, "acme/relu"), locks[0].sha);  // the first entry of the repo
  EXPECT_TRUE(lock::parse_lock_file("[]").empty());
}

TEST(LockFile, StructuredEntriesAreCheckedKeyByKey) {
  auto error = [](const std::string& entry) {
    return kb::testing::error_of([&] { lock::parse_lock_file("[" + entry + "]", "kernels.lock"); });
  };
  const std::string commit = "\"commit\": \"" + std::string(40, 'c') + "\"";
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1}, "lock": {)" + commit + R"(}, "extra": 1})"),
            "kernels.lock: entry 0 (a/b): unknown key \"extra\" (expected \"dependency\", \"lock\")");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1, "branch": "x"}, "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0 (a/b): dependency: unknown key \"branch\" (expected \"repo-id\", \"version\", "
            "\"revision\")");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1}, "lock": {)" + commit + R"(, "hash": "x"}})"),
            "kernels.lock: entry 0 (a/b): lock: unknown key \"hash\" (expected \"commit\")");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1, "revision": "r"}, "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0 (a/b): dependency: `version` and `revision` are mutually exclusive");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b"}, "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0 (a/b): dependency: either `version` or `revision` must be specified");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": -1}, "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0 (a/b): dependency: key \"version\" must be a non-negative integer, not number");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1}, "lock": {"commit": "abc123"}})"),
            "kernels.lock: entry 0 (a/b): lock: Invalid git object id, expected 40 or 64 hexadecimal digits: abc123");
  EXPECT_EQ(error(R"({"dependency": {"repo-id": "a/b", "version": 1}, "lock": {"commit": ")" + std::string(40, 'g') +
                  "\"}}"),
            "kernels.lock: entry 0 (a/b): lock: Invalid git object id, expected 40 or 64 hexadecimal digits: " +
                std::string(40, 'g'));
  EXPECT_EQ(error(R"({"dependency": {"version": 1}, "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0: dependency: missing key \"repo-id\"");
  EXPECT_EQ(error(R"({"dependency": "a/b", "lock": {)" + commit + "}}"),
            "kernels.lock: entry 0: key \"dependency\" must be an object, not string");
  const std::string entry = R"({"dependency": {"repo-id": "a/b", "version": 1}, "lock": {)" + commit + "}}";
  EXPECT_EQ(error(entry + "," + entry), "kernels.lock: entry 1 (a/b): duplicate dependency: a/b version 1 is locked twice");
  EXPECT_EQ(error(entry + R"(, {"repo_id": "a/c", "sha": "x", "variants": {}})"),
            "kernels.lock: entry 1: mixes the formats: this entry is legacy, the first one is not");
}

TEST(LockFile, TheStructuredFormatIsWrittenAsKernels019WritesIt) {
  const std::string c1(40, '1'), c2(40, '2'), c3(40, '3'), c4(64, '4');
  std::vector<lock::KernelLock> locks = {
      {"kernels-test/versions", c1, {}, lock::Pin{std::nullopt, std::string("main")}},
      {"kernels-test/versions", c2, {}, lock::Pin{10, std::nullopt}},
      {"kernels-community/relu", c3, {}, lock::Pin{1, std::nullopt}},
      {"kernels-test/versions", c4, {}, lock::Pin{2, std::nullopt}},
  };
  // Sorted by repo id, then versions numerically before revisions; serde_json's
  // pretty printer: two-space indent, no trailing newline.
  std::string expected = "[\n"
                         "  {\n"
                         "    \"dependency\": {\n"
                         "      \"repo-id\": \"kernels-community/relu\",\n"
                         "      \"version\": 1\n"
                         "    },\n"
                         "    \"lock\": {\n"
                         "      \"commit\": \"" + c3 + "\"\n"
                         "    }\n"
                         "  },\n"
                         "  {\n"
                         "    \"dependency\": {\n"
                         "      \"repo-id\": \"kernels-test/versions\",\n"
                         "      \"version\": 2\n"
                         "    },\n"
                         "    \"lock\": {\n"
                         "      \"commit\": \"" + c4 + "\"\n"
                         "    }\n"
                         "  },\n"
                         "  {\n"
                         "    \"dependency\": {\n"
                         "      \"repo-id\": \"kernels-test/versions\",\n"
                         "      \"version\": 10\n"
                         "    },\n"
                         "    \"lock\": {\n"
                         "      \"commit\": \"" + c2 + "\"\n"
                         "    }\n"
                         "  },\n"
                         "  {\n"
                         "    \"dependency\": {\n"
                         "      \"repo-id\": \"kernels-test/versions\",\n"
                         "      \"revision\": \"main\"\n"
                         "    },\n"
                         "    \"lock\": {\n"
                         "      \"commit\": \"" + c1 + "\"\n"
                         "    }\n"
                         "  }\n"
                         "]";
  std::string text = lock::format_structured_lock_file(locks);
  EXPECT_EQ(text, expected);
  EXPECT_EQ(lock::format_structured_lock_file({}), "[]");
  // And it reads back as written.
  std::vector<lock::KernelLock> back = lock::parse_lock_file(text);
  ASSERT_EQ(back.size(), 4u);
  EXPECT_EQ(back[0], locks[2]);
  EXPECT_EQ(back[3], locks[0]);
  lock::KernelLock legacy{"a/b", c1, {}, std::nullopt};
  EXPECT_TRUE(kb::testing::contains(
      kb::testing::error_of([&] { lock::format_structured_lock_file({legacy}); }), "a/b"));
}
