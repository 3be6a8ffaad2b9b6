#!/usr/bin/env bash
# The main job end to end: build examples/relu for every toolchain on this
# machine, check it, publish it to the embedded local hub, then load it from
# the hub with get_kernel in a fresh Python process and call relu.
set -euo pipefail
cd "$(dirname "$0")/.."
KB=build/bin/kb
PY=$(scripts/find-torch-python.sh)

echo "== kb build examples/relu" >&2
"$KB" build examples/relu -j 2

# The embedded local hub of the demo: bare git repositories under build/.
export KB_HUB="local:$PWD/build/demo-hub"
export KERNELS_CACHE="$PWD/build/demo-cache"
echo "== kb upload examples/relu to $KB_HUB (the variants are manylinux_2_28-portable: no flag needed)" >&2
"$KB" upload examples/relu

echo "== get_kernel(\"kb-examples/relu\", version=1) from the hub, in a fresh $PY" >&2
PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}" "$PY" - <<'PYEOF'
from pathlib import Path

import torch
from kernels import get_kernel, get_loaded_kernels

relu = get_kernel("kb-examples/relu", version=1)
(loaded,) = [k for k in get_loaded_kernels() if k.module is relu]

x = torch.linspace(-2.0, 2.0, steps=9)
y = relu.relu(x)
print(f"variant: {Path(relu.__file__).parent.name} (ops namespace torch.ops.{loaded.metadata.id})")
print(f"fetched: {loaded.repo_info.repo_id}@{loaded.repo_info.revision[:12]} into {Path(relu.__file__).parent}")
print("input: ", [round(v, 2) for v in x.tolist()])
print("relu:  ", [round(v, 2) for v in y.tolist()])
assert torch.equal(y, torch.relu(x)), "relu gave wrong values"
print("ok: matches torch.relu")
PYEOF
