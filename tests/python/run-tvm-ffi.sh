#!/usr/bin/env bash
# Runs pytest ARGS with the interpreter of the test-only tvm-ffi environment
# (apache-tvm-ffi and numpy, no torch; made by scripts/setup-tvm-ffi-venv.sh,
# `make tvm-ffi`). Exits 77 (ctest: skipped) when that environment does not exist.
set -euo pipefail
venv="${KB_TVM_FFI_VENV:-${HOME}/.cache/kb/tvm-ffi-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "run-tvm-ffi: no environment at $venv (run scripts/setup-tvm-ffi-venv.sh); skipping" >&2
  exit 77
fi
exec "$venv/bin/python" -m pytest "$@"
