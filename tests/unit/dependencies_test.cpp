// Kernel dependency trees: located depth first, shared dependencies once,
// cycles named, through LOCAL_KERNELS as get_kernel finds them.
#include <gtest/gtest.h>

#include <fstream>

#include "libkb/load/load.h"
#include "libkb/util/fs.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

using namespace kb;
namespace fs = std::filesystem;
using kb::testing::ScopedEnv;
using load::ErrorKind;
using load::LoadError;

namespace {

resolve::Environment cpu_env() {
  resolve::TorchFacts t;
  t.version = "2.10.0";
  t.cxx11_abi = true;
  return resolve::make_environment("x86_64", "Linux", t);
}

std::string depends_json(const std::vector<std::string>& deps) {
  std::vector<std::string> items;
  for (const std::string& d : deps) items.push_back(R"({"repo-id": ")" + d + R"(", "version": 1})");
  return "[" + join(items, ", ") + "]";
}

class DependencyTreeTest : public ::testing::Test {
 protected:
  DependencyTreeTest() : tmp_(make_temp_dir(fs::temp_directory_path(), "kb-deps")) {}

  // A local kernel org/<name> (a universal variant) depending on `deps`.
  void kernel(const std::string& name, const std::vector<std::string>& deps) {
    fs::path dir = tmp_.path() / name / "build" / "torch-universal";
    write_file_atomic(dir / "__init__.py", "NAME = '" + name + "'\n");
    write_file_atomic(dir / "metadata.json",
                      R"({"name": ")" + name + R"(", "id": "_)" + name + R"(_universal_1234567", "version": 1,
                      "license": "MIT", "python-depends": [], "kernel-depends": )" +
                          depends_json(deps) + R"(, "backend": {"type": "cpu"}})");
    mapping_.push_back("org/" + name + "=" + (tmp_.path() / name).string());
  }

  load::Located locate(const std::string& name) {
    ScopedEnv local("LOCAL_KERNELS", join(mapping_, ":"));
    load::Context ctx = load::make_context(cpu_env(), config::Backend::Cpu);
    ctx.cache_root = tmp_.path() / "cache";
    return load::locate({"org/" + name, std::nullopt, 1, {}}, ctx);
  }

  std::pair<ErrorKind, std::string> failure(const std::string& name) {
    try {
      locate(name);
    } catch (const LoadError& e) {
      return {e.kind(), e.what()};
    }
    ADD_FAILURE() << "no LoadError";
    return {ErrorKind::NotFound, ""};
  }

  TempDirGuard tmp_;
  std::vector<std::string> mapping_;
  ScopedEnv no_offline_{"HF_HUB_OFFLINE", std::nullopt};
  ScopedEnv no_latest_{"UNSTABLE_KERNELS_ALL_LATEST", std::nullopt};
};

std::vector<std::string> names(const load::Located& located) {
  std::vector<std::string> out;
  for (const auto& dep : located.dependencies) out.push_back(dep.repo_id);
  return out;
}

}  // namespace

TEST_F(DependencyTreeTest, AThreeLevelTreeLocatesASharedDependencyOnce) {
  kernel("top", {"org/left", "org/right"});
  kernel("left", {"org/base"});
  kernel("right", {"org/base"});
  kernel("base", {});
  load::Located top = locate("top");
  EXPECT_EQ(top.metadata.name, "top");
  ASSERT_EQ(names(top), (std::vector<std::string>{"org/left", "org/right"}));
  const load::Located& b = *top.dependencies[0].located;
  const load::Located& c = *top.dependencies[1].located;
  ASSERT_EQ(names(b), std::vector<std::string>{"org/base"});
  ASSERT_EQ(names(c), std::vector<std::string>{"org/base"});
  // One Located for d, shared by both dependents.
  EXPECT_EQ(b.dependencies[0].located.get(), c.dependencies[0].located.get());
  EXPECT_EQ(b.dependencies[0].located->metadata.name, "base");
  EXPECT_TRUE(b.dependencies[0].located->dependencies.empty());
}

TEST_F(DependencyTreeTest, CyclesAreNamedFromWhereTheyStart) {
  kernel("top", {"org/left"});
  kernel("left", {"org/right"});
  kernel("right", {"org/left"});
  EXPECT_EQ(failure("top"), std::make_pair(ErrorKind::InvalidArgument,
                                         std::string("Cyclic kernel dependency detected: org/left -> org/right -> org/left")));
  kernel("self", {"org/self"});
  EXPECT_EQ(failure("self"), std::make_pair(ErrorKind::InvalidArgument,
                                            std::string("Cyclic kernel dependency detected: org/self -> org/self")));
}

TEST_F(DependencyTreeTest, AMissingOrInvalidDependencyIsNamed) {
  kernel("top", {"org/nowhere-mapped"});
  ScopedEnv hub("KB_HUB", "local:" + (tmp_.path() / "empty-hub").string());
  EXPECT_EQ(failure("top").second, "Repository not found: org/nowhere-mapped (local hub at " +
                                       (tmp_.path() / "empty-hub").string() + ")");
  kernel("bad", {"../escape"});
  auto [bad_kind, bad_message] = failure("bad");
  EXPECT_EQ(bad_kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(bad_message.starts_with("Kernel 'bad' has an invalid kernel dependency: ")) << bad_message;
}
