"""`kernels benchmark` of PyPI kernels 0.19.1 and kb's, side by side on the
same local kernel (examples/relu built by kb for the 0.19.1 interpreter's
torch, CPU variant) in the same interpreter: the same workloads, the same
payload shape and script digest, and mean times that agree within noise.

This machine has no GPU while the interpreter's torch is a CUDA build. Both
runners pick the device from how torch was built, so both would time on
"cuda" and fail; each run therefore starts with torch.version.cuda = None,
which makes both (and both loaders) see the CPU torch this comparison is for.

Skipped unless an interpreter with kernels 0.19.1 and torch is found
(KB_KERNELS019_PYTHON, else ~/.cache/kb/kernels-0.19-venv/bin/python).
tabulate is taken from the system Python (python3-tabulate) when that
interpreter lacks it."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")
KB_BIN = Path(os.environ.get("KB_BIN") or ROOT / "build" / "bin")
RELU = ROOT / "examples" / "relu"

RUN = """\
import sys
import torch
torch.version.cuda = None  # no GPU here: both runners must see a CPU torch
side = sys.argv[1]
sys.argv = ["kernels", "benchmark", *sys.argv[2:]]
if side == "019":
    from kernels._internals.cli import main
else:
    from kernels.cli import main
sys.exit(main())
"""


@pytest.fixture(scope="module")
def tabulate_path(python019, tmp_path_factory):
    """A directory holding tabulate for python019 ("" when it has its own)."""
    if subprocess.run([python019, "-c", "import tabulate"], capture_output=True).returncode == 0:
        return ""
    system = subprocess.run(["/usr/bin/python3", "-c", "import tabulate; print(tabulate.__file__)"],
                            capture_output=True, text=True)
    if system.returncode != 0:
        pytest.skip("tabulate is in neither interpreter (apt install python3-tabulate)")
    shim = tmp_path_factory.mktemp("tabulate")
    (shim / "tabulate.py").symlink_to(system.stdout.strip())
    return str(shim)


def torch_cpu_variant(python: str) -> str:
    out = subprocess.run([python, "-c", "import torch; v = torch.__version__.split('.'); "
                          "print(f'torch{v[0]}{v[1]}-cxx11-cpu-x86_64-linux' if torch.compiled_with_cxx11_abi() "
                          "else f'torch{v[0]}{v[1]}-cxx98-cpu-x86_64-linux')"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="module")
def relu_cpu(python019, tmp_path_factory):
    """A copy of examples/relu built by kb for python019's torch, CPU variant only."""
    dest = tmp_path_factory.mktemp("relu") / "relu"
    shutil.copytree(RELU, dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    scratch = os.environ.get("KB_SCRATCH_DIR") or str(tmp_path_factory.mktemp("kb-scratch"))
    out = subprocess.run([str(KB_BIN / "kb"), "build", str(dest), "--python", python019,
                          "--variant", torch_cpu_variant(python019), "--unique-id", "kbbench"],
                         env={**os.environ, "KB_SCRATCH_DIR": scratch}, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-4000:]
    return dest


def run_side(side: str, python: str, tabulate_path: str, kernel: Path, tmp_path: Path) -> dict:
    paths = [p for p in ([KB_PYTHONPATH] if side == "kb" else []) + [tabulate_path] if p]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCAL_KERNELS", "KB_HUB")}
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    output = tmp_path / f"{side}.json"
    proc = subprocess.run([python, "-c", RUN, side, str(kernel), "--iterations", "200", "--warmup", "20",
                           "--output", str(output)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{side}: {proc.stderr[-4000:]}"
    return json.loads(output.read_text())


def test_kb_and_pypi_runners_agree_on_the_same_kernel(python019, tabulate_path, relu_cpu, tmp_path):
    pypi = run_side("019", python019, tabulate_path, relu_cpu, tmp_path)
    kb = run_side("kb", python019, tabulate_path, relu_cpu, tmp_path)

    assert set(kb) == set(pypi)
    assert kb["benchmarkScriptPath"] == pypi["benchmarkScriptPath"] == "benchmarks"
    assert kb["benchmarkScriptSha"] == pypi["benchmarkScriptSha"]
    assert kb["kernelCommitSha"] == pypi["kernelCommitSha"] == "kbbench"
    assert set(kb["machineInfo"]) == set(pypi["machineInfo"])
    for key in ("gpu", "backend", "pytorchVersion", "os"):
        assert kb["machineInfo"][key] == pypi["machineInfo"][key], key
    names = [r["workload"] for r in kb["results"]]
    assert names == [r["workload"] for r in pypi["results"]] == [
        "ReluBenchmark.large", "ReluBenchmark.medium", "ReluBenchmark.small"]

    ratios = []
    for ours, theirs in zip(kb["results"], pypi["results"]):
        assert set(ours) == set(theirs) and ours["verified"] is theirs["verified"] is True
        assert set(ours["timingResults"]) == set(theirs["timingResults"])
        assert ours["timingResults"]["iterations"] == theirs["timingResults"]["iterations"] == 200
        # The middle of each distribution: the mean of Q1 and Q3 resists the outliers of a shared machine.
        mid_kb = (ours["timingResults"]["q1_ms"] + ours["timingResults"]["q3_ms"]) / 2
        mid_pypi = (theirs["timingResults"]["q1_ms"] + theirs["timingResults"]["q3_ms"]) / 2
        ratios.append(mid_kb / mid_pypi)
        print(f"{ours['workload']}: kb mean {ours['timingResults']['mean_ms']} ms, "
              f"0.19.1 mean {theirs['timingResults']['mean_ms']} ms, "
              f"kb/0.19.1 of the quartile midpoints {mid_kb / mid_pypi:.3f}")
    median_ratio = statistics.median(ratios)
    print(f"median ratio kb/0.19.1: {median_ratio:.3f}")
    assert 0.5 <= median_ratio <= 2.0, ratios
