"""kb's architecture check decides as PyPI kernels 0.19 does.

Every combination of declared CUDA archs (suffixes a, f, +PTX, plain,
unreadable strings, mixed lists) and device capability is decided by
kernels 0.19's own rule (in its venv, KB_KERNELS019_PYTHON or
~/.cache/kb/kernels-0.19-venv) and by kb's core (this repository's build,
KB_BUILD_PYTHONPATH); the two grids must be equal. Skipped when either
interpreter is missing.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hub_server.process import find_python  # noqa: E402

KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")

ARCHS = ["7.5", "8.0", "8.6", "9.0", "9.0a", "10.0f", "10.3f", "12.0", "9.0+PTX", "9.0a+PTX", "10.0f+PTX",
         "12.0+PTX", "garbage", "sm_90", "9", "9.0b", "9.0+ptx", "a", "+PTX", "9.0.1"]
LISTS = [[a] for a in ARCHS] + [list(pair) for pair in itertools.combinations(ARCHS, 2)]
CAPABILITIES = [(7, 5), (8, 0), (8, 6), (8, 9), (9, 0), (9, 1), (10, 0), (10, 3), (11, 0), (12, 0), (12, 1), (13, 0)]

UPSTREAM = """
import json, sys
from kernels._internals.archs import _supports_cuda_capability
lists, caps = json.loads(sys.stdin.read())
print(json.dumps([[_supports_cuda_capability(archs, tuple(cap)) for cap in caps] for archs in lists]))
"""

KB = """
import json, sys
from kernels import _core, Metadata
lists, caps = json.loads(sys.stdin.read())
def supported(archs, cap):
    text = json.dumps({"name": "arch-test", "id": "_arch_test_1", "version": 1, "license": "MIT",
                       "python-depends": [], "backend": {"type": "cuda", "archs": archs}})
    metadata = Metadata.from_bytes(text.encode())
    return _core.arch_refusal(metadata=metadata, variant="v", device=lambda: (tuple(cap), None)) is None
print(json.dumps([[supported(archs, cap) for cap in caps] for archs in lists]))
"""


@pytest.fixture(scope="session")
def kernels019_python():
    venv = os.path.join(os.path.expanduser("~"), ".cache", "kb", "kernels-0.19-venv")
    py = find_python("KB_KERNELS019_PYTHON", "from kernels._internals.archs import _supports_cuda_capability",
                     extra=[os.path.join(venv, "bin", "python")])
    if py is None:
        pytest.skip(f"PyPI kernels 0.19 is not importable here: make a venv with `pip install kernels==0.19.1` at "
                    f"{venv} (or set KB_KERNELS019_PYTHON)")
    return py


def grid(python: str, code: str, env: dict) -> list:
    out = subprocess.run([python, "-c", code], input=json.dumps([LISTS, CAPABILITIES]), env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cuda_arch_decisions_match_kernels_0_19(kernels019_python):
    if not (Path(KB_PYTHONPATH) / "kernels").is_dir():
        pytest.skip(f"{KB_PYTHONPATH} has no kernels package: build kb first")
    bare = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KB_TEST_DEVICE_CAPABILITY")}
    theirs = grid(kernels019_python, UPSTREAM, bare)
    ours = grid(sys.executable, KB, {**bare, "PYTHONPATH": KB_PYTHONPATH})
    differences = [(archs, cap, their, our)
                   for archs, their_row, our_row in zip(LISTS, theirs, ours)
                   for cap, their, our in zip(CAPABILITIES, their_row, our_row) if their != our]
    assert differences == []
    # The grid decides both ways, so it would notice a rule that always answers alike.
    flat = [value for row in ours for value in row]
    assert True in flat and False in flat
