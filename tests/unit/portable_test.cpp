// Portable linking (libkb/portable): the pinning plan on made-up symbol
// tables, and kb-link's whole job on shared objects compiled here with the
// system g++ and glibc, loaded back into this process to show they work.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "libkb/abi/policy.h"
#include "libkb/abi/symbols.h"
#include "libkb/portable/link.h"
#include "libkb/portable/pinning.h"
#include "libkb/portable/target.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"
#include "tests/unit/support.h"

namespace kb::portable {
namespace {

using kb::testing::contains;
using kb::testing::error_of;

abi::ManylinuxPolicy policy_228() { return abi::ManylinuxPolicy::load("manylinux_2_28", "x86_64"); }

TEST(PortablePinning, BindsToTheNewestVersionThePolicyAllows) {
  Definitions libc = {{"pthread_once", {{"GLIBC_2.2.5", false, true}, {"GLIBC_2.34", true, true}}},
                      {"memcpy", {{"GLIBC_2.2.5", false, true}, {"GLIBC_2.14", true, true}}},
                      {"exp", {{"GLIBC_2.2.5", false, true}, {"GLIBC_2.27", false, true}, {"GLIBC_2.29", true, true}}}};
  PinPlan plan = plan_pins({"exp@GLIBC_2.29", "memcpy@GLIBC_2.14", "pthread_once@GLIBC_2.34", "plain", "x@libcudart.so.13"},
                           policy_228(), [&](const std::string&) { return &libc; });
  // memcpy@GLIBC_2.14 is allowed and left alone; exp takes 2.27 over 2.2.5.
  ASSERT_EQ(plan.pins.size(), 2u);
  EXPECT_EQ(plan.pins[0], (Pin{"exp", "GLIBC_2.29", "GLIBC_2.27"}));
  EXPECT_EQ(plan.pins[1], (Pin{"pthread_once", "GLIBC_2.34", "GLIBC_2.2.5"}));
  EXPECT_TRUE(plan.unpinnable.empty());
}

TEST(PortablePinning, DataNewSymbolsAndUnknownLibrariesCannotBePinned) {
  Definitions libc = {{"pidfd_open", {{"GLIBC_2.36", true, true}}},
                      {"environ_like", {{"GLIBC_2.2.5", false, false}, {"GLIBC_2.34", true, false}}}};
  PinPlan plan = plan_pins({"pidfd_open@GLIBC_2.36", "environ_like@GLIBC_2.34", "other@GLIBC_2.35"}, policy_228(),
                           [&](const std::string& version) { return version == "GLIBC_2.35" ? nullptr : &libc; });
  EXPECT_TRUE(plan.pins.empty());
  ASSERT_EQ(plan.unpinnable.size(), 3u);
  EXPECT_EQ(plan.unpinnable[0].reference, "pidfd_open@GLIBC_2.36");
  EXPECT_TRUE(contains(plan.unpinnable[0].reason, "oldest is GLIBC_2.36")) << plan.unpinnable[0].reason;
  EXPECT_TRUE(contains(plan.unpinnable[1].reason, "data")) << plan.unpinnable[1].reason;
  EXPECT_TRUE(contains(plan.unpinnable[2].reason, "was not found")) << plan.unpinnable[2].reason;
}

TEST(PortablePinning, TrampolinesBindEachPinnedSymbolToItsVersion) {
  std::string text = trampolines_assembly({{"exp", "GLIBC_2.29", "GLIBC_2.2.5"}}, "x86_64");
  EXPECT_TRUE(contains(text, ".hidden __wrap_exp")) << text;
  EXPECT_TRUE(contains(text, "jmp kb_pinned_exp@PLT")) << text;
  EXPECT_TRUE(contains(text, ".symver kb_pinned_exp, exp@GLIBC_2.2.5")) << text;
  EXPECT_TRUE(contains(trampolines_assembly({{"exp", "GLIBC_2.29", "GLIBC_2.17"}}, "aarch64"), "b kb_pinned_exp"));
  EXPECT_TRUE(contains(error_of([] { trampolines_assembly({}, "riscv64"); }), "riscv64"));
}

TEST(PortableTarget, NativeOrAKnownPolicy) {
  EXPECT_EQ(parse_target("native"), "native");
  EXPECT_EQ(parse_target("manylinux_2_34"), "manylinux_2_34");
  std::string e = error_of([] { parse_target("manylinux_2_99"); });
  EXPECT_TRUE(contains(e, "--target manylinux_2_99")) << e;
  EXPECT_TRUE(contains(e, "native")) << e;
  EXPECT_TRUE(contains(e, "manylinux_2_28")) << e;
  EXPECT_TRUE(is_portable("manylinux_2_28"));
  EXPECT_FALSE(is_portable("native"));
  EXPECT_FALSE(is_portable(""));
}

TEST(PortablePolicy, LibraryWhitelistComesWithTheTable) {
  abi::ManylinuxPolicy p = policy_228();
  for (const char* lib : {"libc.so.6", "libm.so.6", "libpthread.so.0", "libgcc_s.so.1", "libstdc++.so.6"})
    EXPECT_TRUE(p.allows_library(lib)) << lib;
  EXPECT_TRUE(p.allows_library("ld-linux-x86-64.so.2"));
  EXPECT_FALSE(p.allows_library("libgomp.so.1"));
  EXPECT_FALSE(p.allows_library("libcurl.so.4"));
}

// --- real objects --------------------------------------------------------------

class PortableLink : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDirGuard>(make_temp_dir(KB_BINARY_DIR, "portable-test"));
    cache_ = dir_->path() / "cache";
  }
  fs::path path(const std::string& name) const { return dir_->path() / name; }
  fs::path compile(const std::string& name, const std::string& source, const std::string& language = "c++") {
    write_file_atomic(path(name), source);
    fs::path object = path(name + ".o");
    std::vector<std::string> argv = {"g++", "-x", language, language == "c++" ? "-std=c++20" : "-std=gnu11", "-O2",
                                     "-fPIC", "-c", path(name).string(), "-o", object.string()};
    ProcessResult r = run_process({.argv = argv});
    EXPECT_TRUE(r.ok()) << r.err;
    return object;
  }
  int link(const std::vector<std::string>& inputs, const fs::path& out, std::string* messages,
           std::vector<fs::path> provided = {}) {
    LinkRequest request;
    request.cache_dir = cache_;
    request.provided = std::move(provided);
    request.command = {"g++", "-shared", "-o", out.string()};
    request.command.insert(request.command.end(), inputs.begin(), inputs.end());
    std::ostringstream err;
    int code = link_portable(request, err);
    *messages = err.str();
    return code;
  }
  std::unique_ptr<TempDirGuard> dir_;
  fs::path cache_;
};

// A library that, linked plainly here, needs GLIBCXX_3.4.29 (to_chars),
// GLIBC_2.29 (exp), GLIBC_2.34 (pthread_once via call_once), GLIBC_2.36
// (arc4random), GLIBC_2.33 (stat via std::filesystem) and GLIBC_2.32
// (__libc_single_threaded via shared_ptr).
constexpr const char* kModernLibrary = R"(
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
extern "C" int format_double(double v, char* out) {
  auto r = std::to_chars(out, out + 63, v);
  *r.ptr = 0;
  return int(r.ptr - out);
}
extern "C" double growth(double x) { return std::exp(x) + std::pow(x, 1.5) + std::log1p(x); }
extern "C" int once_count() {
  static std::once_flag flag;
  static int calls = 0;
  for (int i = 0; i < 3; ++i) std::call_once(flag, [] { ++calls; });
  return calls;
}
extern "C" unsigned random_below(unsigned n) { return arc4random_uniform(n); }
extern "C" long directory_entries(const char* dir) {
  long n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}
extern "C" long shared_use() { auto p = std::make_shared<std::string>("abc"); auto q = p; return p.use_count(); }
extern "C" int throws_and_catches() {
  try { throw std::runtime_error("inside"); } catch (const std::exception& e) { return std::string(e.what()) == "inside"; }
  return 0;
}
)";

TEST_F(PortableLink, ModernLibraryNeedsOnlyOldVersionsAndStillWorks) {
  fs::path object = compile("modern.cpp", kModernLibrary);
  // Linked plainly it is not portable (the baseline the link must change).
  fs::path plain = path("plain.so");
  ASSERT_TRUE(run_process({.argv = {"g++", "-shared", "-o", plain.string(), object.string()}}).ok());
  EXPECT_FALSE(abi::check_manylinux(abi::read_object(plain).undefined, policy_228()).empty());

  fs::path out = path("modern.so");
  std::string messages;
  ASSERT_EQ(link({object.string()}, out, &messages), 0) << messages;
  abi::ObjectInfo info = abi::read_object(out);
  EXPECT_TRUE(abi::check_manylinux(info.undefined, policy_228()).empty()) << join(info.undefined, "\n");
  // Only operator new/delete come from the shared libstdc++ (at their first
  // versions): memory allocated here may be freed by torch and the reverse.
  for (const std::string& s : info.undefined) {
    if (!contains(s, "GLIBCXX") && !contains(s, "CXXABI")) continue;
    EXPECT_TRUE(starts_with(s, "_Znw") || starts_with(s, "_Zna") || starts_with(s, "_Zdl") ||
                starts_with(s, "_Zda") || starts_with(s, "__cxa_pure_virtual@"))
        << s;
  }
  EXPECT_NE(std::find(info.undefined.begin(), info.undefined.end(), "_Znwm@GLIBCXX_3.4"), info.undefined.end());
  EXPECT_NE(std::find(info.undefined.begin(), info.undefined.end(), "_ZdlPvm@CXXABI_1.3.9"), info.undefined.end());
  abi::DynamicDependencies deps = abi::read_dynamic_dependencies(out);
  for (const std::string& needed : deps.needed) EXPECT_TRUE(policy_228().allows_library(needed)) << needed;
  EXPECT_TRUE(contains(messages, "pthread_once@GLIBC_2.2.5")) << messages;

  void* handle = ::dlopen(out.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  char buffer[64];
  auto format = reinterpret_cast<int (*)(double, char*)>(::dlsym(handle, "format_double"));
  ASSERT_EQ(format(0.1, buffer), 3);
  EXPECT_STREQ(buffer, "0.1");
  auto growth = reinterpret_cast<double (*)(double)>(::dlsym(handle, "growth"));
  EXPECT_NEAR(growth(1.0), std::exp(1.0) + 1.0 + std::log1p(1.0), 1e-12);
  EXPECT_EQ(reinterpret_cast<int (*)()>(::dlsym(handle, "once_count"))(), 1);
  auto random_below = reinterpret_cast<unsigned (*)(unsigned)>(::dlsym(handle, "random_below"));
  for (int i = 0; i < 100; ++i) EXPECT_LT(random_below(7), 7u);
  write_file_atomic(path("listing/a"), "1");
  write_file_atomic(path("listing/b"), "2");
  EXPECT_EQ(reinterpret_cast<long (*)(const char*)>(::dlsym(handle, "directory_entries"))(path("listing").c_str()), 2);
  EXPECT_EQ(reinterpret_cast<long (*)()>(::dlsym(handle, "shared_use"))(), 2);
  EXPECT_EQ(reinterpret_cast<int (*)()>(::dlsym(handle, "throws_and_catches"))(), 1);
  // The private libstdc++ is not exported to the process: a lookup through
  // the library finds the shared libstdc++'s, never one inside it.
  if (void* init = ::dlsym(handle, "_ZNSt8ios_base4InitC1Ev")) {
    Dl_info where{};
    ASSERT_NE(::dladdr(init, &where), 0);
    EXPECT_NE(fs::path(where.dli_fname).filename(), out.filename()) << where.dli_fname;
  }
  // Left loaded, as torch leaves kernels: the private libstdc++ keeps its
  // exception emergency pool for the process's lifetime.

  // The shim is compiled once and reused.
  std::vector<std::string> cached = list_files(cache_);
  ASSERT_EQ(cached.size(), 2u);
  EXPECT_TRUE(ends_with(cached[0], "/allocators.o"));
  EXPECT_TRUE(ends_with(cached[1], "/shim.o"));
  ASSERT_EQ(link({object.string()}, path("again.so"), &messages), 0) << messages;
  EXPECT_EQ(list_files(cache_), cached);
  // Nothing of the link's scratch directories ends up in the result.
  EXPECT_TRUE(read_file(out) == read_file(path("again.so"))) << "two links of the same objects differ";
}

TEST_F(PortableLink, SymbolWithoutAnOldVersionFailsNamingItsObject) {
  fs::path object = compile("pidfd.c",
                            "#define _GNU_SOURCE\n#include <sys/syscall.h>\n#include <unistd.h>\n"
                            "extern int pidfd_open(int, unsigned);\n"
                            "int open_self(void) { return pidfd_open(getpid(), 0); }\n",
                            "c");
  fs::path out = path("pidfd.so");
  std::string messages;
  EXPECT_EQ(link({object.string()}, out, &messages), 1);
  EXPECT_FALSE(fs::exists(out)) << "a failed portable link leaves no output";
  EXPECT_TRUE(contains(messages, "pidfd_open@GLIBC_2.")) << messages;
  EXPECT_TRUE(contains(messages, "needed by " + object.string())) << messages;
  EXPECT_TRUE(contains(messages, "--target native")) << messages;
  EXPECT_TRUE(contains(messages, "--allow-nonportable")) << messages;
}

TEST_F(PortableLink, LibraryOutsideThePolicyFailsUnlessTheFrameworkProvidesIt) {
  std::optional<fs::path> curl;
  for (const char* candidate : {"/usr/lib/x86_64-linux-gnu/libcurl.so", "/usr/lib/aarch64-linux-gnu/libcurl.so"})
    if (fs::exists(candidate)) curl = candidate;
  if (!curl) GTEST_SKIP() << "libcurl development library not installed";
  fs::path object = compile("curl.c", "extern void* curl_easy_init(void);\nvoid* make(void) { return curl_easy_init(); }\n",
                            "c");
  std::string messages;
  EXPECT_EQ(link({object.string(), curl->string()}, path("curl.so"), &messages), 1);
  EXPECT_TRUE(contains(messages, "libcurl.so.4")) << messages;
  EXPECT_TRUE(contains(messages, "linked from " + curl->string())) << messages;
  // Given as a library of the framework, it (and what it needs) may be needed.
  EXPECT_EQ(link({object.string(), curl->string()}, path("curl2.so"), &messages, {*curl}), 0) << messages;
}

TEST_F(PortableLink, NotASharedObjectLinkPassesThrough) {
  fs::path object = compile("main.c", "int main(void) { return 0; }\n", "c");
  LinkRequest request;
  request.cache_dir = cache_;
  request.command = {"g++", "-o", path("program").string(), object.string()};
  std::ostringstream err;
  EXPECT_EQ(link_portable(request, err), 0) << err.str();
  EXPECT_TRUE(fs::exists(path("program")));
  EXPECT_FALSE(fs::exists(cache_)) << "no shim is needed for a program";
}

TEST(PortableElf, DynamicDependenciesAndVersionDefinitionsOfRealLibraries) {
  ProcessResult where = run_process({.argv = {"g++", "-print-file-name=libc.so.6"}});
  fs::path libc = trim(where.out);
  if (!fs::exists(libc)) GTEST_SKIP() << "libc.so.6 not found by g++";
  abi::DynamicDependencies deps = abi::read_dynamic_dependencies(libc);
  EXPECT_EQ(deps.soname, "libc.so.6");
  Definitions defs = abi::read_symbol_definitions(libc);
  ASSERT_TRUE(defs.count("pthread_once"));
  bool old_compat = false;
  for (const auto& d : defs["pthread_once"]) old_compat = old_compat || (d.version == "GLIBC_2.2.5" || d.version == "GLIBC_2.17");
  EXPECT_TRUE(old_compat) << "pthread_once keeps its first version";
  ASSERT_TRUE(defs.count("memcpy"));
  int defaults = 0;
  for (const auto& d : defs["memcpy"]) defaults += d.is_default ? 1 : 0;
  EXPECT_EQ(defaults, 1) << "exactly one default version per symbol";

  TempDirGuard dir(make_temp_dir(KB_BINARY_DIR, "elf-deps"));
  write_file_atomic(dir.path() / "garbage.so", "not an elf file at all, just text");
  EXPECT_TRUE(contains(error_of([&] { abi::read_dynamic_dependencies(dir.path() / "garbage.so"); }), "garbage.so"));
  EXPECT_TRUE(contains(error_of([&] { abi::read_symbol_definitions(dir.path() / "garbage.so"); }), "garbage.so"));
  std::string bytes = read_file(libc).substr(0, 200);  // header only: no dynamic segment inside
  write_file_atomic(dir.path() / "truncated.so", bytes);
  EXPECT_TRUE(contains(error_of([&] { abi::read_dynamic_dependencies(dir.path() / "truncated.so"); }), "truncated.so"));
}

}  // namespace
}  // namespace kb::portable
