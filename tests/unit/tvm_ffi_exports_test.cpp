// The function list of a tvm-ffi kernel library, read from real shared
// objects built here with the system compiler.
#include <gtest/gtest.h>

#include "libkb/runtime/tvm_ffi_exports.h"
#include "libkb/util/fs.h"
#include "libkb/util/process.h"
#include "tests/unit/support.h"

using namespace kb;
using kb::testing::contains;
using kb::testing::error_of;

namespace {

class TvmFfiExports : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = std::make_unique<TempDirGuard>(make_temp_dir(KB_BINARY_DIR, "tvm-ffi-exports")); }

  // A shared object from C source, hidden by default as tvm-ffi kernels are built.
  std::filesystem::path build(const std::string& source) {
    std::filesystem::path src = dir_->path() / "lib.c", so = dir_->path() / "lib.so";
    write_file_atomic(src, source);
    std::vector<std::string> argv = {"gcc", "-shared", "-fPIC", "-fvisibility=hidden", "-o", so.string(), src.string()};
    ProcessResult r = run_process({.argv = argv});
    EXPECT_TRUE(r.ok()) << r.err;
    return so;
  }

  std::unique_ptr<TempDirGuard> dir_;
};

TEST_F(TvmFfiExports, ListsTheExportedFunctionsSortedWithoutThePrefix) {
  auto so = build(
      "#define EXPORT __attribute__((visibility(\"default\")))\n"
      "EXPORT int __tvm_ffi_scale(void* s, const void* a, int n, void* r) { return 0; }\n"
      "EXPORT int __tvm_ffi_add(void* s, const void* a, int n, void* r) { return 0; }\n"
      "EXPORT __attribute__((weak)) int __tvm_ffi_weak_one(void* s, const void* a, int n, void* r) { return 0; }\n"
      "int __tvm_ffi_hidden(void* s, const void* a, int n, void* r) { return 0; }\n"
      "EXPORT int helper(void) { return 1; }\n"
      "EXPORT void* __tvm_ffi__library_ctx = 0;\n"
      "EXPORT int __tvm_ffi__metadata(void) { return 0; }\n"
      "EXPORT int __tvm_ffi_not_a_function = 3;\n"
      "extern int __tvm_ffi_elsewhere(void* s, const void* a, int n, void* r);\n"
      "EXPORT int call(void) { return __tvm_ffi_elsewhere(0, 0, 0, 0); }\n");
  EXPECT_EQ(runtime::tvm_ffi_exported_functions(so), (std::vector<std::string>{"add", "scale", "weak_one"}));
}

TEST_F(TvmFfiExports, ALibraryWithoutExportsListsNone) {
  EXPECT_TRUE(runtime::tvm_ffi_exported_functions(build("int helper(void) { return 1; }\n")).empty());
}

TEST_F(TvmFfiExports, NonElfAndTruncatedFilesAreNamed) {
  std::filesystem::path text = dir_->path() / "text.so";
  write_file_atomic(text, "not a library");
  EXPECT_EQ(error_of([&] { runtime::tvm_ffi_exported_functions(text); }), text.string() + ": not an ELF shared object");
  EXPECT_EQ(error_of([&] { runtime::tvm_ffi_exported_functions(dir_->path() / "missing.so"); }),
            (dir_->path() / "missing.so").string() + ": cannot open the kernel library");

  std::string elf = read_file(build("int __attribute__((visibility(\"default\"))) f(void) { return 1; }\n"));
  std::filesystem::path truncated = dir_->path() / "truncated.so";
  write_file_atomic(truncated, elf.substr(0, elf.size() / 2));
  std::string error = error_of([&] { runtime::tvm_ffi_exported_functions(truncated); });
  EXPECT_TRUE(contains(error, truncated.string() + ": damaged ELF file: its ")) << error;
}

}  // namespace
