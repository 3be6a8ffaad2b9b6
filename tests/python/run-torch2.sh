#!/usr/bin/env bash
# Runs pytest ARGS with the interpreter of the test-only transformers
# environment (torch 2.x from PyPI plus transformers; made by
# scripts/setup-transformers-venv.sh, which `make test` runs). Exits 77
# (ctest: skipped) when that environment does not exist.
set -euo pipefail
venv="${KB_TRANSFORMERS_VENV:-${HOME}/.cache/kb/transformers-venv}"
if [ ! -x "$venv/bin/python" ]; then
  echo "run-torch2: no environment at $venv (run scripts/setup-transformers-venv.sh); skipping" >&2
  exit 77
fi
exec "$venv/bin/python" -m pytest "$@"
