#!/usr/bin/env bash
# Provide a Python virtual environment holding a CUDA build of torch from PyPI
# whose CUDA major version matches the local CUDA toolkit (nvcc). kb's
# toolchain discovery picks up <venv>/bin/python by default, so CUDA kernels
# can be configured and compiled even on a machine without a GPU.
#
# The environment is large (several GiB of CUDA libraries), so it is created
# once and kept: when it exists, imports torch and reports a matching CUDA
# major version, nothing is downloaded or reinstalled.
#
# Prints one line, whether the environment is already there or is created;
# pip's output goes to ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/setup-cuda-torch.log
# (overwritten on every run), whose last lines are shown when a step fails.
#
# Usage: scripts/setup-cuda-torch.sh [--check]
#   --check   only report whether a usable environment exists (exit 1 if not),
#             with its details (python, torch, CMake config, size)
#
# Environment:
#   KB_CUDA_VENV           location (default ${HOME}/.cache/kb/cuda-torch-venv)
#   KB_CUDA_TORCH_VERSION  exact torch version to install (default: the newest
#                          PyPI release built for the local CUDA major version
#                          with a minor version not above the local one)
#   KB_CUDA_VENV_PYTHON    interpreter used to create the environment
#                          (default: pyenv's newest 3.11, else python3.11, python3)
#   CUDA_HOME / CUDA_PATH  toolkit whose bin/nvcc decides the CUDA version
#   KB_VERBOSE=1           show pip's output as it runs instead of logging it,
#                          and the details of an existing environment
#   KB_LOG_DIR             where the log goes (default $HOME/.cache/kb/logs)
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

venv="${KB_CUDA_VENV:-${HOME}/.cache/kb/cuda-torch-venv}"
incomplete_marker="${venv}/.kb-setup-incomplete"
info_file="${venv}/kb-cuda-torch.json"

kb_setup_start setup-cuda-torch "$@"

find_nvcc() {
  local home
  for home in "${CUDA_HOME:-}" "${CUDA_PATH:-}"; do
    if [ -n "$home" ] && [ -x "$home/bin/nvcc" ]; then echo "$home/bin/nvcc"; return 0; fi
  done
  if command -v nvcc >/dev/null 2>&1; then command -v nvcc; return 0; fi
  if [ -x /usr/local/cuda/bin/nvcc ]; then echo /usr/local/cuda/bin/nvcc; return 0; fi
  return 1
}

nvcc="$(find_nvcc)" || die "no nvcc found (looked at \$CUDA_HOME/bin, \$CUDA_PATH/bin, PATH, /usr/local/cuda/bin)"
# "Cuda compilation tools, release 13.0, V13.0.88" -> 13.0
cuda_version="$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n1)"
[ -n "$cuda_version" ] || die "cannot read the CUDA release from \`$nvcc --version\`"
cuda_major="${cuda_version%%.*}"
cuda_minor="${cuda_version#*.}"

# Prints "<torch version> <cuda version> <cmake dir>" when the environment is usable.
probe_venv() {
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - "$cuda_major" <<'EOF' 2>/dev/null
import os, sys
import torch
cuda = torch.version.cuda
if not cuda or cuda.split(".")[0] != sys.argv[1]:
    sys.exit(1)
cmake_dir = os.path.join(torch.utils.cmake_prefix_path, "Torch")
if not os.path.isfile(os.path.join(cmake_dir, "TorchConfig.cmake")):
    sys.exit(1)
print(torch.__version__, cuda, cmake_dir)
EOF
}

report() {
  local facts="$1"
  read -r torch_version torch_cuda cmake_dir <<<"$facts"
  echo "python:      $venv/bin/python"
  echo "torch:       $torch_version (CUDA $torch_cuda)"
  echo "cmake dir:   $cmake_dir"
  echo "local nvcc:  $nvcc (CUDA $cuda_version)"
  echo "size:        $(du -sh "$venv" 2>/dev/null | cut -f1)"
}

# One line when the environment is usable; its details with --check or KB_VERBOSE.
present() {
  local facts
  if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
    log "CUDA torch environment already present at $venv"
    if $check_only || kb_step_verbose; then report "$facts"; fi
    return 0
  fi
  return 1
}

present && exit 0
if $check_only; then
  log "no usable CUDA $cuda_major torch environment at $venv"
  exit 1
fi

mkdir -p "$(dirname "$venv")"
# One installer at a time; a second caller waits, then finds the result.
exec 9>"${venv}.lock"
flock 9
present && exit 0

# Only a directory this script started (and did not finish) is removed.
if [ -e "$venv" ] && [ ! -e "$incomplete_marker" ]; then
  die "$venv exists but is not a usable CUDA $cuda_major torch environment; remove it or set KB_CUDA_VENV"
fi

pick_python() {
  if [ -n "${KB_CUDA_VENV_PYTHON:-}" ]; then echo "$KB_CUDA_VENV_PYTHON"; return 0; fi
  local root candidate best=""
  root="${PYENV_ROOT:-$HOME/.pyenv}"
  for candidate in $(printf '%s\n' "$root"/versions/3.11.*/bin/python3.11 | sort -V); do
    [ -x "$candidate" ] && best="$candidate"
  done
  if [ -z "$best" ]; then
    best="$(command -v python3.11 || command -v python3 || true)"
  fi
  [ -n "$best" ] && echo "$best"
}

base_python="$(pick_python)" || die "no Python 3 interpreter found to create the environment"

# CUDA version a torch release was built for, read from its PyPI metadata
# (no wheel download): the pinned cuda-toolkit / nvidia-cuda-runtime requirement.
torch_cuda_of() {
  local version="$1" report_file
  report_file="$(mktemp)"
  if ! "${pip[@]}" install --dry-run --ignore-installed --no-deps --quiet \
       --report "$report_file" "torch==$version" >/dev/null 2>&1; then
    rm -f "$report_file"; return 1
  fi
  "$py" - "$report_file" <<'EOF'
import json, re, sys
report = json.load(open(sys.argv[1]))
for item in report["install"]:
    for req in item["metadata"].get("requires_dist", []):
        m = re.match(r"(?:cuda-toolkit(?:\[[^\]]*\])?|nvidia-cuda-runtime(?:-cu\d+)?)\s*==\s*(\d+)\.(\d+)", req)
        if m:
            print(m.group(1) + "." + m.group(2))
            sys.exit(0)
sys.exit(1)
EOF
  local rc=$?
  rm -f "$report_file"
  return $rc
}

# Creates the environment; run by run_step, so its output (and a die message)
# goes to the log.
create_env() {
  local start_time end_time
  start_time=$(date +%s)
  if [ -e "$venv" ]; then
    echo "removing the unfinished environment at $venv"
    rm -rf "$venv"
  fi
  echo "creating $venv with $base_python ($("$base_python" --version 2>&1)) for the local CUDA $cuda_version ($nvcc)"
  # The marker goes in first so that an interrupted setup is recognised as ours.
  mkdir -p "$venv"
  touch "$incomplete_marker"
  "$base_python" -m venv "$venv"
  py="$venv/bin/python"
  pip=("$py" -m pip --disable-pip-version-check)

  torch_version="${KB_CUDA_TORCH_VERSION:-}"
  if [ -z "$torch_version" ]; then
    versions="$("${pip[@]}" index versions torch 2>/dev/null | sed -n 's/^Available versions: //p' | tr -d ',')" || true
    [ -n "$versions" ] || die "cannot list torch versions on the package index (pip index versions torch)"
    checked=0
    for v in $versions; do
      checked=$((checked + 1))
      [ "$checked" -le 15 ] || break
      built_for="$(torch_cuda_of "$v")" || continue
      log "torch $v is built for CUDA $built_for"
      if [ "${built_for%%.*}" = "$cuda_major" ] && [ "${built_for#*.}" -le "$cuda_minor" ]; then
        torch_version="$v"
        break
      fi
    done
    [ -n "$torch_version" ] || die "no recent torch release on the package index is built for CUDA $cuda_major.x (<= $cuda_version)"
  else
    built_for="$(torch_cuda_of "$torch_version")" || die "torch==$torch_version: no CUDA build found on the package index"
    [ "${built_for%%.*}" = "$cuda_major" ] || die "torch==$torch_version is built for CUDA $built_for, the local toolkit is $cuda_version"
  fi

  log "installing torch==$torch_version (CUDA $built_for) into $venv; this downloads several GiB"
  # numpy keeps torch from warning at import and is used by most kernel tests.
  "${pip[@]}" install --no-cache-dir --progress-bar off "torch==$torch_version" numpy

  facts="$(probe_venv)" || die "torch was installed into $venv but \`import torch\` or its CMake config does not work"
  end_time=$(date +%s)
  "$py" - "$info_file" "$torch_version" "$built_for" "$cuda_version" "$((end_time - start_time))" <<'EOF'
import json, sys
path, torch_version, torch_cuda, nvcc_cuda, seconds = sys.argv[1:]
with open(path, "w") as f:
    json.dump({"torch": torch_version, "torch_cuda": torch_cuda, "nvcc_cuda": nvcc_cuda,
               "install_seconds": int(seconds)}, f, indent=2)
    f.write("\n")
EOF
  rm -f "$incomplete_marker"
  echo "done in $((end_time - start_time)) s"
  report "$facts"
}

run_step setup-cuda-torch "creating the CUDA $cuda_major torch environment at $venv (downloads several GiB)" -- create_env
