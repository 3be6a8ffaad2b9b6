#!/usr/bin/env bats
# Scaffolds of kb-init that kb builds as they are: `kb init --stable-abi 2.11`
# then `kb build` against Torch 2.x gives a torch-stable-abi211 variant, and
# `kb init --framework tvm-ffi` a tvm-ffi01 variant; each passes the
# scaffold's own example (and tests). Needs KB_BIN (directory of the kb
# executables; the Python package is built beside it), the CUDA torch
# environment (KB_TORCH2_PYTHON, default ~/.cache/kb/cuda-torch-venv/bin/python)
# and the tvm-ffi environment (KB_TVM_FFI_PYTHON, default
# ~/.cache/kb/tvm-ffi-venv/bin/python); a test is skipped when its is absent.

setup() {
  : "${KB_BIN:?KB_BIN must name the directory with the kb executables}"
  TORCH2_PYTHON="${KB_TORCH2_PYTHON:-$HOME/.cache/kb/cuda-torch-venv/bin/python}"
  TVM_FFI_PYTHON="${KB_TVM_FFI_PYTHON:-$HOME/.cache/kb/tvm-ffi-venv/bin/python}"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
  export KB_SCRATCH_DIR="$BATS_TEST_TMPDIR/scratch"
  WORK="$BATS_TEST_TMPDIR/work"
  mkdir -p "$WORK"
  cd "$WORK"
}

@test "kb init --stable-abi 2.11 builds a stable-ABI cpu variant that adds one" {
  [ -x "$TORCH2_PYTHON" ] || skip "no Torch 2.x interpreter at $TORCH2_PYTHON (scripts/setup-cuda-torch.sh)"
  run "$KB_BIN/kb-init" --name acme/add_one --stable-abi 2.11 --backends cpu
  [ "$status" -eq 0 ]
  cd add-one
  run "$KB_BIN/kb" build --python "$TORCH2_PYTHON" --unique-id st4ble
  echo "$output"
  [ "$status" -eq 0 ]
  V=build/torch-stable-abi211-cpu-x86_64-linux
  [ -f "$V/metadata.json" ]
  [ -f "$V/__init__.py" ]
  ls "$V"/_add_one_cpu_st4ble.abi3.so
  # The scaffold's own example loads the build through the kernels package.
  run env PYTHONPATH="$KB_BIN/../python" "$TORCH2_PYTHON" example.py
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok: result == input + 1"* ]]
}

@test "kb init --framework tvm-ffi builds a tvm-ffi cpu variant whose tests pass without Torch" {
  [ -x "$TVM_FFI_PYTHON" ] || skip "no tvm-ffi environment at $TVM_FFI_PYTHON (scripts/setup-tvm-ffi-venv.sh)"
  run "$KB_BIN/kb-init" --name acme/add_one --framework tvm-ffi --backends cpu
  [ "$status" -eq 0 ]
  cd add-one
  run "$KB_BIN/kb" build --python "$TVM_FFI_PYTHON" --unique-id tvmff1
  echo "$output"
  [ "$status" -eq 0 ]
  V=build/tvm-ffi01-cpu-x86_64-linux
  [ -f "$V/metadata.json" ]
  [ -f "$V/__init__.py" ]
  # The scaffold's own tests and example, in an environment without Torch:
  # the numpy tests run, the Torch one is skipped.
  run env PYTHONPATH="$KB_BIN/../python" "$TVM_FFI_PYTHON" -m pytest -q -p no:cacheprovider -rs tests
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"2 passed, 1 skipped"* ]]
  run env PYTHONPATH="$KB_BIN/../python" "$TVM_FFI_PYTHON" example.py
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok: result == input + 1"* ]]
}
