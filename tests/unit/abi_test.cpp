// The ABI checker: policy logic on symbol lists, and the whole checker on
// shared objects compiled here with the system gcc/g++ (and clang/lld for
// Mach-O when available).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "libkb/abi/checker.h"
#include "libkb/abi/policy.h"
#include "libkb/abi/symbols.h"
#include "libkb/util/error.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "libkb/util/strings.h"

using namespace kb;
using namespace kb::abi;

namespace {

std::vector<std::string> symbols_of(const std::vector<Violation>& violations, ViolationKind kind) {
  std::vector<std::string> out;
  for (const Violation& v : violations)
    if (v.kind == kind) out.push_back(v.symbol);
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

}  // namespace

// --- policy logic on plain symbol lists ---------------------------------------

TEST(AbiPolicy, Manylinux228X86IsVersionSetMembershipNotACeiling) {
  ManylinuxPolicy p = ManylinuxPolicy::load("manylinux_2_28", "x86_64");
  EXPECT_TRUE(p.allows("GLIBC", "2.2.5"));
  EXPECT_TRUE(p.allows("GLIBC", "2.18"));
  EXPECT_FALSE(p.allows("GLIBC", "2.19"));  // absent although below the 2.28 ceiling
  EXPECT_FALSE(p.allows("GLIBC", "2.20"));
  EXPECT_FALSE(p.allows("GLIBC", "2.21"));
  EXPECT_TRUE(p.allows("GLIBC", "2.22"));
  EXPECT_TRUE(p.allows("GLIBC", "2.28"));
  EXPECT_TRUE(p.allows("GLIBC", "2.28.0"));  // trailing zeros do not matter
  EXPECT_FALSE(p.allows("GLIBC", "2.29"));
  EXPECT_FALSE(p.allows("GLIBC", "2.0"));  // aarch64 only
  EXPECT_TRUE(p.allows("GLIBCXX", "3.4.24"));
  EXPECT_FALSE(p.allows("GLIBCXX", "3.4.25"));
  EXPECT_TRUE(p.allows("CXXABI", "1.3.11"));
  EXPECT_FALSE(p.allows("CXXABI", "1.3.12"));
  EXPECT_TRUE(p.allows("CXXABI", "TM_1"));
  EXPECT_TRUE(p.allows("CXXABI", "FLOAT128"));
  EXPECT_TRUE(p.allows("GCC", "7.0.0"));
  EXPECT_TRUE(p.allows("GCC", "7"));
  EXPECT_FALSE(p.allows("GCC", "4.5.0"));
  EXPECT_TRUE(p.allows("LIBATOMIC", "1.2"));
  EXPECT_FALSE(p.allows("LIBATOMIC", "1.3"));
  EXPECT_TRUE(p.allows("ZLIB", "1.2.9"));
  EXPECT_FALSE(p.allows("ZLIB", "1.2.11"));
  EXPECT_FALSE(p.governs("CUDA"));
}

TEST(AbiPolicy, Manylinux228GlibcSetsMatchThePolicyPerArch) {
  const std::vector<std::string> x86 = {"2.2.5", "2.2.6", "2.3", "2.3.2", "2.3.3", "2.3.4", "2.4", "2.5",
                                        "2.6",   "2.7",   "2.8", "2.9",   "2.10",  "2.11",  "2.12", "2.13",
                                        "2.14",  "2.15",  "2.16", "2.17", "2.18",  "2.22",  "2.23", "2.24",
                                        "2.25",  "2.26",  "2.27", "2.28"};
  const std::vector<std::string> arm = {"2.0", "2.17", "2.18", "2.22", "2.23", "2.24", "2.25", "2.26", "2.27", "2.28"};
  ManylinuxPolicy px = ManylinuxPolicy::load("manylinux_2_28", "x86_64");
  ManylinuxPolicy pa = ManylinuxPolicy::load("manylinux_2_28", "aarch64");
  for (int minor = 0; minor <= 40; ++minor) {
    for (std::string v : {"2." + std::to_string(minor), "2." + std::to_string(minor) + ".5"}) {
      EXPECT_EQ(px.allows("GLIBC", v), contains(x86, v)) << v;
      EXPECT_EQ(pa.allows("GLIBC", v), contains(arm, v)) << v;
    }
  }
  EXPECT_TRUE(pa.allows("CXXABI", "TM_1"));
  EXPECT_THROW(pa.allows("CXXABI", "FLOAT128"), Error);  // x86_64 only
  EXPECT_TRUE(pa.allows("GCC", "4.5.0"));
}

TEST(AbiPolicy, CheckManylinuxReportsOnlyGovernedVersionsOutsideTheSet) {
  ManylinuxPolicy p = ManylinuxPolicy::load("manylinux_2_28", "x86_64");
  std::vector<std::string> symbols = {"memcpy@GLIBC_2.14",         "stat@GLIBC_2.20",
                                      "__libc_single_threaded@GLIBC_2.32",
                                      "cudaMalloc@libcudart.so.12", "foo@LIBFOO_9.9",
                                      "PyLong_FromLong",           "_ZSt8to_charsPcS_d@GLIBCXX_3.4.29",
                                      "_ZdlPvm@CXXABI_1.3.9",       "bar@@GLIBC_2.34"};
  std::vector<Violation> v = check_manylinux(symbols, p);
  EXPECT_EQ(symbols_of(v, ViolationKind::Manylinux),
            (std::vector<std::string>{"stat@GLIBC_2.20", "__libc_single_threaded@GLIBC_2.32",
                                      "_ZSt8to_charsPcS_d@GLIBCXX_3.4.29", "bar@@GLIBC_2.34"}));
  EXPECT_EQ(v[1].detail, "GLIBC 2.32 is not allowed by manylinux_2_28 (x86_64)");
  EXPECT_TRUE(check_manylinux({"memcpy@GLIBC_2.14", "_ZdlPvm@CXXABI_1.3.9"}, p).empty());
  // A newer policy accepts what the older one rejects.
  EXPECT_TRUE(check_manylinux({"pthread_create@GLIBC_2.34"}, ManylinuxPolicy::load("manylinux_2_34", "x86_64"))
                  .empty());
}

TEST(AbiPolicy, NonNumericGovernedVersionIsAnErrorNamingTheSymbol) {
  ManylinuxPolicy p = ManylinuxPolicy::load("manylinux_2_28", "x86_64");
  std::string message = error_of([&] { check_manylinux({"memcpy@GLIBC_2.14", "__x@GLIBC_PRIVATE"}, p); });
  EXPECT_EQ(message,
            "symbol `__x@GLIBC_PRIVATE`: GLIBC version `PRIVATE` is neither numeric nor listed in manylinux_2_28");
  // Symbolic versions of dependencies the policy does not govern are ignored.
  EXPECT_TRUE(check_manylinux({"y@QT_PRIVATE_API"}, p).empty());
}

TEST(AbiPolicy, UnknownPolicyOrArchitectureIsAClearError) {
  std::string message = error_of([] { ManylinuxPolicy::load("manylinux2_28", "x86_64"); });
  EXPECT_NE(message.find("Unknown manylinux policy `manylinux2_28`"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean `manylinux_2_28`"), std::string::npos) << message;
  EXPECT_NE(message.find("known policies: manylinux_2_5, manylinux_2_12, manylinux_2_17"), std::string::npos)
      << message;
  EXPECT_EQ(error_of([] { ManylinuxPolicy::load("manylinux_2_5", "aarch64"); }),
            "manylinux_2_5 has no symbol versions for architecture aarch64 (it covers x86_64)");
  EXPECT_EQ(ManylinuxPolicy::known_names().front(), "manylinux_2_5");
}

TEST(AbiPolicy, PolicyTextFormatErrorsNameTheLine) {
  EXPECT_EQ(error_of([] { ManylinuxPolicy::parse("# c\nGLIBC 2.17\nGLIBC\n", "p", "x86_64", "t.txt"); }),
            "t.txt:3: expected `DEPENDENCY VERSION`, got `GLIBC`");
  EXPECT_EQ(error_of([] { ManylinuxPolicy::parse("# only comments\n", "p", "x86_64", "t.txt"); }),
            "t.txt: no symbol versions listed");
  EXPECT_EQ(error_of([] { PythonStableAbi::parse("Py_Foo three\n", "s.txt"); }),
            "s.txt:1: `three` is not a version");
  ManylinuxPolicy p = ManylinuxPolicy::parse("GLIBC 2.17\nGLIBC\t2.18.0\n", "p", "x86_64", "t.txt");
  EXPECT_TRUE(p.allows("GLIBC", "2.18"));
  EXPECT_FALSE(p.allows("GLIBC", "2.19"));
}

TEST(AbiPolicy, PythonStableAbiNewerAndNonAbi3) {
  const PythonStableAbi& table = PythonStableAbi::builtin();
  EXPECT_GT(table.size(), 900u);
  EXPECT_EQ(table.added("PyLong_FromLong"), Version::parse("3.2"));
  EXPECT_EQ(table.added("PyModule_AddType"), Version::parse("3.10"));
  EXPECT_EQ(table.added("_PyObject_Dump"), std::nullopt);

  std::vector<std::string> symbols = {"PyLong_FromLong", "PyModule_AddType", "_PyObject_Dump",
                                      "PyUnicode_AsUTF8AndSize", "Py_Whatever", "memcpy@GLIBC_2.14",
                                      "PyModuleDef_Init", "_Py_Dealloc", "Pyramid"};
  auto v39 = check_python_abi(symbols, table, Version::parse("3.9"));
  EXPECT_EQ(symbols_of(v39, ViolationKind::PythonAbiNewer),
            (std::vector<std::string>{"PyModule_AddType", "PyUnicode_AsUTF8AndSize"}));
  EXPECT_EQ(symbols_of(v39, ViolationKind::PythonAbi3),
            (std::vector<std::string>{"_PyObject_Dump", "Py_Whatever", "Pyramid"}));
  ASSERT_EQ(v39[0].symbol, "PyModule_AddType");
  EXPECT_EQ(v39[0].detail, "added to the stable ABI in Python 3.10");
  auto v310 = check_python_abi(symbols, table, Version::parse("3.10"));
  EXPECT_TRUE(symbols_of(v310, ViolationKind::PythonAbiNewer).empty());
  EXPECT_EQ(symbols_of(v310, ViolationKind::PythonAbi3).size(), 3u);
}

TEST(AbiPolicy, MacosMinimumVersion) {
  EXPECT_TRUE(check_macos(Version::parse("13.0"), Version::parse("15.0")).empty());
  EXPECT_TRUE(check_macos(Version::parse("15"), Version::parse("15.0")).empty());
  auto newer = check_macos(Version::parse("26.0"), Version::parse("15.0"));
  ASSERT_EQ(newer.size(), 1u);
  EXPECT_EQ(newer[0].detail, "requires macOS 26.0, newer than 15.0");
  EXPECT_EQ(check_macos(std::nullopt, Version::parse("15.0")).size(), 1u);
}

// --- real shared objects ----------------------------------------------------

class AbiObjects : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDirGuard>(make_temp_dir(KB_BINARY_DIR, "abi-test"));
    write("clean.c",
          "#include <string.h>\n"
          "extern void* PyLong_FromLong(long);\n"
          "void* clean_copy(char* d, const char* s, unsigned long n) {\n"
          "  memcpy(d, s, n);\n  return PyLong_FromLong((long)n);\n}\n");
    write("glibc.c",
          "#include <pthread.h>\n"
          "static void* run(void* p) { return p; }\n"
          "int start(void) { pthread_t t; return pthread_create(&t, 0, run, 0); }\n");
    write("cxx.cpp",
          "#include <charconv>\n"
          "int format_double(char* b, int n, double v) {\n"
          "  return int(std::to_chars(b, b + n, v).ptr - b);\n}\n");
    write("python.c",
          "extern void* PyLong_FromLong(long);\n"
          "extern int PyModule_AddType(void*, void*);\n"
          "extern void _PyObject_Dump(void*);\n"
          "void* use(void* m, void* t) { PyModule_AddType(m, t); _PyObject_Dump(m); return PyLong_FromLong(1); }\n");
    compile({"gcc", "-shared", "-fPIC", "-O2", "-o", so("clean"), src("clean.c")});
    compile({"gcc", "-shared", "-fPIC", "-O2", "-o", so("glibc"), src("glibc.c")});
    compile({"g++", "-std=c++17", "-shared", "-fPIC", "-O2", "-o", so("cxx"), src("cxx.cpp")});
    compile({"gcc", "-shared", "-fPIC", "-O2", "-o", so("python"), src("python.c")});
    compile({"strip", "--strip-all", "-o", so("glibc-stripped"), so("glibc")});
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::string src(const std::string& name) { return (dir_->path() / name).string(); }
  static std::string so(const std::string& stem) { return (dir_->path() / (stem + ".so")).string(); }
  static void write(const std::string& name, const std::string& text) { write_file_atomic(src(name), text); }
  static void compile(const std::vector<std::string>& argv) {
    ProcessResult r = run_process({.argv = argv});
    ASSERT_TRUE(r.ok()) << shell_quote_command(argv) << "\n" << r.err;
  }
  static std::string host_arch() { return trim(run_process({.argv = {"uname", "-m"}}).out); }

  static std::unique_ptr<TempDirGuard> dir_;
};
std::unique_ptr<TempDirGuard> AbiObjects::dir_;

TEST_F(AbiObjects, ReadsVersionedUndefinedSymbolsAndArchitecture) {
  ObjectInfo info = read_object(so("glibc"));
  EXPECT_EQ(info.format, ObjectFormat::Elf);
  EXPECT_EQ(info.arch, host_arch());
  EXPECT_TRUE(contains(info.undefined, "pthread_create@GLIBC_2.34"));
  EXPECT_TRUE(std::is_sorted(info.undefined.begin(), info.undefined.end()));
  // .symtab and .dynsym both name it; it is listed once.
  EXPECT_EQ(std::count(info.undefined.begin(), info.undefined.end(), "pthread_create@GLIBC_2.34"), 1);
  // Defined symbols are not listed.
  EXPECT_FALSE(contains(info.undefined, "start"));
}

TEST_F(AbiObjects, CleanLibraryPasses) {
  ObjectInfo info = read_object(so("clean"));
  EXPECT_TRUE(std::any_of(info.undefined.begin(), info.undefined.end(),
                          [](const std::string& s) { return starts_with(s, "memcpy@GLIBC_"); }));
  EXPECT_TRUE(contains(info.undefined, "PyLong_FromLong"));
  FileReport r = check_file(so("clean"), CheckOptions{});
  EXPECT_TRUE(r.ok()) << render_text(r, CheckOptions{});
  EXPECT_EQ(r.format, "ELF");
  EXPECT_NE(render_text(r, CheckOptions{}).find("✅ No compatibility issues found"), std::string::npos);
}

TEST_F(AbiObjects, GlibcViolationIsRejectedWithTheSymbolNamed) {
  FileReport r = check_file(so("glibc"), CheckOptions{});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(symbols_of(r.violations, ViolationKind::Manylinux),
            std::vector<std::string>{"pthread_create@GLIBC_2.34"});
  std::string text = render_text(r, CheckOptions{});
  EXPECT_NE(text.find("⛔ Symbols incompatible with manylinux_2_28:\n    pthread_create@GLIBC_2.34\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("✅"), std::string::npos);
  CheckOptions newer;
  newer.manylinux = "manylinux_2_34";
  EXPECT_TRUE(check_file(so("glibc"), newer).ok());
}

TEST_F(AbiObjects, StrippedLibraryIsStillRejected) {
  ProcessResult sections = run_process({.argv = {"readelf", "-S", so("glibc-stripped")}});
  ASSERT_EQ(sections.out.find(".symtab"), std::string::npos) << "strip left .symtab in place";
  FileReport r = check_file(so("glibc-stripped"), CheckOptions{});
  EXPECT_EQ(symbols_of(r.violations, ViolationKind::Manylinux),
            std::vector<std::string>{"pthread_create@GLIBC_2.34"});
}

TEST_F(AbiObjects, GlibcxxViolationIsRejected) {
  FileReport r = check_file(so("cxx"), CheckOptions{});
  EXPECT_TRUE(contains(symbols_of(r.violations, ViolationKind::Manylinux), "_ZSt8to_charsPcS_d@GLIBCXX_3.4.29"))
      << render_text(r, CheckOptions{});
  // The report shows the demangled name next to the raw one.
  EXPECT_NE(render_text(r, CheckOptions{}).find("(std::to_chars(char*, char*, double))"), std::string::npos);
}

TEST_F(AbiObjects, PythonAbiNewerAndNonAbi3Symbols) {
  FileReport r39 = check_file(so("python"), CheckOptions{});
  EXPECT_EQ(symbols_of(r39.violations, ViolationKind::PythonAbiNewer),
            std::vector<std::string>{"PyModule_AddType"});
  EXPECT_EQ(symbols_of(r39.violations, ViolationKind::PythonAbi3), std::vector<std::string>{"_PyObject_Dump"});
  std::string text = render_text(r39, CheckOptions{});
  EXPECT_NE(text.find("⛔ Symbols newer than Python ABI 3.9:\n    PyModule_AddType (added to the stable ABI in Python 3.10)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("⛔ Symbols outside the Python stable ABI (abi3):\n    _PyObject_Dump\n"), std::string::npos);

  CheckOptions py310;
  py310.python_abi = Version::parse("3.10");
  FileReport r310 = check_file(so("python"), py310);
  EXPECT_TRUE(symbols_of(r310.violations, ViolationKind::PythonAbiNewer).empty());
  EXPECT_EQ(symbols_of(r310.violations, ViolationKind::PythonAbi3), std::vector<std::string>{"_PyObject_Dump"});
}

TEST_F(AbiObjects, VariantDirectoryChecksEverySharedObject) {
  TempDirGuard kernel(make_temp_dir(KB_BINARY_DIR, "abi-kernel"));
  fs::path variant = kernel.path() / "build" / "torch-cpu";
  fs::create_directories(variant / "sub");
  write_file_atomic(variant / "metadata.json", "{}");
  fs::copy_file(so("clean"), variant / "_ops.abi3.so");
  fs::copy_file(so("glibc"), variant / "sub" / "helper.so");
  fs::create_symlink(variant / "sub" / "helper.so", variant / "alias.so");  // not checked twice
  write_file_atomic(variant / "README.md", "not an object");               // not a .so: ignored
  write_file_atomic(variant / "fake.pyd", "MZ not really a PE file");       // unsupported: failure

  VariantReport r = check_variant(variant, CheckOptions{});
  ASSERT_EQ(r.files.size(), 3u);
  EXPECT_EQ(r.variant, "torch-cpu");
  EXPECT_EQ(r.files[0].name, "_ops.abi3.so");
  EXPECT_EQ(r.files[1].name, "fake.pyd");
  EXPECT_EQ(r.files[2].name, "sub/helper.so");
  EXPECT_TRUE(r.files[0].ok());
  EXPECT_NE(r.files[1].error.find("unsupported file format: PE/COFF"), std::string::npos) << r.files[1].error;
  EXPECT_FALSE(r.files[2].ok());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(summarize_problems(r, CheckOptions{}),
            "1 symbol(s) beyond manylinux_2_28, 1 file(s) that could not be checked");

  nlohmann::json fields = abi_checked_fields(r, CheckOptions{});
  EXPECT_EQ(fields["variant"], "torch-cpu");
  EXPECT_EQ(fields["ok"], false);
  EXPECT_EQ(fields["portable"], false);
  EXPECT_EQ(fields["policy"], "manylinux_2_28");
  EXPECT_EQ(fields["python_abi"], "3.9");
  EXPECT_EQ(fields["files"][2]["file"], "sub/helper.so");
  EXPECT_EQ(fields["files"][2]["violations"][0]["kind"], "manylinux");
  EXPECT_EQ(fields["files"][2]["violations"][0]["symbol"], "pthread_create@GLIBC_2.34");
  EXPECT_TRUE(fields["files"][1].contains("error"));

  // A kernel directory: variants are discovered under build/.
  std::vector<VariantReport> found = check_path(kernel.path(), CheckOptions{});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].variant, "torch-cpu");
  EXPECT_EQ(found[0].files.size(), 3u);
  // A single file.
  std::vector<VariantReport> single = check_path(variant / "_ops.abi3.so", CheckOptions{});
  ASSERT_EQ(single.size(), 1u);
  EXPECT_TRUE(single[0].ok());
  EXPECT_NE(error_of([&] { check_path(kernel.path() / "build" / "torch-cpu" / "sub", CheckOptions{}); })
                .find("No build variants found in"),
            std::string::npos);
}

TEST_F(AbiObjects, MachOMinimumMacosAndPythonSymbols) {
  if (!find_program("clang") || !(find_program("ld64.lld") || find_program("ld64.lld-14")))
    GTEST_SKIP() << "clang with ld64.lld is needed to link a Mach-O library";
  for (const std::string target : {"13.0", "26.0"}) {
    ProcessResult r = run_process({.argv = {"clang", "-target", "arm64-apple-macos" + target, "-shared",
                                            "-fuse-ld=lld", "-nostdlib", "-Wl,-undefined,dynamic_lookup",
                                            "-o", so("macos" + target), src("python.c")}});
    ASSERT_TRUE(r.ok()) << r.err;
  }
  ObjectInfo info = read_object(so("macos13.0"));
  EXPECT_EQ(info.format, ObjectFormat::MachO);
  EXPECT_EQ(info.arch, "aarch64");
  EXPECT_EQ(info.macos_min, Version::parse("13"));
  EXPECT_TRUE(contains(info.undefined, "PyModule_AddType"));  // leading '_' removed

  FileReport ok13 = check_file(so("macos13.0"), CheckOptions{});
  EXPECT_EQ(symbols_of(ok13.violations, ViolationKind::MacOs).size(), 0u);
  EXPECT_EQ(symbols_of(ok13.violations, ViolationKind::PythonAbiNewer), std::vector<std::string>{"PyModule_AddType"});
  FileReport too_new = check_file(so("macos26.0"), CheckOptions{});
  ASSERT_EQ(symbols_of(too_new.violations, ViolationKind::MacOs).size(), 1u);
  EXPECT_NE(render_text(too_new, CheckOptions{}).find("⛔ Shared object requires macOS 26.0, newer than 15.0"),
            std::string::npos);
}

TEST_F(AbiObjects, NonObjectFilesAreUnsupported) {
  write("text.so", "INPUT(-lc)\n");
  FileReport r = check_file(src("text.so"), CheckOptions{});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find("unsupported file format: not an ELF or Mach-O object"), std::string::npos) << r.error;
  EXPECT_NE(render_text(r, CheckOptions{}).find("⛔ Could not check this file: "), std::string::npos);

  // A truncated library would yield no symbols at all; it must fail, not pass.
  write("truncated.so", read_file(so("glibc")).substr(0, 3000));
  FileReport truncated = check_file(src("truncated.so"), CheckOptions{});
  EXPECT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error.find("truncated or corrupt ELF file"), std::string::npos) << truncated.error;
}
