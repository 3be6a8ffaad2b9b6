"""`kernels variants` of PyPI kernels 0.19 and of this repository's package,
run by the same interpreter (same torch, same Python) against the same
loopback hub state: legacy and dotted names, abi3t, stable ABI, SDKs, mlx,
cann/npu noarch. The decisions, reasons and preferred marks must be the same;
only the order of equally ranked variants may differ (0.19 lists them in the
order of a Python set, kb by name).

Skipped unless an interpreter with kernels 0.19 and torch is found:
KB_KERNELS019_PYTHON, else ~/.cache/kb/kernels-0.19-venv/bin/python. CPU
variants are left out: kb accepts them as a fallback on a CUDA torch without
a GPU, where 0.19 does not."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hub_server.process import HubProcess  # noqa: E402

KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")
TOKEN = "hf_variants_compat"
REPO = "kb-examples/variants"


def names_for(python: str) -> list[str]:
    facts = subprocess.run(
        [python, "-c", "import torch; v = torch.__version__.split('+')[0].split('.'); print(v[0], v[1])"],
        capture_output=True, text=True, timeout=300, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert facts.returncode == 0, facts.stderr
    major, minor = facts.stdout.split()
    t, d = f"torch{major}{minor}", f"torch-{major}.{minor}"
    return [
        f"{t}-cxx11-cu130-x86_64-linux", f"{t}-cu126-x86_64-linux", f"{t}-cxx11-cu132-x86_64-linux",
        f"{d}-cxx11-cuda-13.0-cpython-3.9-abi3-x86_64-linux", f"{d}-cuda-13.0-cpython-3.12-abi3-x86_64-linux",
        f"{d}-cuda-13.0-cpython-3.15-abi3t-x86_64-linux", f"{d}-cuda-12.6-cpython-3.10-abi3-x86_64-linux",
        "torch-stable-abi-2.12-cuda-13.0-cpython-3.9-abi3-x86_64-linux", "torch-stable-abi29-cu130-x86_64-linux",
        "torch-stable-abi-9.0-cuda-13.0-cpython-3.9-abi3-x86_64-linux", f"{t}-cxx11-rocm71-x86_64-linux",
        f"{t}-metal-aarch64-darwin", f"{t}-cxx98-cu130-x86_64-linux", "tvm-ffi01-cu130-x86_64-linux",
        "torch-cuda", "torch-universal", "torch-cann", "torch-npu", "mlx-cuda", "sdk", "sdk-cuda", "sdk-rocm",
        "sdk-cuda-13.0-cpython-3.9-abi3-x86_64-linux", "sdk-cpython-3.15-abi3t-x86_64-linux",
        "sdk-cpython-3.9-abi3-aarch64-linux",
    ]


@pytest.fixture(scope="module")
def hub(tmp_path_factory, python019):
    names = names_for(python019)
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        max_lifetime=600)
    server.commit(REPO, "v1", {f"build/{n}/metadata.json": b"{}\n" for n in names[:6]})
    server.commit(REPO, "v2", {f"build/{n}/metadata.json": b"{}\n" for n in names})
    yield server
    server.stop()


def run_both(python, hub, tmp_path, *args):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN, "KERNELS_CACHE": str(tmp_path / "cache"),
           "HF_HOME": str(tmp_path / "hf")}
    for key in ("KB_HUB", "HF_HUB_OFFLINE", "PYTHONPATH"):
        env.pop(key, None)
    theirs = subprocess.run([python, "-c", "from kernels._internals.cli import main; main()", "variants", REPO, *args],
                            env=env, capture_output=True, text=True, timeout=300)
    ours = subprocess.run([python, "-m", "kernels", "variants", REPO, *args],
                          env={**env, "PYTHONPATH": KB_PYTHONPATH}, capture_output=True, text=True, timeout=300)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    return theirs.stdout, ours.stdout


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """(label, decision lines) per version, from the text form."""
    out = []
    for line in text.splitlines():
        if line.startswith(("Version ", "Revision ")):
            out.append((line, []))
        elif line:
            out[-1][1].append(line)
    return out


def rank(line: str) -> int:
    return 0 if "preferred ✅" in line else 1 if line.endswith("✅") else 2


@pytest.mark.parametrize("args", [["--all-versions"], ["--only-compatible"], ["--revision", "v1"]])
def test_text_form_matches(python019, hub, tmp_path, args):
    theirs, ours = run_both(python019, hub, tmp_path, *args)
    assert [label for label, _ in blocks(ours)] == [label for label, _ in blocks(theirs)]
    for (_, a), (_, b) in zip(blocks(theirs), blocks(ours)):
        assert sorted(a) == sorted(b)
        assert [rank(line) for line in a] == [rank(line) for line in b]


def test_json_form_matches(python019, hub, tmp_path):
    theirs, ours = run_both(python019, hub, tmp_path, "--json", "--all-versions")
    a, b = json.loads(theirs), json.loads(ours)
    assert ours == json.dumps(b, indent=2) + "\n"
    assert [(r["version"], r["revision"]) for r in a["revisions"]] == [(r["version"], r["revision"])
                                                                        for r in b["revisions"]]
    for ra, rb in zip(a["revisions"], b["revisions"]):
        assert {v["variant"]: v for v in ra["variants"]} == {v["variant"]: v for v in rb["variants"]}
        assert [(v["compatible"], v["preferred"]) for v in ra["variants"]] == [
            (v["compatible"], v["preferred"]) for v in rb["variants"]]
