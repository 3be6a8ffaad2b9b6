#!/usr/bin/env bash
# Provide the sigstore environment: a test-only virtual environment with the
# PyPI sigstore package (pinned; with it comes cryptography). The tests make
# signatures with the fake sigstore instance of tests/fixtures/sigstore in it
# and check that sigstore, the reference implementation, accepts and refuses
# the same bundles kb does. Never a dependency of kb.
#
# Created once and kept: when it imports sigstore at the pinned version,
# nothing is downloaded or reinstalled. Prints one line; pip's output goes to
# ${KB_LOG_DIR:-$HOME/.cache/kb/logs}/setup-sigstore-venv.log.
#
# Usage: scripts/setup-sigstore-venv.sh [--check]
#   --check   only report whether a usable environment exists (exit 1 if not)
#
# Environment:
#   KB_SIGSTORE_VENV      location (default ${HOME}/.cache/kb/sigstore-venv)
#   KB_SIGSTORE_VERSION   pin (default 4.5.1)
#   KB_VERBOSE=1          show pip's output as it runs instead of logging it
set -euo pipefail
# shellcheck source=lib/step.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/step.sh"

SIGSTORE_VERSION="${KB_SIGSTORE_VERSION:-4.5.1}"
venv="${KB_SIGSTORE_VENV:-${HOME}/.cache/kb/sigstore-venv}"
incomplete_marker="${venv}/.kb-setup-incomplete"

kb_setup_start setup-sigstore-venv "$@"

probe_venv() {
  [ -x "$venv/bin/python" ] || return 1
  env -u PYTHONPATH "$venv/bin/python" - "$SIGSTORE_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import cryptography, pytest, sigstore.verify  # noqa: F401
if version("sigstore") != sys.argv[1]:
    sys.exit(1)
print(version("sigstore"))
PY
}

present() {
  if facts="$(probe_venv)" && [ ! -e "$incomplete_marker" ]; then
    log "sigstore environment already present at $venv (sigstore $facts)"
    return 0
  fi
  return 1
}

present && exit 0
$check_only && { log "no usable sigstore environment at $venv"; exit 1; }
mkdir -p "$(dirname "$venv")"
exec 9>"${venv}.lock"
flock 9
present && exit 0
if [ -e "$venv" ] && [ ! -e "$incomplete_marker" ] && [ ! -e "$venv/kb-sigstore-venv" ]; then
  die "$venv exists but is not a sigstore environment made by this script; remove it or set KB_SIGSTORE_VENV"
fi

create_env() {
  local start_time python facts
  start_time=$(date +%s)
  if [ -e "$venv" ]; then
    echo "removing the unusable environment at $venv"
    rm -rf "$venv"
  fi
  python="$(command -v python3.11 || command -v python3)" || die "no Python interpreter to create the environment with"
  mkdir -p "$venv"
  touch "$incomplete_marker" "$venv/kb-sigstore-venv"
  echo "creating $venv with $python"
  "$python" -m venv "$venv" || die "\`$python -m venv $venv\` failed"
  env -u PYTHONPATH "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
      --only-binary=:all: "sigstore==$SIGSTORE_VERSION" pytest \
    || die "pip could not install sigstore==$SIGSTORE_VERSION into $venv (is the package index reachable?)"
  facts="$(probe_venv)" || die "installed into $venv, but sigstore==$SIGSTORE_VERSION does not import"
  rm -f "$incomplete_marker"
  echo "done in $(( $(date +%s) - start_time )) s (sigstore $facts)"
}

run_step setup-sigstore-venv "creating the sigstore environment at $venv (sigstore $SIGSTORE_VERSION)" -- create_env
