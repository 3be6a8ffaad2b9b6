// The Torch stable ABI and tvm-ffi checks of the ABI checker: the rules on
// plain symbol lists, on shared objects compiled here with g++, and on real
// kernels built against torch's and tvm-ffi's own headers (skipped when their
// cached environments are missing).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>

#include "libkb/abi/checker.h"
#include "libkb/abi/policy.h"
#include "libkb/abi/symbols.h"
#include "libkb/abi/verdict.h"
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

std::vector<std::string> details_of(const std::vector<Violation>& violations, ViolationKind kind) {
  std::vector<std::string> out;
  for (const Violation& v : violations)
    if (v.kind == kind) out.push_back(v.detail);
  return out;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

fs::path kb_cache() {
  const char* home = std::getenv("HOME");
  return home ? fs::path(home) / ".cache" / "kb" : fs::path();
}

// site-packages/torch of the cached CUDA torch environment, or "" when absent.
fs::path cached_torch() {
  fs::path lib = kb_cache() / "cuda-torch-venv" / "lib";
  std::error_code ec;
  if (!fs::is_directory(lib, ec)) return {};
  for (const fs::directory_entry& python : fs::directory_iterator(lib, ec)) {
    fs::path torch = python.path() / "site-packages" / "torch";
    if (fs::is_regular_file(torch / "include" / "torch" / "csrc" / "stable" / "library.h", ec)) return torch;
  }
  return {};
}

}  // namespace

// --- rules on plain symbol lists ------------------------------------------------

TEST(TorchStableAbiPolicy, TableListsShimsFrom210OnWithTheirVersion) {
  const TorchStableAbi& table = TorchStableAbi::builtin();
  EXPECT_GT(table.size(), 100u);
  EXPECT_EQ(table.added("torch_get_mutable_data_ptr"), Version::parse("2.10"));
  EXPECT_EQ(table.added("torch_from_blob"), Version::parse("2.11"));
  EXPECT_EQ(table.added("aoti_torch_dtype_float8_e8m0fnu"), Version::parse("2.12"));
  // Shims that predate the versioned blocks are not listed.
  EXPECT_FALSE(table.added("aoti_torch_get_numel"));
  EXPECT_FALSE(table.added("aoti_torch_dtype_float32"));
}

TEST(TorchStableAbiPolicy, NewerShimsAndLibtorchCxxSymbolsAreViolations) {
  const std::vector<std::string> undefined = {
      "aoti_torch_get_numel",                       // old shim
      "torch_get_mutable_data_ptr",                 // 2.10
      "torch_from_blob",                            // 2.11
      "aoti_torch_dtype_float8_e8m0fnu",            // 2.12
      "_ZN3c106detail14torchCheckFailEPKcS2_jS2_",  // c10::detail::torchCheckFail(...)
      "_ZN2at4_ops4relu4callERKNS_6TensorE",        // at::_ops::relu::call(at::Tensor const&)
      "_ZTIN3c105ErrorE",                           // typeinfo for c10::Error
      "_ZN5torch8autograd4NodeD2Ev",                // torch::autograd::Node::~Node()
      "_ZNK2at10TensorBase8data_ptrIfEEPT_v",       // float* at::TensorBase::data_ptr<float>() const
      "_ZN5torch6stable6detail6helperEv",           // torch::stable::detail::helper(): header-only API
      "_ZN5torch6stable6detail2toIiEET_m",          // int torch::stable::detail::to<int>(unsigned long)
      "_ZNSt6vectorIiSaIiEE9push_backERKi",         // std::
      "_ZdlPvm@CXXABI_1.3.9",                       // operator delete
      "memcpy@GLIBC_2.14",
  };
  std::vector<Violation> at210 = check_torch_stable_abi(undefined, TorchStableAbi::builtin(), Version::parse("2.10"));
  EXPECT_EQ(symbols_of(at210, ViolationKind::TorchStableAbiNewer),
            (std::vector<std::string>{"torch_from_blob", "aoti_torch_dtype_float8_e8m0fnu"}));
  EXPECT_EQ(
      details_of(at210, ViolationKind::TorchStableAbiNewer),
      (std::vector<std::string>{"added to the Torch stable ABI in 2.11", "added to the Torch stable ABI in 2.12"}));
  EXPECT_EQ(symbols_of(at210, ViolationKind::TorchCxxAbi),
            (std::vector<std::string>{"_ZN3c106detail14torchCheckFailEPKcS2_jS2_",
                                      "_ZN2at4_ops4relu4callERKNS_6TensorE", "_ZTIN3c105ErrorE",
                                      "_ZN5torch8autograd4NodeD2Ev", "_ZNK2at10TensorBase8data_ptrIfEEPT_v"}));
  std::vector<std::string> cxx = details_of(at210, ViolationKind::TorchCxxAbi);
  EXPECT_EQ(cxx[0],
            "libtorch C++ API, not the Torch stable ABI: c10::detail::torchCheckFail(char const*, char const*, "
            "unsigned int, char const*)");
  EXPECT_TRUE(has(cxx[2], "typeinfo for c10::Error")) << cxx[2];
  // A template function's demangled name starts with its return type.
  EXPECT_TRUE(has(cxx[4], ": float* at::TensorBase::data_ptr<float>() const")) << cxx[4];

  std::vector<Violation> at211 = check_torch_stable_abi(undefined, TorchStableAbi::builtin(), Version::parse("2.11"));
  EXPECT_EQ(symbols_of(at211, ViolationKind::TorchStableAbiNewer),
            std::vector<std::string>{"aoti_torch_dtype_float8_e8m0fnu"});
  // A table version ends the check of that name; the version suffix is ignored.
  EXPECT_TRUE(
      check_torch_stable_abi({"torch_from_blob@TORCH_1"}, TorchStableAbi::builtin(), Version::parse("2.12")).empty());
}

TEST(TorchStableAbiPolicy, TableFormatErrorsNameTheLine) {
  EXPECT_EQ(error_of([] { TorchStableAbi::parse("# c\ntorch_a 2.10\ntorch_b\n", "t.txt"); }),
            "t.txt:3: expected `NAME ADDED`, got `torch_b`");
  EXPECT_EQ(error_of([] { TorchStableAbi::parse("torch_a two\n", "t.txt"); }), "t.txt:1: `two` is not a version");
}

TEST(TvmFfiPolicy, CApiOnlyNoTorchAndAnExportedFunction) {
  const std::vector<std::string> exported = {"__tvm_ffi__metadata_add", "__tvm_ffi_add"};
  EXPECT_TRUE(check_tvm_ffi({"TVMFFIErrorSetRaised", "memcpy@GLIBC_2.14", "_ZdlPvm@CXXABI_1.3.9",
                             "_ZNSt6vectorIiSaIiEE9push_backERKi"},
                            exported, {"libtvm_ffi.so", "libstdc++.so.6", "libc.so.6"})
                  .empty());

  std::vector<Violation> v =
      check_tvm_ffi({"_ZN3tvm3ffi6Helper3getEv", "_ZTIN3tvm3ffi5ErrorE", "_ZN3tvm3ffi7details4makeIiEEPT_v",
                     "aoti_torch_get_numel", "torch_from_blob", "_ZN3c106detail14torchCheckFailEPKcS2_jS2_"},
                    exported, {"libtvm_ffi.so", "libc10.so", "libtorch_cpu.so"});
  EXPECT_EQ(details_of(v, ViolationKind::TvmFfi),
            (std::vector<std::string>{
                "uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases (use its TVMFFI* C API): "
                "tvm::ffi::Helper::get()",
                "uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases (use its TVMFFI* C API): "
                "typeinfo for tvm::ffi::Error",
                "uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases (use its TVMFFI* C API): "
                "int* tvm::ffi::details::make<int>()",
                "needs torch: aoti_torch_get_numel", "needs torch: torch_from_blob",
                "needs torch: c10::detail::torchCheckFail(char const*, char const*, unsigned int, char const*)",
                "needs torch: libc10.so", "needs torch: libtorch_cpu.so"}));
  EXPECT_EQ(v[6].symbol, "libc10.so");

  // Only tvm-ffi's bookkeeping symbols, or none: no function to call.
  for (const std::vector<std::string>& none : {std::vector<std::string>{"__tvm_ffi__metadata_add", "__tvm_ffi_"},
                                               std::vector<std::string>{"add", "_tvm_ffi_add"}}) {
    std::vector<Violation> missing = check_tvm_ffi({}, none, {});
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_EQ(missing[0].symbol, "");
    EXPECT_EQ(missing[0].detail, "exports no tvm-ffi function (TVM_FFI_DLL_EXPORT_TYPED_FUNC)");
  }
}

TEST(AbiVariantOptions, VariantNamesSelectTheFrameworkChecks) {
  CheckOptions plain;
  CheckOptions stable = options_for_variant(plain, "torch-stable-abi211-cpu-x86_64-linux");
  EXPECT_EQ(stable.torch_stable_abi, Version::parse("2.11"));
  EXPECT_FALSE(stable.tvm_ffi);
  EXPECT_EQ(
      options_for_variant(plain, "torch-stable-abi-2.12-cuda-12.8-cpython-3.9-abi3-x86_64-linux").torch_stable_abi,
      Version::parse("2.12"));
  // An explicit version wins over the name's.
  CheckOptions explicit_version;
  explicit_version.torch_stable_abi = Version::parse("2.10");
  EXPECT_EQ(options_for_variant(explicit_version, "torch-stable-abi211-cpu-x86_64-linux").torch_stable_abi,
            Version::parse("2.10"));

  CheckOptions tvm = options_for_variant(plain, "tvm-ffi01-cu128-x86_64-linux");
  EXPECT_TRUE(tvm.tvm_ffi);
  EXPECT_FALSE(tvm.torch_stable_abi);
  for (const char* other : {"torch212-cxx11-cu130-x86_64-linux", "torch-cpu", "not a variant", ""}) {
    CheckOptions o = options_for_variant(plain, other);
    EXPECT_FALSE(o.torch_stable_abi) << other;
    EXPECT_FALSE(o.tvm_ffi) << other;
  }
}

// --- shared objects compiled here ---------------------------------------------

class AbiFrameworkObjects : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDirGuard>(make_temp_dir(KB_BINARY_DIR, "abi-framework-test"));
    // Old shims, a 2.10 shim and the header-only torch::stable API.
    write("stable_clean.cpp",
          "#include <cstdint>\n"
          "extern \"C\" int32_t aoti_torch_get_numel(void*, int64_t*);\n"
          "extern \"C\" int32_t torch_get_mutable_data_ptr(void*, void**);\n"
          "namespace torch { namespace stable { namespace detail { void helper(); } } }\n"
          "namespace torch { namespace stable { inline int64_t numel(void* t) {\n"
          "  int64_t n = 0; aoti_torch_get_numel(t, &n); return n; } } }\n"
          "int64_t run(void* t) { void* p; torch_get_mutable_data_ptr(t, &p); torch::stable::detail::helper();\n"
          "  return torch::stable::numel(t); }\n");
    // torch_from_blob: 2.11, aoti_torch_dtype_float8_e8m0fnu: 2.12.
    write("stable_new.cpp",
          "#include <cstdint>\n"
          "extern \"C\" int32_t torch_from_blob(void*);\n"
          "extern \"C\" int32_t aoti_torch_dtype_float8_e8m0fnu();\n"
          "int32_t run(void* p) { return torch_from_blob(p) + aoti_torch_dtype_float8_e8m0fnu(); }\n");
    write("stable_cxx.cpp",
          "#include <cstdint>\n"
          "extern \"C\" int32_t aoti_torch_get_numel(void*, int64_t*);\n"
          "namespace c10 { namespace detail {\n"
          "[[noreturn]] void torchCheckFail(const char*, const char*, uint32_t, const char*); } }\n"
          "namespace at { struct Tensor { int64_t numel() const; };\n"
          "struct TensorBase { template <typename T> T* data_ptr() const; }; }\n"
          "int64_t run(void* t, const at::Tensor& x, const at::TensorBase& b) { int64_t n = 0;\n"
          "  aoti_torch_get_numel(t, &n); if (n < 0) c10::detail::torchCheckFail(\"f\", \"file\", 1, \"m\");\n"
          "  return n + x.numel() + static_cast<int64_t>(*b.data_ptr<float>()); }\n");
    const std::string tvm_export =
        "extern \"C\" __attribute__((visibility(\"default\"))) int __tvm_ffi_add(void*, const void*, int, void*) {\n"
        "  return TVMFFIErrorSetRaised(nullptr); }\n"
        "extern \"C\" __attribute__((visibility(\"default\"))) int __tvm_ffi__metadata_add(void*, const void*, int,"
        " void*) { return 0; }\n";
    write("tvm_clean.cpp", "extern \"C\" int TVMFFIErrorSetRaised(void*);\n" + tvm_export);
    write("tvm_cxx.cpp",
          "extern \"C\" int TVMFFIErrorSetRaised(void*);\n"
          "namespace tvm { namespace ffi { struct Helper { static int get(); }; } }\n" +
              tvm_export + "int extra() { return tvm::ffi::Helper::get(); }\n");
    write("tvm_torch.cpp",
          "#include <cstdint>\n"
          "extern \"C\" int TVMFFIErrorSetRaised(void*);\n"
          "extern \"C\" int32_t aoti_torch_get_numel(void*, int64_t*);\n" +
              tvm_export + "int64_t extra(void* t) { int64_t n; aoti_torch_get_numel(t, &n); return n; }\n");
    write("tvm_noexport.cpp",
          "extern \"C\" int TVMFFIErrorSetRaised(void*);\n"
          "extern \"C\" __attribute__((visibility(\"hidden\"))) int __tvm_ffi_hidden(void*, const void*, int, void*)"
          " { return TVMFFIErrorSetRaised(nullptr); }\n"
          "extern \"C\" int __tvm_ffi__metadata_add(void*, const void*, int, void*) { return 0; }\n"
          "int call() { return __tvm_ffi_hidden(nullptr, nullptr, 0, nullptr); }\n");
    write("empty.c", "int c10_placeholder;\n");
    for (const char* stem : {"stable_clean", "stable_new", "stable_cxx", "tvm_clean", "tvm_cxx", "tvm_noexport"})
      compile({"g++", "-std=c++17", "-shared", "-fPIC", "-O2", "-o", so(stem), src(std::string(stem) + ".cpp")});
    // A library called libc10.so, so that tvm_torch needs it (NEEDED libc10.so).
    compile({"gcc", "-shared", "-fPIC", "-Wl,-soname,libc10.so", "-o", so("libc10"), src("empty.c")});
    compile({"g++", "-std=c++17", "-shared", "-fPIC", "-O2", "-o", so("tvm_torch"), src("tvm_torch.cpp"),
             "-Wl,--no-as-needed", "-L" + dir_->path().string(), "-lc10"});
  }
  static void TearDownTestSuite() { dir_.reset(); }

  static std::string src(const std::string& name) { return (dir_->path() / name).string(); }
  static std::string so(const std::string& stem) { return (dir_->path() / (stem + ".so")).string(); }
  static void write(const std::string& name, const std::string& text) { write_file_atomic(src(name), text); }
  static void compile(const std::vector<std::string>& argv) {
    ProcessResult r = run_process({.argv = argv});
    ASSERT_TRUE(r.ok()) << shell_quote_command(argv) << "\n" << r.err;
  }
  static CheckOptions torch_abi(const char* version) {
    CheckOptions o;
    o.torch_stable_abi = Version::parse(version);
    return o;
  }
  static CheckOptions tvm_ffi() {
    CheckOptions o;
    o.tvm_ffi = true;
    return o;
  }
  // A variant directory `name` holding `stems` as <stem>.so.
  static fs::path make_variant(const fs::path& root, const std::string& name, const std::vector<std::string>& stems) {
    fs::path variant = root / "build" / name;
    fs::create_directories(variant);
    write_file_atomic(variant / "metadata.json", "{}");
    for (const std::string& stem : stems) fs::copy_file(so(stem), variant / (stem + ".so"));
    return variant;
  }

  static std::unique_ptr<TempDirGuard> dir_;
};
std::unique_ptr<TempDirGuard> AbiFrameworkObjects::dir_;

TEST_F(AbiFrameworkObjects, CleanStableAbiObjectPasses) {
  FileReport r = check_file(so("stable_clean"), torch_abi("2.10"));
  EXPECT_TRUE(r.ok()) << render_text(r, torch_abi("2.10"));
  std::string text = render_text(r, torch_abi("2.10"));
  EXPECT_TRUE(has(text, "🔥 Checking for compatibility with Torch stable ABI version 2.10\n")) << text;
  EXPECT_TRUE(has(text, "✅ No compatibility issues found")) << text;
}

TEST_F(AbiFrameworkObjects, ShimNewerThanTheAbiIsFlaggedWithItsVersion) {
  FileReport r210 = check_file(so("stable_new"), torch_abi("2.10"));
  EXPECT_EQ(symbols_of(r210.violations, ViolationKind::TorchStableAbiNewer),
            (std::vector<std::string>{"aoti_torch_dtype_float8_e8m0fnu", "torch_from_blob"}));
  std::string text = render_text(r210, torch_abi("2.10"));
  EXPECT_TRUE(has(text,
                  "⛔ Non-stable Torch ABI symbols found (incompatible with Torch stable ABI 2.10):\n"
                  "    aoti_torch_dtype_float8_e8m0fnu: added to the Torch stable ABI in 2.12\n"
                  "    torch_from_blob: added to the Torch stable ABI in 2.11\n"))
      << text;
  EXPECT_EQ(symbols_of(check_file(so("stable_new"), torch_abi("2.11")).violations, ViolationKind::TorchStableAbiNewer),
            std::vector<std::string>{"aoti_torch_dtype_float8_e8m0fnu"});
  EXPECT_TRUE(check_file(so("stable_new"), torch_abi("2.12")).ok());
  // Without a stable ABI version the Torch check does not run.
  EXPECT_TRUE(check_file(so("stable_new"), CheckOptions{}).ok());
}

TEST_F(AbiFrameworkObjects, LibtorchCxxSymbolsAreFlaggedByDemangledName) {
  FileReport r = check_file(so("stable_cxx"), torch_abi("2.14"));
  EXPECT_EQ(r.violations.size(), 3u);
  EXPECT_EQ(symbols_of(r.violations, ViolationKind::TorchCxxAbi),
            (std::vector<std::string>{"_ZN3c106detail14torchCheckFailEPKcS2_jS2_",
                                      "_ZNK2at10TensorBase8data_ptrIfEEPT_v", "_ZNK2at6Tensor5numelEv"}));
  std::string text = render_text(r, torch_abi("2.14"));
  EXPECT_TRUE(has(text,
                  "⛔ Non-stable Torch ABI symbols found (incompatible with Torch stable ABI 2.14):\n"
                  "    c10::detail::torchCheckFail(char const*, char const*, unsigned int, char const*)\n"
                  "    float* at::TensorBase::data_ptr<float>() const\n"
                  "    at::Tensor::numel() const\n"))
      << text;
}

TEST_F(AbiFrameworkObjects, StableAbiVariantIsCheckedAgainstItsOwnVersion) {
  TempDirGuard kernel(make_temp_dir(KB_BINARY_DIR, "abi-stable-kernel"));
  fs::path variant =
      make_variant(kernel.path(), "torch-stable-abi211-cpu-x86_64-linux", {"stable_clean", "stable_new"});
  VariantReport r = check_variant(variant, CheckOptions{});
  EXPECT_EQ(r.torch_stable_abi, Version::parse("2.11"));
  ASSERT_EQ(r.files.size(), 2u);
  EXPECT_TRUE(r.files[0].ok());
  EXPECT_EQ(symbols_of(r.files[1].violations, ViolationKind::TorchStableAbiNewer),
            std::vector<std::string>{"aoti_torch_dtype_float8_e8m0fnu"});
  EXPECT_EQ(summarize_problems(r, CheckOptions{}), "1 symbol(s) outside the Torch stable ABI 2.11");
  nlohmann::json fields = abi_checked_fields(r, CheckOptions{});
  EXPECT_EQ(fields["torch_stable_abi"], "2.11");
  EXPECT_FALSE(fields.contains("tvm_ffi"));
  EXPECT_EQ(fields["files"][1]["violations"][0]["kind"], "torch-stable-abi-newer");
  EXPECT_EQ(fields["files"][1]["violations"][0]["symbol"], "aoti_torch_dtype_float8_e8m0fnu");

  // The verdict names the stable ABI it was checked against.
  record_verdict(r, CheckOptions{});
  std::optional<Verdict> verdict = current_verdict(variant);
  ASSERT_TRUE(verdict);
  EXPECT_FALSE(verdict->portable);
  EXPECT_EQ(verdict->torch_stable_abi, "2.11");
  EXPECT_EQ(verdict->describe(), "manylinux_2_28, abi3 3.9, macOS 15.0, Torch stable ABI 2.11");

  // An explicit version overrides the name's; kernel-directory walks and
  // single files inside the variant detect it too.
  EXPECT_TRUE(check_variant(variant, torch_abi("2.12")).ok());
  std::vector<VariantReport> walked = check_path(kernel.path(), CheckOptions{});
  ASSERT_EQ(walked.size(), 1u);
  EXPECT_FALSE(walked[0].ok());
  std::vector<VariantReport> single = check_path(variant / "stable_new.so", CheckOptions{});
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].files[0].torch_stable_abi, Version::parse("2.11"));
  EXPECT_FALSE(single[0].ok());
  // Other variants are not held to the stable ABI.
  fs::path plain = make_variant(kernel.path(), "torch212-cxx11-cpu-x86_64-linux", {"stable_new", "stable_cxx"});
  EXPECT_TRUE(check_variant(plain, CheckOptions{}).ok());
}

TEST_F(AbiFrameworkObjects, TvmFfiRulesOnObjects) {
  ObjectInfo info = read_object(so("tvm_clean"));
  EXPECT_NE(std::find(info.exported.begin(), info.exported.end(), "__tvm_ffi_add"), info.exported.end());
  EXPECT_TRUE(std::find(info.exported.begin(), info.exported.end(), "TVMFFIErrorSetRaised") == info.exported.end());
  FileReport clean = check_file(so("tvm_clean"), tvm_ffi());
  EXPECT_TRUE(clean.ok()) << render_text(clean, tvm_ffi());
  EXPECT_TRUE(has(render_text(clean, tvm_ffi()), "🧩 Checking the tvm-ffi ABI rules\n"));

  FileReport cxx = check_file(so("tvm_cxx"), tvm_ffi());
  EXPECT_EQ(symbols_of(cxx.violations, ViolationKind::TvmFfi), std::vector<std::string>{"_ZN3tvm3ffi6Helper3getEv"});
  EXPECT_TRUE(has(render_text(cxx, tvm_ffi()),
                  "⛔ tvm-ffi ABI violations:\n    uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases "
                  "(use its TVMFFI* C API): tvm::ffi::Helper::get()\n"))
      << render_text(cxx, tvm_ffi());

  FileReport torch = check_file(so("tvm_torch"), tvm_ffi());
  EXPECT_EQ(details_of(torch.violations, ViolationKind::TvmFfi),
            (std::vector<std::string>{"needs torch: aoti_torch_get_numel", "needs torch: libc10.so"}));

  // The only __tvm_ffi_ function is hidden; the metadata symbol does not count.
  FileReport none = check_file(so("tvm_noexport"), tvm_ffi());
  EXPECT_EQ(details_of(none.violations, ViolationKind::TvmFfi),
            std::vector<std::string>{"exports no tvm-ffi function (TVM_FFI_DLL_EXPORT_TYPED_FUNC)"});

  // The rules apply by themselves to tvm-ffi variants, and to no others.
  TempDirGuard kernel(make_temp_dir(KB_BINARY_DIR, "abi-tvm-kernel"));
  fs::path variant = make_variant(kernel.path(), "tvm-ffi01-cpu-x86_64-linux", {"tvm_clean", "tvm_cxx"});
  VariantReport r = check_variant(variant, CheckOptions{});
  EXPECT_TRUE(r.tvm_ffi);
  EXPECT_TRUE(r.files[0].ok());
  EXPECT_FALSE(r.files[1].ok());
  EXPECT_EQ(summarize_problems(r, CheckOptions{}), "1 tvm-ffi ABI violation(s)");
  EXPECT_EQ(abi_checked_fields(r, CheckOptions{})["tvm_ffi"], true);
  fs::path plain = make_variant(kernel.path(), "torch212-cxx11-cpu-x86_64-linux", {"tvm_noexport", "tvm_torch"});
  EXPECT_TRUE(check_variant(plain, CheckOptions{}).ok());
}

// --- real kernels -----------------------------------------------------------------

TEST(AbiRealKernels, TorchStableAbiKernelBuiltAgainstTorchHeaders) {
  const fs::path torch = cached_torch();
  if (torch.empty()) GTEST_SKIP() << "no cached CUDA torch environment (" << (kb_cache() / "cuda-torch-venv") << ")";
  TempDirGuard dir(make_temp_dir(KB_BINARY_DIR, "abi-real-torch"));
  const std::string kernel =
      "#include <torch/csrc/stable/library.h>\n"
      "#include <torch/csrc/stable/ops.h>\n"
      "#include <torch/csrc/stable/tensor.h>\n"
      "using torch::stable::Tensor;\n"
      "Tensor relu(Tensor input) {\n"
      "  Tensor out = torch::stable::empty_like(input);\n"
      "  const float* in = input.const_data_ptr<float>();\n"
      "  float* o = out.mutable_data_ptr<float>();\n"
      "  for (int64_t i = 0; i < input.numel(); ++i) o[i] = in[i] > 0 ? in[i] : 0;\n"
      "  LIBTORCH_CXX_CALL\n"
      "  return out;\n"
      "}\n"
      "STABLE_TORCH_LIBRARY(kb_abi_relu, m) { m.def(\"relu(Tensor input) -> Tensor\"); }\n"
      "STABLE_TORCH_LIBRARY_IMPL(kb_abi_relu, CPU, m) { m.impl(\"relu\", TORCH_BOX(&relu)); }\n";
  write_file_atomic(dir.path() / "relu.cpp", replace_all(kernel, "LIBTORCH_CXX_CALL\n", ""));
  // The same kernel calling into libtorch's C++ API.
  write_file_atomic(dir.path() / "relu_cxx.cpp",
                    "#include <cstdint>\n#include <string>\n"
                    "namespace c10 { namespace detail {\n"
                    "[[noreturn]] void torchCheckFail(const char*, const char*, uint32_t, const std::string&); } }\n" +
                        replace_all(kernel, "LIBTORCH_CXX_CALL",
                                    "if (input.numel() < 0) c10::detail::torchCheckFail(\"relu\", __FILE__, "
                                    "__LINE__, std::string(\"negative\"));"));
  for (const char* stem : {"relu", "relu_cxx"}) {
    std::vector<std::string> argv = {"g++",
                                     "-std=c++17",
                                     "-O2",
                                     "-fPIC",
                                     "-shared",
                                     "-DTORCH_TARGET_VERSION=0x020b000000000000",
                                     "-I" + (torch / "include").string(),
                                     (dir.path() / (std::string(stem) + ".cpp")).string(),
                                     "-L" + (torch / "lib").string(),
                                     "-ltorch_cpu",
                                     "-lc10",
                                     "-o",
                                     (dir.path() / (std::string(stem) + ".so")).string()};
    ProcessResult r = run_process({.argv = argv});
    ASSERT_TRUE(r.ok()) << shell_quote_command(argv) << "\n" << r.err;
  }
  auto torch_violations = [](const FileReport& r) {
    std::vector<std::string> out = symbols_of(r.violations, ViolationKind::TorchStableAbiNewer);
    for (const std::string& s : symbols_of(r.violations, ViolationKind::TorchCxxAbi)) out.push_back(s);
    return out;
  };
  CheckOptions at211;
  at211.torch_stable_abi = Version::parse("2.11");
  FileReport clean = check_file(dir.path() / "relu.so", at211);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  EXPECT_TRUE(torch_violations(clean).empty()) << render_text(clean, at211);
  // Built for 2.11, it uses 2.11 shims: too new for the 2.10 stable ABI.
  CheckOptions at210;
  at210.torch_stable_abi = Version::parse("2.10");
  EXPECT_TRUE(has(
      join(symbols_of(check_file(dir.path() / "relu.so", at210).violations, ViolationKind::TorchStableAbiNewer), ","),
      "torch_dtype_float8_e8m0fnu"));

  FileReport cxx = check_file(dir.path() / "relu_cxx.so", at211);
  std::vector<std::string> cxx_details = details_of(cxx.violations, ViolationKind::TorchCxxAbi);
  ASSERT_EQ(cxx_details.size(), 1u) << render_text(cxx, at211);
  EXPECT_TRUE(has(cxx_details[0], "c10::detail::torchCheckFail(")) << cxx_details[0];
  EXPECT_TRUE(symbols_of(cxx.violations, ViolationKind::TorchStableAbiNewer).empty());
}

TEST(AbiRealKernels, TvmFfiKernelBuiltAgainstTvmFfiHeaders) {
  const fs::path venv = kb_cache() / "tvm-ffi-venv";
  std::error_code ec;
  if (!fs::exists(venv / "bin" / "python", ec)) GTEST_SKIP() << "no cached tvm-ffi environment (" << venv << ")";
  auto config = [&](const char* what) {
    ProcessResult r = run_process({.argv = {(venv / "bin" / "python").string(), "-m", "tvm_ffi.config", what}});
    EXPECT_TRUE(r.ok()) << r.err;
    return trim(r.out);
  };
  const std::string include = config("--includedir"), lib = config("--libdir");
  const fs::path fixture = fs::path(KB_SOURCE_DIR) / "tests" / "fixtures" / "kernels" / "relu-tvm-ffi";
  TempDirGuard dir(make_temp_dir(KB_BINARY_DIR, "abi-real-tvm"));
  const fs::path object = dir.path() / "_relu_tvm_ffi.so";
  std::vector<std::string> argv = {"g++",
                                   "-std=c++17",
                                   "-O2",
                                   "-fPIC",
                                   "-shared",
                                   "-fvisibility=hidden",
                                   "-I" + include,
                                   "-I" + (fixture / "tvm-ffi-ext").string(),
                                   (fixture / "tvm-ffi-ext" / "tvm_ffi_binding.cpp").string(),
                                   (fixture / "relu_cpu" / "relu_cpu.cpp").string(),
                                   "-L" + lib,
                                   "-ltvm_ffi",
                                   "-o",
                                   object.string()};
  ProcessResult built = run_process({.argv = argv});
  ASSERT_TRUE(built.ok()) << shell_quote_command(argv) << "\n" << built.err;

  ObjectInfo info = read_object(object);
  EXPECT_NE(std::find(info.exported.begin(), info.exported.end(), "__tvm_ffi_relu"), info.exported.end());
  CheckOptions options;
  options.tvm_ffi = true;
  FileReport r = check_file(object, options);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(symbols_of(r.violations, ViolationKind::TvmFfi).empty()) << render_text(r, options);
}
