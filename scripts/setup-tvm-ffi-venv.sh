#!/usr/bin/env bash
# Provide the tvm-ffi environment: a virtual environment with PyPI's
# apache-tvm-ffi (pinned) and numpy, and no torch. kb builds tvm-ffi kernels
# with it (toolchain discovery finds <venv>/bin/python by default, as it finds
# the CUDA torch environment), and the tests load those kernels in it to show
# that a tvm-ffi kernel needs no torch. It uses the same interpreter as the
# CUDA torch environment, so the tests can also put its site-packages beside
# torch 2.x (DLPack between torch tensors and tvm-ffi kernels).
#
# Created once and kept: when it imports tvm_ffi at the pinned version,
# nothing is downloaded or reinstalled.
#
# Prints one line, whether the environment is already there or is created;
# pip's output goes to ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/setup-tvm-ffi-venv.log.
#
# Usage: scripts/setup-tvm-ffi-venv.sh [--check]
#   --check   only report whether a usable environment exists (exit 1 if not)
#
# Environment:
#   KB_TVM_FFI_VENV      location (default ${HOME}/.cache/kb/tvm-ffi-venv)
#   KB_TVM_FFI_VERSION   pin (default 0.1.15.post2)
#   KB_CUDA_VENV         the CUDA torch environment whose interpreter is used
#                        (default ${HOME}/.cache/kb/cuda-torch-venv; python3.11
#                        or python3 when it does not exist)
#   KB_VERBOSE=1         show pip's output as it runs instead of logging it
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

TVM_FFI_VERSION="${KB_TVM_FFI_VERSION:-0.1.15.post2}"
venv="${KB_TVM_FFI_VENV:-${HOME}/.cache/kb/tvm-ffi-venv}"
cuda_venv="${KB_CUDA_VENV:-${HOME}/.cache/kb/cuda-torch-venv}"
incomplete_marker="${venv}/.kb-setup-incomplete"

kb_setup_start setup-tvm-ffi-venv "$@"

# Prints the tvm-ffi version when the environment is usable: the pinned
# tvm_ffi imports, numpy too, and torch does not (it must stay torch-free).
probe_venv() {
  [ -x "$venv/bin/python" ] || return 1
  env -u PYTHONPATH "$venv/bin/python" - "$TVM_FFI_VERSION" <<'PY' 2>/dev/null
import importlib.util, sys
from importlib.metadata import version
import tvm_ffi, numpy  # noqa: F401
if version("apache-tvm-ffi") != sys.argv[1] or importlib.util.find_spec("torch") is not None:
    sys.exit(1)
print(tvm_ffi.__version__)
PY
}

if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
  log "tvm-ffi environment already present at $venv (tvm-ffi $facts)"
  exit 0
fi
$check_only && { log "no usable tvm-ffi environment at $venv"; exit 1; }

mkdir -p "$(dirname "$venv")"
exec 9>"${venv}.lock"
flock 9
if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
  log "tvm-ffi environment already present at $venv (tvm-ffi $facts)"
  exit 0
fi
if [ -e "$venv" ]; then
  [ -e "$incomplete_marker" ] || [ -e "$venv/kb-tvm-ffi-venv" ] \
    || die "$venv exists but is not a tvm-ffi environment made by this script; remove it or set KB_TVM_FFI_VENV"
fi

base_python() {
  if [ -x "$cuda_venv/bin/python" ]; then
    env -u PYTHONPATH "$cuda_venv/bin/python" -c 'import sys; print(sys._base_executable)'
  else
    command -v python3.11 || command -v python3
  fi
}

create_env() {
  local start_time python facts
  start_time=$(date +%s)
  if [ -e "$venv" ]; then
    echo "removing the unusable environment at $venv"
    rm -rf "$venv"
  fi
  python="$(base_python)" || die "no Python interpreter to create the environment with"
  mkdir -p "$venv"
  touch "$incomplete_marker" "$venv/kb-tvm-ffi-venv"
  echo "creating $venv with $python"
  "$python" -m venv "$venv" || die "\`$python -m venv $venv\` failed"
  env -u PYTHONPATH "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
      --only-binary=:all: "apache-tvm-ffi==$TVM_FFI_VERSION" numpy pytest \
    || die "pip could not install apache-tvm-ffi==$TVM_FFI_VERSION into $venv (is the package index reachable?)"
  facts="$(probe_venv)" || die "installed into $venv, but tvm_ffi==$TVM_FFI_VERSION does not import (or torch does)"
  rm -f "$incomplete_marker"
  echo "done in $(( $(date +%s) - start_time )) s (tvm-ffi $facts)"
}

run_step setup-tvm-ffi-venv "creating the tvm-ffi environment at $venv (apache-tvm-ffi $TVM_FFI_VERSION)" -- create_env
