#include <gtest/gtest.h>

#include <fstream>

#include "libkb/abi/verdict.h"
#include "libkb/hub/hub.h"
#include "libkb/publish/upload.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string metadata_json(int version, bool dirty) {
  std::string commit(40, 'a');
  return R"({"name": "relu", "id": "_relu_cpu_abc", "version": )" + std::to_string(version) +
         R"(, "license": "MIT", "python-depends": [], "backend": {"type": "cpu"},
            "provenance": {"kernel-builder": {"version": "kb 0.1.0", "commit": ")" +
         commit + R"(", "dirty": )" + (dirty ? "true" : "false") + "}}}";
}

class UploadTest : public ::testing::Test {
 protected:
  UploadTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-upload")), kernel_(tmp_.path() / "relu") {}

  void variant(const std::string& name, int version = 1, bool dirty = false) {
    write(kernel_ / "build" / name / "__init__.py", "from ._ops import ops\n");
    write(kernel_ / "build" / name / "__pycache__" / "x.cpython-311.pyc", "bytecode");
    write(kernel_ / "build" / name / "metadata.json", metadata_json(version, dirty));
  }

  std::vector<std::string> paths(const std::vector<hub::FileOperation>& ops) {
    std::vector<std::string> out;
    for (const auto& op : ops) out.push_back(op.path_in_repo);
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<std::string> remote_files(hub::Hub& h, const std::string& branch) {
    std::vector<std::string> out;
    for (const auto& e : h.list_tree("acme/relu", h.resolve_revision("acme/relu", branch), "", true))
      out.push_back(e.path);
    return out;
  }

  TempDirGuard tmp_;
  fs::path kernel_;
};

}  // namespace

TEST_F(UploadTest, PlanUploadsEveryVariantFileButBytecodeToTheVersionBranch) {
  variant("torch-cpu");
  variant("torch-cuda");
  write(kernel_ / "benchmarks" / "benchmark_relu.py", "# bench\n");
  write(kernel_ / "benchmarks" / "helper.py", "# not a benchmark\n");
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  EXPECT_EQ(plan.repo_id, "acme/relu");
  EXPECT_EQ(plan.branch, "v1");
  EXPECT_EQ(paths(plan.additions),
            (std::vector<std::string>{"benchmarks/benchmark_relu.py", "build/torch-cpu/__init__.py",
                                      "build/torch-cpu/metadata.json", "build/torch-cuda/__init__.py",
                                      "build/torch-cuda/metadata.json"}));
  EXPECT_TRUE(plan.warnings.empty());
}

TEST_F(UploadTest, RepoIdAndBranchComeFromBuildTomlAndVersionsMustAgree) {
  variant("torch-cpu", 2, /*dirty=*/true);
  EXPECT_TRUE(contains(error_of([&] {
                         publish::plan_upload({kernel_, std::nullopt, std::nullopt, false});
                       }),
                       "--repo-id is not provided"));
  write(kernel_ / "build.toml",
        "[general]\nname = \"relu\"\nlicense = \"MIT\"\nbackends = [\"cpu\"]\nversion = 2\nedition = 5\n"
        "[general.hub]\nrepo-id = \"acme/relu\"\n[torch-noarch]\n");
  auto plan = publish::plan_upload({kernel_, std::nullopt, std::nullopt, false});
  EXPECT_EQ(plan.repo_id, "acme/relu");
  EXPECT_EQ(plan.branch, "v2");
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_TRUE(contains(plan.warnings[0], "1 build variant(s) built from a dirty git tree: torch-cpu"));
  variant("torch-cuda", 3);
  EXPECT_EQ(error_of([&] {
              publish::plan_upload({kernel_, std::nullopt, std::nullopt, false});
            }),
            "Found multiple versions in build variants: 2, 3");
  EXPECT_EQ(publish::plan_upload({kernel_, std::nullopt, std::string("dev"), false}).branch, "dev");
}

TEST_F(UploadTest, NoVariantsIsAnError) {
  fs::create_directories(kernel_);
  EXPECT_TRUE(contains(error_of([&] {
                         publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
                       }),
                       "No build variants found"));
}

TEST_F(UploadTest, StaleFilesArePrunedOnlyWhereTheUploadOwnsThem) {
  variant("torch-cpu");
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  std::vector<hub::TreeEntry> remote = {
      {"README.md", false, 1, "x", {}},
      {"build/torch-cpu/__init__.py", false, 1, "x", {}},
      {"build/torch-cpu/old.so", false, 1, "x", {}},
      {"build/torch-rocm/__init__.py", false, 1, "x", {}},
      {"benchmarks/benchmark_old.py", false, 1, "x", {}},
      {"benchmarks/data.txt", false, 1, "x", {}},
  };
  EXPECT_EQ(paths(publish::stale_deletions(plan, remote, false)),
            (std::vector<std::string>{"benchmarks/benchmark_old.py", "build/torch-cpu/old.so"}));
  EXPECT_EQ(paths(publish::stale_deletions(plan, remote, true)),
            (std::vector<std::string>{"benchmarks/benchmark_old.py", "benchmarks/data.txt", "build/torch-cpu/old.so",
                                      "build/torch-rocm/__init__.py"}));
}

TEST_F(UploadTest, UploadToTheLocalHubThenRepublishIsANoOpAndRemovedFilesArePruned) {
  variant("torch-cpu");
  write(kernel_ / "build" / "torch-cpu" / "extra.txt", "soon gone");
  auto local = hub::open_local_hub(tmp_.path() / "hub");
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  auto first = publish::upload(*local, plan, "m");
  EXPECT_TRUE(first.changed);
  EXPECT_TRUE(first.new_branch);
  EXPECT_EQ(remote_files(*local, "v1"),
            (std::vector<std::string>{"build/torch-cpu/__init__.py", "build/torch-cpu/extra.txt",
                                      "build/torch-cpu/metadata.json"}));
  auto again = publish::upload(*local, plan, "m");
  EXPECT_FALSE(again.changed);
  EXPECT_FALSE(again.new_branch);
  fs::remove(kernel_ / "build" / "torch-cpu" / "extra.txt");
  auto pruned =
      publish::upload(*local, publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false}), "m");
  EXPECT_TRUE(pruned.changed);
  EXPECT_EQ(remote_files(*local, "v1"),
            (std::vector<std::string>{"build/torch-cpu/__init__.py", "build/torch-cpu/metadata.json"}));
}

TEST_F(UploadTest, TheRenderedCardNextToTheVariantsBecomesReadmeOnMain) {
  variant("torch-cpu");
  // The raw template at the kernel root is never published.
  write(kernel_ / "CARD.md", "# {{ repo_id }}\n");
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  EXPECT_FALSE(plan.card);
  auto local = hub::open_local_hub(tmp_.path() / "hub");
  auto without = publish::upload(*local, plan, "m");
  EXPECT_FALSE(without.readme_published);
  EXPECT_TRUE(remote_files(*local, "main").empty());

  write(kernel_ / "build" / "CARD.md", "# acme/relu\n");
  plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  ASSERT_TRUE(plan.card);
  EXPECT_EQ(*plan.card, kernel_ / "build" / "CARD.md");
  // The card is not a variant file of the version branch.
  for (const auto& op : plan.additions) EXPECT_NE(op.path_in_repo, "build/CARD.md");
  auto first = publish::upload(*local, plan, "m");
  EXPECT_TRUE(first.readme_published);
  EXPECT_TRUE(first.changed);
  EXPECT_FALSE(first.readme_commit.empty());
  EXPECT_EQ(first.readme_commit, local->resolve_revision("acme/relu", "main"));
  EXPECT_EQ(remote_files(*local, "main"), (std::vector<std::string>{"README.md"}));
  std::string readme;
  auto entries = local->list_tree("acme/relu", first.readme_commit, "", true);
  ASSERT_EQ(entries.size(), 1u);
  local->fetch_file("acme/relu", first.readme_commit, entries[0],
                    [&](const char* data, size_t n) { readme.append(data, n); });
  EXPECT_EQ(readme, "# acme/relu\n");
  EXPECT_EQ(remote_files(*local, "v1"),
            (std::vector<std::string>{"build/torch-cpu/__init__.py", "build/torch-cpu/metadata.json"}));

  // Unchanged card: no new commit on main, nothing changed at all.
  auto again = publish::upload(*local, plan, "m");
  EXPECT_FALSE(again.readme_published);
  EXPECT_FALSE(again.changed);
  EXPECT_EQ(local->resolve_revision("acme/relu", "main"), first.readme_commit);

  // An edited card alone is a change.
  write(kernel_ / "build" / "CARD.md", "# acme/relu, edited\n");
  auto edited =
      publish::upload(*local, publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false}), "m");
  EXPECT_TRUE(edited.readme_published);
  EXPECT_TRUE(edited.changed);
  EXPECT_NE(edited.readme_commit, first.readme_commit);
}

// A variant whose shared object needs pthread_create@GLIBC_2.34, beyond
// manylinux_2_28 and within manylinux_2_34.
fs::path glibc_2_34_variant(const fs::path& kernel, const fs::path& scratch) {
  fs::path dir = kernel / "build" / "torch210-cxx11-cpu-x86_64-linux";
  write(scratch / "k.c",
        "#include <pthread.h>\nstatic void* run(void* a) { return a; }\n"
        "int start(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }\n");
  ProcessResult r = run_process({.argv = {"gcc", "-shared", "-fPIC", "-o", (dir / "_relu_cpu_abc.abi3.so").string(),
                                          (scratch / "k.c").string()}});
  EXPECT_TRUE(r.ok()) << r.err;
  return dir;
}

TEST_F(UploadTest, NonPortableVariantsAreRefusedUnlessAllowed) {
  variant("torch210-cxx11-cpu-x86_64-linux");
  glibc_2_34_variant(kernel_, tmp_.path());
  std::string refused = error_of([&] {
    publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  });
  EXPECT_TRUE(contains(refused,
                       "refusing to publish non-portable variant(s):\n  torch210-cxx11-cpu-x86_64-linux (1 "
                       "symbol(s) beyond manylinux_2_28; checked against manylinux_2_28, abi3 3.9, macOS 15.0)"))
      << refused;
  EXPECT_TRUE(contains(refused, "--allow-nonportable"));
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, true});
  ASSERT_EQ(plan.variants.size(), 1u);
  EXPECT_FALSE(plan.variants[0].portable);
  EXPECT_TRUE(contains(plan.warnings.at(0), "publishing non-portable variant(s)"));
}

TEST_F(UploadTest, KbCheckabisVerdictDecidesWhileTheSharedObjectsAreUnchanged) {
  variant("torch210-cxx11-cpu-x86_64-linux");
  fs::path dir = glibc_2_34_variant(kernel_, tmp_.path());
  kb::abi::CheckOptions newer;
  newer.manylinux = "manylinux_2_34";
  kb::abi::record_verdict(kb::abi::check_variant(dir, newer), newer);
  // Recorded beside the variant, not in it: it is not published.
  EXPECT_TRUE(fs::is_regular_file(kernel_ / "build" / ".kb-abi" / "torch210-cxx11-cpu-x86_64-linux.json"));
  auto plan = publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
  ASSERT_EQ(plan.variants.size(), 1u);
  EXPECT_TRUE(plan.variants[0].portable);
  EXPECT_EQ(plan.variants[0].abi_policy, "manylinux_2_34, abi3 3.9, macOS 15.0");
  for (const auto& op : plan.additions)
    EXPECT_EQ(op.path_in_repo.find(".kb-abi"), std::string::npos) << op.path_in_repo;

  // A verdict against the default policy refuses the same objects.
  kb::abi::CheckOptions standard;
  kb::abi::record_verdict(kb::abi::check_variant(dir, standard), standard);
  EXPECT_TRUE(contains(error_of([&] {
                         publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
                       }),
                       "checked against manylinux_2_28"));

  // Objects changed since the verdict: it no longer counts, the variant is
  // checked afresh (here against the default policy).
  kb::abi::record_verdict(kb::abi::check_variant(dir, newer), newer);
  ASSERT_TRUE(kb::abi::current_verdict(dir));
  std::ofstream(dir / "_relu_cpu_abc.abi3.so", std::ios::app | std::ios::binary) << "trailing bytes";
  EXPECT_FALSE(kb::abi::current_verdict(dir));
  EXPECT_TRUE(contains(error_of([&] {
                         publish::plan_upload({kernel_, std::string("acme/relu"), std::nullopt, false});
                       }),
                       "checked against manylinux_2_28"));
  // An unreadable verdict is no verdict.
  write(kb::abi::verdict_path(dir), "{not json");
  EXPECT_FALSE(kb::abi::current_verdict(dir));
}

TEST(HubSelection, KbHubNamesTheHub) {
  kb::testing::ScopedEnv env("KB_HUB", std::string("local:/tmp/somewhere"));
  EXPECT_EQ(hub::open_hub()->describe(), "local hub at /tmp/somewhere");
  EXPECT_TRUE(contains(error_of([] { hub::open_hub(std::string("ftp:x")); }), "unknown KB_HUB value `ftp:x`"));
  kb::testing::ScopedEnv endpoint("HF_ENDPOINT", std::string("http://127.0.0.1:9/"));
  EXPECT_EQ(hub::open_hub(std::string("hf"))->describe(), "Hugging Face Hub at http://127.0.0.1:9");
}
