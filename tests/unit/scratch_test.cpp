// The scratch directory of a kernel (pipeline/scratch.h): where it is, that
// it is per kernel directory, and that the kernel name cannot steer it.
#include "libkb/pipeline/scratch.h"

#include <gtest/gtest.h>

#include <string>

#include "libkb/util/fs.h"
#include "libkb/util/hash.h"
#include "tests/unit/support.h"

using namespace kb;
using namespace kb::pipeline;
using kb::testing::ScopedEnv;

namespace {

struct TempDir {
  TempDir() : guard_(make_temp_dir(fs::temp_directory_path(), "kb-scratch-test")) {}
  fs::path path() const { return fs::canonical(guard_.path()); }

 private:
  TempDirGuard guard_;
};

std::string digest12(const fs::path& p) { return to_hex(sha256_bytes(p.string())).substr(0, 12); }

}  // namespace

TEST(ScratchDir, UnderKbScratchDirWhenSet) {
  TempDir dir;
  fs::create_directories(dir.path() / "relu");
  ScopedEnv scratch("KB_SCRATCH_DIR", (dir.path() / "s").string());
  ScopedEnv xdg("XDG_CACHE_HOME", "/elsewhere/cache");
  EXPECT_EQ(scratch_root(), dir.path() / "s");
  EXPECT_EQ(scratch_dir(dir.path() / "relu", "relu"), dir.path() / "s" / ("relu-" + digest12(dir.path() / "relu")));
}

TEST(ScratchDir, UnderTheXdgCacheElseHomeCache) {
  TempDir dir;
  ScopedEnv scratch("KB_SCRATCH_DIR", std::nullopt);
  {
    ScopedEnv xdg("XDG_CACHE_HOME", (dir.path() / "xdg").string());
    EXPECT_EQ(scratch_root(), dir.path() / "xdg/kb/scratch");
    EXPECT_EQ(scratch_dir(dir.path(), "relu").parent_path(), dir.path() / "xdg/kb/scratch");
  }
  ScopedEnv xdg("XDG_CACHE_HOME", "");
  ScopedEnv home("HOME", (dir.path() / "home").string());
  EXPECT_EQ(scratch_root(), dir.path() / "home/.cache/kb/scratch");
}

TEST(ScratchDir, IsTheSameForEverySpellingOfOneKernelDir) {
  TempDir dir;
  fs::create_directories(dir.path() / "a/relu");
  fs::create_symlink(dir.path() / "a", dir.path() / "link");
  ScopedEnv scratch("KB_SCRATCH_DIR", (dir.path() / "s").string());
  fs::path expected = scratch_dir(dir.path() / "a/relu", "relu");
  EXPECT_EQ(scratch_dir(dir.path() / "a/relu/", "relu"), expected);
  EXPECT_EQ(scratch_dir(dir.path() / "a/./relu/../relu", "relu"), expected);
  EXPECT_EQ(scratch_dir(dir.path() / "link/relu", "relu"), expected);
  // A relative path is resolved against the working directory.
  fs::path cwd = fs::current_path();
  fs::current_path(dir.path() / "a");
  fs::path relative = scratch_dir("relu", "relu");
  fs::current_path(cwd);
  EXPECT_EQ(relative, expected);
}

TEST(ScratchDir, DistinctKernelDirsGetDistinctDirs) {
  TempDir dir;
  for (const char* d : {"one/relu", "two/relu"}) fs::create_directories(dir.path() / d);
  ScopedEnv scratch("KB_SCRATCH_DIR", (dir.path() / "s").string());
  fs::path one = scratch_dir(dir.path() / "one/relu", "relu");
  fs::path two = scratch_dir(dir.path() / "two/relu", "relu");
  EXPECT_NE(one, two);
  EXPECT_EQ(one.filename().string().rfind("relu-", 0), 0u);
  EXPECT_EQ(two.filename().string().rfind("relu-", 0), 0u);
  EXPECT_EQ(one.filename().string().size(), std::string("relu-").size() + 12);
}

TEST(ScratchDir, KernelNameIsSanitisedToOneDirectoryName) {
  TempDir dir;
  ScopedEnv scratch("KB_SCRATCH_DIR", (dir.path() / "s").string());
  const std::string hash = "-" + digest12(dir.path());
  auto name_of = [&](std::string_view kernel_name) { return scratch_dir(dir.path(), kernel_name).filename().string(); };
  EXPECT_EQ(name_of("flash-attn_2.v3"), "flash-attn_2.v3" + hash);
  EXPECT_EQ(name_of("../../etc"), ".._.._etc" + hash);
  EXPECT_EQ(name_of("a/b c\\d\n"), "a_b_c_d_" + hash);
  EXPECT_EQ(name_of(""), "kernel" + hash);
  EXPECT_EQ(name_of(".."), "kernel" + hash);
  EXPECT_EQ(name_of(std::string(200, 'k')), std::string(64, 'k') + hash);
  // Whatever the name, the directory is one level below the root.
  for (const char* n : {"../../etc", "/abs", "..", "a/../../b"})
    EXPECT_EQ(scratch_dir(dir.path(), n).parent_path(), dir.path() / "s") << n;
}

TEST(ScratchDir, ProjectAndCmakeDirsAreInside) {
  EXPECT_EQ(scratch_project_dir("/s/relu-0123456789ab"), fs::path("/s/relu-0123456789ab/project"));
  EXPECT_EQ(scratch_cmake_dir("/s/relu-0123456789ab", "torch-cpu"), fs::path("/s/relu-0123456789ab/cmake/torch-cpu"));
}
