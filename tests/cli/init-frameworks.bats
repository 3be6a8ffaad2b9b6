#!/usr/bin/env bats
# kb-init --framework tvm-ffi and --stable-abi: the scaffolds, and the
# combinations it refuses. KB_BIN names the directory of the kb executables.

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TOOL="$KB_BIN/kb-init"
  WORK="$BATS_TEST_TMPDIR/work"
  mkdir -p "$WORK"
  cd "$WORK"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
}

# Files of the project at $1 (without .git), one per line, sorted.
files_of() {
  (cd "$1" && find . -path ./.git -prune -o -type f -print | sed 's|^\./||' | sort)
}

@test "--help describes --framework and --stable-abi" {
  run "$TOOL" --help
  [ "$status" -eq 0 ]
  [[ "$output" == *"--framework"* ]]
  [[ "$output" == *"tvm-ffi"* ]]
  [[ "$output" == *"--stable-abi"* ]]
  [[ "$output" == *"MAJOR.MINOR"* ]]
}

@test "--framework tvm-ffi scaffolds a tvm-ffi kernel for cpu and cuda" {
  run "$TOOL" --name acme/add_one --framework tvm-ffi --backends cpu cuda
  [ "$status" -eq 0 ]
  [ "$output" = "Initialized \`acme/add-one\` at $WORK/add-one" ]
  D="$WORK/add-one"
  [ "$(files_of "$D" | tr '\n' ' ')" = ".gitattributes .gitignore CARD.md Makefile add_one_cpu/add_one_cpu.cpp add_one_cuda/add_one_cuda.cu build.toml example.py tests/__init__.py tests/test_add_one.py tvm-ffi-ext/add_one.h tvm-ffi-ext/add_one/__init__.py tvm-ffi-ext/tvm_ffi_binding.cpp " ]
  grep -qx '\[tvm-ffi\]' "$D/build.toml"
  run grep -q '^\[torch' "$D/build.toml"
  [ "$status" -eq 1 ]
  grep -qx '\[kernel.add_one_cpu\]' "$D/build.toml"
  grep -qx '\[kernel.add_one_cuda\]' "$D/build.toml"
  [ "$(grep -c '^depends = \[\]$' "$D/build.toml")" -eq 2 ]
  grep -q 'TVM_FFI_DLL_EXPORT_TYPED_FUNC(add_one, add_one);' "$D/tvm-ffi-ext/tvm_ffi_binding.cpp"
  grep -q 'TVMFFIEnvGetStream(kDLCUDA' "$D/add_one_cuda/add_one_cuda.cu"
  # No Python file needs torch to be imported.
  run grep -rqE '^(import|from) torch' "$D" --include='*.py'
  [ "$status" -eq 1 ]
  # kb reads it as a valid tvm-ffi kernel.
  run "$KB_BIN/kb" check-config "$D"
  [ "$status" -eq 0 ]
  # Every file is staged.
  [ "$(git -C "$D" diff --cached --name-only | sort)" = "$(files_of "$D")" ]
}

@test "a tvm-ffi kernel defaults to cuda; --framework torch is the default scaffold" {
  run "$TOOL" --name acme/relu --framework tvm-ffi
  [ "$status" -eq 0 ]
  [ -f "$WORK/relu/relu_cuda/relu_cuda.cu" ]
  [ ! -e "$WORK/relu/relu_cpu" ]
  grep -qx 'backends = \["cuda"\]' "$WORK/relu/build.toml"

  run "$TOOL" plain --name acme/relu --framework torch
  [ "$status" -eq 0 ]
  run "$TOOL" default --name acme/relu
  [ "$status" -eq 0 ]
  diff -r -x .git "$WORK/plain" "$WORK/default"
  grep -qx '\[torch\]' "$WORK/plain/build.toml"
  run grep -q 'stable-abi' "$WORK/plain/build.toml"
  [ "$status" -eq 1 ]
}

@test "--stable-abi writes the version and stable-API bindings" {
  run "$TOOL" --name acme/add_one --stable-abi 2.11 --backends cpu,cuda
  [ "$status" -eq 0 ]
  D="$WORK/add-one"
  grep -qx 'stable-abi = "2.11"' "$D/build.toml"
  grep -q 'STABLE_TORCH_LIBRARY_EXPAND(TORCH_EXTENSION_NAME, ops)' "$D/torch-ext/torch_binding.cpp"
  grep -q 'torch::stable::Tensor' "$D/torch-ext/torch_binding.h"
  grep -q 'STD_TORCH_CHECK' "$D/add_one_cpu/add_one_cpu.cpp"
  grep -q 'aoti_torch_get_current_cuda_stream' "$D/add_one_cuda/add_one.cu"
  run grep -rq 'torch/all.h' "$D"
  [ "$status" -eq 1 ]
  run "$KB_BIN/kb" check-config "$D"
  [ "$status" -eq 0 ]
  run "$KB_BIN/kb" list-variants "$D"
  [ "$status" -eq 0 ]
  [[ "$output" == *"torch-stable-abi211-cpu-"* ]]
}

@test "--stable-abi with tvm-ffi is refused and nothing is written" {
  run "$TOOL" --name acme/relu --framework tvm-ffi --stable-abi 2.11 --backends cpu
  [ "$status" -eq 1 ]
  [ "$output" = "Error: --stable-abi applies to Torch kernels only: a tvm-ffi kernel does not link against Torch" ]
  [ ! -e "$WORK/relu" ]
}

@test "backends other than cpu and cuda are refused for tvm-ffi and the stable ABI" {
  run "$TOOL" --name acme/relu --framework tvm-ffi --backends cpu metal rocm
  [ "$status" -eq 1 ]
  [ "$output" = "Error: kb scaffolds tvm-ffi kernels for cpu and cuda only; not for: metal, rocm" ]
  run "$TOOL" --name acme/relu --framework tvm-ffi --backends all
  [ "$status" -eq 1 ]
  [[ "$output" == *"not for: cann, metal, neuron, rocm, tpu, xpu" ]]
  run "$TOOL" --name acme/relu --stable-abi 2.11 --backends xpu
  [ "$status" -eq 1 ]
  [ "$output" = "Error: kb scaffolds Torch stable-ABI kernels (--stable-abi) for cpu and cuda only; not for: xpu" ]
  [ ! -e "$WORK/relu" ]
}

@test "a malformed --stable-abi or --framework is a usage error" {
  for bad in 2 2.11.0 v2.11 2.x; do
    run "$TOOL" --name acme/relu --stable-abi "$bad"
    [ "$status" -eq 2 ]
    [[ "$output" == *"--stable-abi \`$bad\` must be a Torch version MAJOR.MINOR"* ]]
  done
  run "$TOOL" --name acme/relu --stable-abi 2.9
  [ "$status" -eq 2 ]
  [[ "$output" == *"use 2.10 or newer"* ]]
  run "$TOOL" --name acme/relu --framework jax
  [ "$status" -eq 2 ]
  [[ "$output" == *"Unknown framework: jax; expected one of: torch, tvm-ffi"* ]]
  [ ! -e "$WORK/relu" ]
}
