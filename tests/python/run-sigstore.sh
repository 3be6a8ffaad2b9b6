#!/usr/bin/env bash
# Runs pytest ARGS with the interpreter of the test-only sigstore environment
# (PyPI sigstore, made by scripts/setup-sigstore-venv.sh, `make test-tools`).
# Exits 77 (ctest: skipped) when that environment does not exist.
set -euo pipefail
venv="${KB_SIGSTORE_VENV:-${HOME}/.cache/kb/sigstore-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "run-sigstore: no environment at $venv (run scripts/setup-sigstore-venv.sh); skipping" >&2
  exit 77
fi
exec "$venv/bin/python" -m pytest "$@"
