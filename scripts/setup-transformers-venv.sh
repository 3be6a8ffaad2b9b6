#!/usr/bin/env bash
# Provide the test-only environment for the layer tests that need torch 2.x
# and transformers: a virtual environment layered on the CUDA torch
# environment (scripts/setup-cuda-torch.sh), whose site-packages it sees
# through a .pth file, so torch is never downloaded twice, plus pinned
# transformers and pytest from PyPI (and setuptools + wheel, with which a
# test pip-installs kb's package into a throwaway environment layered on this
# one). kb's own `kernels` package is not installed here: the tests put
# build/python on PYTHONPATH. Never a dependency of kb.
#
# Created once and kept: when it imports torch 2.x and transformers at the
# pinned version, nothing is downloaded or reinstalled.
#
# Prints one line, whether the environment is already there or is created;
# pip's output goes to ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/setup-transformers-venv.log
# (overwritten on every run), whose last lines are shown when a step fails.
#
# Usage: scripts/setup-transformers-venv.sh [--check]
#   --check   only report whether a usable environment exists (exit 1 if not)
#
# Environment:
#   KB_TRANSFORMERS_VENV     location (default ${HOME}/.cache/kb/transformers-venv)
#   KB_TRANSFORMERS_VERSION  pin (default 5.23.0, the release whose kernels
#                            integration kb's package is tested against)
#   KB_CUDA_VENV             the CUDA torch environment to layer on
#   KB_VERBOSE=1             show pip's output as it runs instead of logging it
#   KB_LOG_DIR               where the log goes (default $HOME/.cache/kb/logs)
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

TRANSFORMERS_VERSION="${KB_TRANSFORMERS_VERSION:-5.23.0}"
venv="${KB_TRANSFORMERS_VENV:-${HOME}/.cache/kb/transformers-venv}"
base="${KB_CUDA_VENV:-${HOME}/.cache/kb/cuda-torch-venv}"
incomplete_marker="${venv}/.kb-setup-incomplete"

kb_setup_start setup-transformers-venv "$@"

# Prints "<torch> <transformers>" when the environment is usable. PYTHONPATH is
# dropped so nothing from this repository stands in.
probe_venv() {
  [ -x "$venv/bin/python" ] || return 1
  env -u PYTHONPATH "$venv/bin/python" - "$TRANSFORMERS_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import torch, transformers, pytest, wheel  # noqa: F401
if (int(torch.__version__.split(".")[0]) < 2 or version("transformers") != sys.argv[1]
        or int(version("setuptools").split(".")[0]) < 70):
    sys.exit(1)
print(torch.__version__, version("transformers"))
PY
}

if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
  log "transformers environment already present at $venv (torch, transformers: $facts)"
  exit 0
fi
$check_only && { log "no usable transformers environment at $venv"; exit 1; }

[ -x "$base/bin/python" ] || die "no CUDA torch environment at $base (run scripts/setup-cuda-torch.sh first)"
mkdir -p "$(dirname "$venv")"
exec 9>"${venv}.lock"
flock 9
if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
  log "transformers environment already present at $venv (torch, transformers: $facts)"
  exit 0
fi
if [ -e "$venv" ]; then
  [ -e "$incomplete_marker" ] || [ -e "$venv/kb-transformers-venv" ] \
    || die "$venv exists but is not a transformers environment made by this script; remove it or set KB_TRANSFORMERS_VENV"
fi

# Creates the environment; run by run_step, so its output (and a die message)
# goes to the log.
create_env() {
  local start_time base_python base_site site facts
  start_time=$(date +%s)
  if [ -e "$venv" ]; then
    echo "removing the unusable environment at $venv"
    rm -rf "$venv"
  fi
  mkdir -p "$venv"
  touch "$incomplete_marker" "$venv/kb-transformers-venv"
  # The same interpreter as the CUDA environment, so its packages import here.
  base_python="$(env -u PYTHONPATH "$base/bin/python" -c 'import sys; print(sys._base_executable)')"
  echo "creating $venv with $base_python, layered on $base"
  "$base_python" -m venv "$venv" || die "\`$base_python -m venv $venv\` failed"
  base_site="$(env -u PYTHONPATH "$base/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  site="$(env -u PYTHONPATH "$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$base_site" > "$site/kb-cuda-torch.pth"
  echo "installing transformers==$TRANSFORMERS_VERSION, pytest, setuptools, wheel (torch comes from $base)"
  env -u PYTHONPATH "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
      --only-binary=:all: "transformers==$TRANSFORMERS_VERSION" pytest "setuptools>=70" wheel \
    || die "pip could not install transformers==$TRANSFORMERS_VERSION into $venv (is the package index reachable?)"
  facts="$(probe_venv)" || die "installed into $venv, but torch 2.x / transformers==$TRANSFORMERS_VERSION do not import"
  rm -f "$incomplete_marker"
  echo "done in $(( $(date +%s) - start_time )) s (torch, transformers: $facts)"
}

run_step setup-transformers-venv "creating the transformers environment at $venv (transformers $TRANSFORMERS_VERSION)" -- create_env
