"""Fixtures for the kernels package tests.

Run with the interpreter that has torch and PYTHONPATH=<build>/python (ctest
sets both, and KB_BIN=<build>/bin for the kernels these tests build).
"""
import json
import os
import platform
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RELU = REPO / "examples" / "relu"
COUNTER = REPO / "tests" / "fixtures" / "kernels" / "counter"
# tests/fixtures on the path: `from hub_server.process import HubProcess`.
sys.path.insert(0, str(REPO / "tests" / "fixtures"))


def torch_variant(cpu: str = None, os_name: str = "linux") -> str:
    """The torch arch CPU variant name the running torch loads."""
    import torch

    major, minor = torch.__version__.split(".")[:2]
    tag = "-cxx11" if torch.compiled_with_cxx11_abi() else "-cxx98"
    return f"torch{major}{minor}{tag}-cpu-{cpu or 'x86_64'}-{os_name}"


@pytest.fixture(scope="session", autouse=True)
def kb_scratch_dir(tmp_path_factory):
    """kb build's scratch directories (generated projects, CMake trees) of the
    kernels these tests build: under the session's temporary directory unless
    the caller chose a place (ctest: <build>/scratch), never ~/.cache."""
    if not os.environ.get("KB_SCRATCH_DIR"):
        os.environ["KB_SCRATCH_DIR"] = str(tmp_path_factory.mktemp("kb-scratch"))
    return Path(os.environ["KB_SCRATCH_DIR"])


@pytest.fixture(scope="session")
def cpu_linux_torch():
    """Skips tests whose expected traces assume a CPU torch on x86_64 Linux."""
    import torch

    if platform.system() != "Linux" or platform.machine() != "x86_64" or torch.version.cuda or torch.version.hip:
        pytest.skip("expected traces are written for a CPU torch on x86_64 Linux")
    return torch_variant()


@pytest.fixture(scope="session")
def relu_variant_dir(cpu_linux_torch):
    """examples/relu's variant for this torch (built by the example_relu fixture)."""
    path = RELU / "build" / cpu_linux_torch
    if not (path / "metadata.json").is_file():
        pytest.skip(f"{path} is not built: run `ctest -R example/relu/build` first")
    return path


def _kb_build(src: Path, dest: Path, unique_id: str, variant: str) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    kb = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
    result = subprocess.run(
        [str(kb), "build", str(dest), "--python", sys.executable, "--unique-id", unique_id, "--variant", variant],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"kb build {dest} failed:\n{result.stdout}\n{result.stderr}"
    return dest


@pytest.fixture(scope="session")
def kernel_builds(tmp_path_factory, cpu_linux_torch):
    """Two builds of examples/relu and two of the counter fixture, each with
    its own unique id, built once per session (in parallel)."""
    root = tmp_path_factory.mktemp("builds")
    jobs = {
        "relu_a": (RELU, "kbtesta"),
        "relu_b": (RELU, "kbtestb"),
        "counter_a": (COUNTER, "kbtesta"),
        "counter_b": (COUNTER, "kbtestb"),
    }
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = {
            name: pool.submit(_kb_build, src, root / name, uid, cpu_linux_torch) for name, (src, uid) in jobs.items()
        }
        return {name: future.result() for name, future in futures.items()}


def write_variant(
    path: Path,
    *,
    name: str = "fake",
    kernel_id: str = None,
    python_depends=(),
    provenance=None,
    layout: str = "flat",
    body: str = "VALUE = 42\n",
) -> Path:
    """A pure-Python variant directory (no shared object): metadata.json and
    a package that defines VALUE. `layout="compat"` puts the package in a
    directory named after the kernel, as legacy builds do."""
    path.mkdir(parents=True, exist_ok=True)
    metadata = {
        "name": name,
        "id": kernel_id or f"_{name.replace('-', '_')}_cpu_{uuid.uuid4().hex[:8]}",
        "version": 1,
        "license": "Apache-2.0",
        "python-depends": list(python_depends),
        "backend": {"type": "cpu"},
    }
    if provenance is not None:
        metadata["provenance"] = provenance
    (path / "metadata.json").write_text(json.dumps(metadata))
    package = path if layout == "flat" else path / name.replace("-", "_")
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(body)
    return path


@pytest.fixture
def local_kernels(monkeypatch):
    """Sets LOCAL_KERNELS for one test."""

    def set_value(value: str):
        monkeypatch.setenv("LOCAL_KERNELS", value)

    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    return set_value


@pytest.fixture
def fresh_layer_mapping():
    """An empty kernel mapping and layer cache for one test, restored after."""
    from kernels.layer import globals as layer_globals
    from kernels.layer import layer as layer_module

    token = layer_globals._KERNEL_MAPPING.set({})
    layer_module._CACHED_LAYER.clear()
    yield
    layer_globals._KERNEL_MAPPING.reset(token)
    layer_module._CACHED_LAYER.clear()
