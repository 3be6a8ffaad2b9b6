#!/usr/bin/env bash
# The main job end to end: build examples/relu for every toolchain on this
# machine, check it, then import the built variant in Python and call relu.
set -euo pipefail
cd "$(dirname "$0")/.."
KB=build/bin/kb
PY=$(scripts/find-torch-python.sh)

echo "== kb build examples/relu" >&2
"$KB" build examples/relu -j 2

echo "== loading the built variant with $PY" >&2
"$PY" - <<'PYEOF'
import importlib.util
import json
import sys
from pathlib import Path

import torch

def variant_name():
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    minor = "".join(c for c in minor if c.isdigit())
    compute = "cu" + "".join(torch.version.cuda.split(".")[:2]) if torch.version.cuda else "cpu"
    abi = "cxx11" if torch.compiled_with_cxx11_abi() else "cxx98"
    return f"torch{major}{minor}-{abi}-{compute}-x86_64-linux"

variant = Path("examples/relu/build") / variant_name()
meta = json.loads((variant / "metadata.json").read_text())
spec = importlib.util.spec_from_file_location(meta["id"], variant / "__init__.py",
                                              submodule_search_locations=[str(variant)])
relu = importlib.util.module_from_spec(spec)
sys.modules[meta["id"]] = relu
spec.loader.exec_module(relu)

x = torch.linspace(-2.0, 2.0, steps=9)
y = relu.relu(x)
print(f"variant: {variant.name} (ops namespace torch.ops.{meta['id']})")
print("input: ", [round(v, 2) for v in x.tolist()])
print("relu:  ", [round(v, 2) for v in y.tolist()])
assert torch.equal(y, torch.relu(x)), "relu gave wrong values"
print("ok: matches torch.relu")
PYEOF
