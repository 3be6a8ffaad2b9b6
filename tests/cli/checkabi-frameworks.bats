#!/usr/bin/env bats
# kb-checkabi on Torch stable ABI and tvm-ffi variants: shared objects compiled
# here with g++ that reference torch's C shims, libtorch's C++ API and
# tvm-ffi's C and C++ APIs (left undefined, as in real kernels).

bats_require_minimum_version 1.5.0

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TOOL="$KB_BIN/kb-checkabi"
  [ -x "$TOOL" ] || { echo "$TOOL is not executable" >&2; return 1; }
  K="$BATS_TEST_TMPDIR/kernel"
  STABLE="$K/build/torch-stable-abi211-cpu-x86_64-linux"
  TVM="$K/build/tvm-ffi01-cpu-x86_64-linux"
  mkdir -p "$STABLE" "$TVM"
  echo '{}' > "$STABLE/metadata.json"
  echo '{}' > "$TVM/metadata.json"
  # torch_from_blob: stable ABI 2.11; aoti_torch_dtype_float8_e8m0fnu: 2.12;
  # aoti_torch_get_numel predates 2.10.
  cat > "$BATS_TEST_TMPDIR/stable.cpp" <<'CPP'
#include <cstdint>
extern "C" int32_t aoti_torch_get_numel(void*, int64_t*);
extern "C" int32_t torch_from_blob(void*);
extern "C" int32_t aoti_torch_dtype_float8_e8m0fnu();
int64_t run(void* t) { int64_t n = 0; aoti_torch_get_numel(t, &n); return n + torch_from_blob(t) + aoti_torch_dtype_float8_e8m0fnu(); }
CPP
  cat > "$BATS_TEST_TMPDIR/cxx.cpp" <<'CPP'
#include <cstdint>
namespace c10 { namespace detail { [[noreturn]] void torchCheckFail(const char*, const char*, uint32_t, const char*); } }
int check(int n) { if (n < 0) c10::detail::torchCheckFail("f", "file", 1, "m"); return n; }
CPP
  cat > "$BATS_TEST_TMPDIR/tvm.cpp" <<'CPP'
extern "C" int TVMFFIErrorSetRaised(void*);
extern "C" __attribute__((visibility("default"))) int __tvm_ffi_add(void*, const void*, int, void*) { return TVMFFIErrorSetRaised(nullptr); }
CPP
  cat > "$BATS_TEST_TMPDIR/tvm_cxx.cpp" <<'CPP'
namespace tvm { namespace ffi { struct Helper { static int get(); }; } }
extern "C" int TVMFFIErrorSetRaised(void*);
int helper() { return tvm::ffi::Helper::get() + TVMFFIErrorSetRaised(nullptr); }
CPP
  g++ -std=c++17 -shared -fPIC -O2 -o "$STABLE/_ops.abi3.so" "$BATS_TEST_TMPDIR/stable.cpp"
  g++ -std=c++17 -shared -fPIC -O2 -o "$BATS_TEST_TMPDIR/cxx.so" "$BATS_TEST_TMPDIR/cxx.cpp"
  g++ -std=c++17 -shared -fPIC -O2 -o "$TVM/_relu.so" "$BATS_TEST_TMPDIR/tvm.cpp"
  g++ -std=c++17 -shared -fPIC -O2 -o "$BATS_TEST_TMPDIR/tvm_cxx.so" "$BATS_TEST_TMPDIR/tvm_cxx.cpp"
}

# Prints the value of a Python expression over the JSON events `ev` (a list).
events_eval() {
  python3 -c 'import json, sys; ev = [json.loads(l) for l in sys.stdin if l.strip()]; print(eval(sys.argv[1]))' "$1"
}

@test "a torch-stable-abi variant is checked against the stable ABI of its name" {
  run "$TOOL" "$STABLE"
  [ "$status" -eq 1 ]
  [[ "$output" == *"🔥 Checking for compatibility with Torch stable ABI version 2.11"* ]]
  [[ "$output" == *"⛔ Non-stable Torch ABI symbols found (incompatible with Torch stable ABI 2.11):
    aoti_torch_dtype_float8_e8m0fnu: added to the Torch stable ABI in 2.12"* ]]
  [[ "$output" != *"torch_from_blob"* ]]
  [[ "$output" != *"aoti_torch_get_numel"* ]]
}

@test "--torch-stable-abi overrides the variant's version" {
  run "$TOOL" --torch-stable-abi 2.12 "$STABLE"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Torch stable ABI version 2.12"* ]]
  [[ "$output" == *"✅ No compatibility issues found"* ]]
  run "$TOOL" --torch-stable-abi 2.10 "$STABLE/_ops.abi3.so"
  [ "$status" -eq 1 ]
  [[ "$output" == *"torch_from_blob: added to the Torch stable ABI in 2.11"* ]]
  run "$TOOL" --torch-stable-abi two "$STABLE"
  [ "$status" -eq 2 ]
}

@test "libtorch C++ symbols are reported by their demangled name; without the option a loose file is not held to the stable ABI" {
  run "$TOOL" --torch-stable-abi 2.11 "$BATS_TEST_TMPDIR/cxx.so"
  [ "$status" -eq 1 ]
  [[ "$output" == *"⛔ Non-stable Torch ABI symbols found (incompatible with Torch stable ABI 2.11):
    c10::detail::torchCheckFail(char const*, char const*, unsigned int, char const*)"* ]]
  run "$TOOL" "$BATS_TEST_TMPDIR/cxx.so"
  [ "$status" -eq 0 ]
}

@test "--json: abi-checked names the stable ABI and the violation kind" {
  run --separate-stderr "$TOOL" --json "$STABLE"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | events_eval '(ev[0]["torch_stable_abi"], ev[0]["files"][0]["violations"][0]["kind"], ev[0]["files"][0]["violations"][0]["symbol"])')" = \
    "('2.11', 'torch-stable-abi-newer', 'aoti_torch_dtype_float8_e8m0fnu')" ]
  # The recorded verdict says what the variant was checked against.
  grep -q '"torch_stable_abi": "2.11"' "$K/build/.kb-abi/torch-stable-abi211-cpu-x86_64-linux.json"
}

@test "stream: a torch-stable-abi variant is held to its stable ABI" {
  run --separate-stderr bash -c "printf '%s\n' \
    '{\"event\":\"project\",\"tool\":\"kb-genproject\",\"name\":\"k\",\"strict\":true}' \
    '{\"event\":\"variant-built\",\"tool\":\"kb-compile\",\"variant\":\"torch-stable-abi211-cpu-x86_64-linux\",\"dir\":\"$STABLE\",\"artifacts\":[\"_ops.abi3.so\"],\"seconds\":1,\"up_to_date\":false}' \
    '{\"event\":\"finished\",\"tool\":\"kb-compile\",\"success\":true}' | '$TOOL'"
  [ "$status" -eq 1 ]
  [ "$(printf '%s\n' "$output" | events_eval '[e["event"] for e in ev]')" = \
    "['project', 'abi-checked', 'error', 'variant-built', 'finished', 'finished']" ]
  [ "$(printf '%s\n' "$output" | events_eval 'ev[2]["message"]')" = \
    "variant torch-stable-abi211-cpu-x86_64-linux is not portable: 1 symbol(s) outside the Torch stable ABI 2.11" ]
}

@test "a tvm-ffi variant passes the tvm-ffi rules when it uses only the C API and exports a function" {
  run "$TOOL" "$TVM"
  [ "$status" -eq 0 ]
  [[ "$output" == *"🧩 Checking the tvm-ffi ABI rules"* ]]
  [[ "$output" == *"✅ No compatibility issues found"* ]]
}

@test "tvm-ffi rules: C++ ABI use, torch and a missing export are reported" {
  cp "$BATS_TEST_TMPDIR/tvm_cxx.so" "$TVM/_helper.so"
  cp "$STABLE/_ops.abi3.so" "$TVM/_torch.so"
  run "$TOOL" "$TVM"
  [ "$status" -eq 1 ]
  [[ "$output" == *"⛔ tvm-ffi ABI violations:
    uses tvm-ffi's C++ ABI, which changes between tvm-ffi releases (use its TVMFFI* C API): tvm::ffi::Helper::get()
    exports no tvm-ffi function (TVM_FFI_DLL_EXPORT_TYPED_FUNC)"* ]]
  [[ "$output" == *"    needs torch: aoti_torch_get_numel"* ]]
  [[ "$output" == *"    needs torch: torch_from_blob"* ]]
  # --tvm-ffi applies the rules to a loose object.
  run "$TOOL" --tvm-ffi "$BATS_TEST_TMPDIR/tvm_cxx.so"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tvm::ffi::Helper::get()"* ]]
  run "$TOOL" "$BATS_TEST_TMPDIR/tvm_cxx.so"
  [ "$status" -eq 0 ]
}

@test "--help documents the framework checks" {
  run "$TOOL" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--torch-stable-abi"* ]]
  [[ "$output" == *"--tvm-ffi"* ]]
  [[ "$output" == *"torch-stable-abi<MM>-"* ]]
}

# A torch package with only what scripts/update-abi-data.py reads.
fake_torch() {
  local t="$1"
  mkdir -p "$t/include/torch/csrc/stable/c" "$t/include/torch/csrc/inductor/aoti_torch/generated"
  printf '__version__ = "9.9.0+cpu"\n' > "$t/version.py"
  cat > "$t/include/torch/csrc/stable/c/shim.h" <<'H'
#ifndef STABLE_SHIM
#define STABLE_SHIM
#ifdef __cplusplus
extern "C" {
#endif
AOTI_TORCH_EXPORT int32_t torch_unversioned();
#if TORCH_FEATURE_VERSION >= TORCH_VERSION_2_10_0
AOTI_TORCH_EXPORT AOTITorchError
torch_multi_line(int a, // a comment (with parentheses)
    int b);
#ifdef USE_CUDA
AOTI_TORCH_EXPORT int32_t torch_cuda_only();
#endif // USE_CUDA
#endif // TORCH_FEATURE_VERSION >= TORCH_VERSION_2_10_0
#if TORCH_FEATURE_VERSION >= TORCH_VERSION_2_12_0
AOTI_TORCH_EXPORT int32_t torch_later();
#else
AOTI_TORCH_EXPORT int32_t torch_fallback();
#endif
#ifdef __cplusplus
}
#endif
#endif
H
  cat > "$t/include/torch/csrc/inductor/aoti_torch/generated/c_shim_cpu.h" <<'H'
AOTI_TORCH_EXPORT AOTITorchError aoti_torch_cpu_old(AtenTensorHandle self);
#if TORCH_FEATURE_VERSION >= TORCH_VERSION_2_13_0
AOTI_TORCH_EXPORT AOTITorchError aoti_torch_cpu_new(AtenTensorHandle self, AtenTensorHandle* ret0);
#endif // TORCH_FEATURE_VERSION >= TORCH_VERSION_2_13_0
#if TORCH_FEATURE_VERSION >= TORCH_VERSION_2_11_0
AOTI_TORCH_EXPORT int32_t torch_later();
#endif
H
}

@test "update-abi-data.py --torch-dir lists the shims of versioned blocks with their version" {
  fake_torch "$BATS_TEST_TMPDIR/torch"
  mkdir -p "$BATS_TEST_TMPDIR/data"
  run python3 "$KB_SOURCE_DIR/scripts/update-abi-data.py" --torch-dir "$BATS_TEST_TMPDIR/torch" --data-dir "$BATS_TEST_TMPDIR/data"
  [ "$status" -eq 0 ]
  [[ "$output" == *"wrote 4 Torch stable ABI shims (torch 9.9.0+cpu)"* ]]
  grep -q '^# Source: torch 9.9.0+cpu, ' "$BATS_TEST_TMPDIR/data/torch-stable-abi.txt"
  # Declared twice: available from the older version.
  [ "$(grep -v '^#' "$BATS_TEST_TMPDIR/data/torch-stable-abi.txt")" = "aoti_torch_cpu_new 2.13.0
torch_cuda_only 2.10.0
torch_later 2.11.0
torch_multi_line 2.10.0" ]
}

@test "the vendored Torch table is what the cached torch's headers give" {
  torch_dir=$(ls -d "$HOME"/.cache/kb/cuda-torch-venv/lib/python3*/site-packages/torch 2>/dev/null | head -1)
  [ -n "$torch_dir" ] || skip "no cached CUDA torch environment"
  vendored="$KB_SOURCE_DIR/libkb/abi/data/torch-stable-abi.txt"
  version=$(sed -n 's/^__version__ = .\([^"'"'"']*\).*/\1/p' "$torch_dir/version.py")
  grep -q "^# Source: torch $version, " "$vendored" || skip "the table comes from another torch than $version"
  mkdir -p "$BATS_TEST_TMPDIR/data"
  python3 "$KB_SOURCE_DIR/scripts/update-abi-data.py" --torch-dir "$torch_dir" --data-dir "$BATS_TEST_TMPDIR/data"
  diff "$vendored" "$BATS_TEST_TMPDIR/data/torch-stable-abi.txt"
}
