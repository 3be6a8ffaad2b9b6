#!/usr/bin/env bash
# The main job end to end: build examples/relu for every toolchain on this
# machine, check it, then import the built variant in Python and call relu.
set -euo pipefail
cd "$(dirname "$0")/.."
KB=build/bin/kb
PY=$(scripts/find-torch-python.sh)

echo "== kb build examples/relu" >&2
"$KB" build examples/relu -j 2

echo "== get_kernel(\"kb-examples/relu\", version=1) with $PY (LOCAL_KERNELS, no hub)" >&2
PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}" \
  LOCAL_KERNELS="kb-examples/relu=$PWD/examples/relu" "$PY" - <<'PYEOF'
from pathlib import Path

import torch
from kernels import get_kernel, get_loaded_kernels

# LOCAL_KERNELS maps the repo id to this checkout: no hub needed.
relu = get_kernel("kb-examples/relu", version=1)
(loaded,) = [k for k in get_loaded_kernels() if k.module is relu]

x = torch.linspace(-2.0, 2.0, steps=9)
y = relu.relu(x)
print(f"variant: {Path(relu.__file__).parent.name} (ops namespace torch.ops.{loaded.metadata.id})")
print("input: ", [round(v, 2) for v in x.tolist()])
print("relu:  ", [round(v, 2) for v in y.tolist()])
assert torch.equal(y, torch.relu(x)), "relu gave wrong values"
print("ok: matches torch.relu")
PYEOF
