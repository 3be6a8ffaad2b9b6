"""tvm-ffi kernels through the kernels package, in a Python without torch.

Runs in the tvm-ffi test environment (apache-tvm-ffi and numpy, no torch:
tests/python/run-tvm-ffi.sh). The relu-tvm-ffi fixture's CPU variant is
compiled once per session with the real compiler against tvm-ffi, its
_ops.py rendered from kb's template, and finalized by `kb hash`. The cases
with torch (2.x with tvm-ffi; Debian's torch without it) run in those
interpreters as subprocesses, skipped where they are absent.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import REPO

# Resolution must not depend on a GPU of the machine running the tests: the
# CUDA runtime (if any) sees no device, so CPU variants load.
os.environ["CUDA_VISIBLE_DEVICES"] = ""

np = pytest.importorskip("numpy")
tvm_ffi = pytest.importorskip("tvm_ffi")

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
FIXTURE = REPO / "tests" / "fixtures" / "kernels" / "relu-tvm-ffi"
TEMPLATE = REPO / "libkb" / "project" / "data" / "_ops_tvm_ffi.py.in"
OPS_NAME = "_relu_tvm_ffi_cpu_kbtest1"
VARIANT = "tvm-ffi{}{}-cpu-x86_64-linux".format(*tvm_ffi.__version__.split(".")[:2])
TORCH2_PYTHON = Path.home() / ".cache" / "kb" / "cuda-torch-venv" / "bin" / "python"
DEBIAN_PYTHON = Path("/usr/bin/python3")

if sys.platform != "linux" or os.uname().machine != "x86_64":
    pytest.skip("the fixture variant is built for x86_64 Linux", allow_module_level=True)


def _tvm_ffi_config(flag: str) -> str:
    out = subprocess.run([sys.executable, "-m", "tvm_ffi.config", flag], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def build_variant(kernel_dir: Path, dest: Path) -> Path:
    """A copy of `kernel_dir` at `dest` with its tvm-ffi CPU variant built in
    dest/build/VARIANT, finalized (digest) by `kb hash`. The one place to
    replace with `kb build` once it builds tvm-ffi kernels."""
    shutil.copytree(kernel_dir, dest, ignore=shutil.ignore_patterns("build", "__pycache__"))
    variant = dest / "build" / VARIANT
    variant.mkdir(parents=True)
    includes = {_tvm_ffi_config("--includedir"), _tvm_ffi_config("--dlpack-includedir")}
    compile_cmd = [
        os.environ.get("CXX", "c++"),
        "-std=c++17",
        "-O2",
        "-fPIC",
        "-shared",
        "-fvisibility=hidden",
        f"-I{dest / 'tvm-ffi-ext'}",
        *[f"-I{d}" for d in sorted(includes)],
        str(dest / "tvm-ffi-ext" / "tvm_ffi_binding.cpp"),
        str(dest / "relu_cpu" / "relu_cpu.cpp"),
        f"-L{_tvm_ffi_config('--libdir')}",
        "-ltvm_ffi",
        "-o",
        str(variant / f"{OPS_NAME}.so"),
    ]
    result = subprocess.run(compile_cmd, capture_output=True, text=True)
    assert result.returncode == 0, f"compiling relu-tvm-ffi failed:\n{result.stderr}"
    shutil.copy(dest / "tvm-ffi-ext" / "relu_tvm_ffi" / "__init__.py", variant / "__init__.py")
    (variant / "_ops.py").write_text(TEMPLATE.read_text().replace("@OPS_NAME@", OPS_NAME))
    metadata = (
        '{"name": "relu-tvm-ffi", "id": "%s", "version": 1, "license": "Apache-2.0", '
        '"python-depends": [], "backend": {"type": "cpu"}}' % OPS_NAME
    )
    (variant / "metadata.json").write_text(metadata)
    result = subprocess.run([str(KB), "hash", str(dest)], capture_output=True, text=True)
    assert result.returncode == 0, f"kb hash failed:\n{result.stdout}\n{result.stderr}"
    return dest


@pytest.fixture(scope="session")
def relu_tvm_ffi(tmp_path_factory) -> Path:
    return build_variant(FIXTURE, tmp_path_factory.mktemp("tvm-ffi") / "relu-tvm-ffi")


@pytest.fixture(scope="session")
def with_other_variants(relu_tvm_ffi, tmp_path_factory) -> Path:
    """relu-tvm-ffi plus variants this process cannot load: torch ones (arch
    and a CPU noarch one) and a tvm-ffi one of another version."""
    root = tmp_path_factory.mktemp("mixed") / "kernel"
    shutil.copytree(relu_tvm_ffi / "build", root / "build")
    for name in ("torch210-cxx11-cpu-x86_64-linux", "torch29-cxx11-cpu-x86_64-linux", "tvm-ffi09-cpu-x86_64-linux"):
        (root / "build" / name).mkdir()
    return root


def _python_path() -> str:
    import kernels

    return str(Path(kernels.__file__).resolve().parents[1])


def run_python(python: Path, code: str, *, extra_path=(), **env) -> subprocess.CompletedProcess:
    """Runs `code` with `python` (kb's package on its path) in a fresh process."""
    full = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([_python_path(), *map(str, extra_path)])}
    return subprocess.run([str(python), "-c", code], env=full, capture_output=True, text=True)


def test_import_kernels_does_not_import_torch():
    out = run_python(
        Path(sys.executable),
        "import sys, kernels\n"
        "assert kernels.get_kernel and kernels.get_local_kernel and kernels.has_kernel\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert run_python(Path(sys.executable), "import torch").returncode != 0, "this environment must not have torch"


def test_get_local_kernel_runs_relu_on_numpy(relu_tvm_ffi):
    import kernels

    relu = kernels.get_local_kernel(relu_tvm_ffi)
    x = np.array([-2.0, -0.5, 0.0, 1.5, 3.0], dtype=np.float32)
    out = np.full_like(x, 7.0)
    assert relu.relu(out, x) is out
    assert out.tolist() == [0.0, 0.0, 0.0, 1.5, 3.0]
    count = relu.numel(np.zeros((3, 4), dtype=np.float32))
    assert count == 12 and isinstance(count, int)
    with pytest.raises(TypeError, match="relu: input must be float32"):
        relu.relu(np.zeros(5, dtype=np.float32), x.astype(np.float64))
    assert "torch" not in sys.modules
    assert Path(relu.__file__).parent.name == VARIANT


def test_generated_ops_helpers(relu_tvm_ffi):
    import kernels

    relu = kernels.get_local_kernel(relu_tvm_ffi)
    ops = sys.modules[f"{OPS_NAME}._ops"]
    assert ops.jax_add_ffi_target_name_prefix("relu") == f"{OPS_NAME}.relu"
    assert ops.torch_add_op_namespace_prefix("relu") == f"{OPS_NAME}::relu"
    assert ops.has_torch is False and ops.has_jax is False
    with pytest.raises(ImportError, match="needs JAX"):
        ops.jax_register_ffi_target("relu")
    assert relu.numel(np.zeros(2, dtype=np.float32)) == 2


def test_get_kernel_through_local_kernels(relu_tvm_ffi, local_kernels):
    import kernels

    local_kernels(f"kb-test/relu-tvm-ffi={relu_tvm_ffi}")
    relu = kernels.get_kernel("kb-test/relu-tvm-ffi")
    x = np.array([-1.0, 2.0], dtype=np.float32)
    assert relu.relu(np.empty_like(x), x).tolist() == [0.0, 2.0]
    assert kernels.has_kernel("kb-test/relu-tvm-ffi")


def test_variants_reject_torch_and_other_tvm_ffi_versions(with_other_variants, local_kernels):
    import kernels

    local_kernels(f"kb-test/mixed={with_other_variants}")
    decisions = {str(d.variant): d for d in kernels.get_kernel_variants("kb-test/mixed")}
    assert isinstance(decisions[VARIANT], kernels.VariantAccepted)
    assert decisions["torch210-cxx11-cpu-x86_64-linux"].reason == (
        "Torch version (2.10) does not match environment Torch version (None)"
    )
    assert decisions["torch29-cxx11-cpu-x86_64-linux"].reason == (
        "Torch version (2.9) does not match environment Torch version (None)"
    )
    version = ".".join(tvm_ffi.__version__.split(".")[:2])
    assert decisions["tvm-ffi09-cpu-x86_64-linux"].reason == (
        f"tvm-ffi version (0.9) does not match environment tvm-ffi version ({version})"
    )


def test_get_kernel_from_a_local_hub(relu_tvm_ffi, tmp_path):
    hub = f"local:{tmp_path / 'hub'}"
    up = subprocess.run(
        [str(KB), "upload", str(relu_tvm_ffi), "--repo-id", "kb-test/relu-tvm-ffi", "--allow-nonportable", "-q"],
        env={**os.environ, "KB_HUB": hub},
        capture_output=True,
        text=True,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    code = (
        "import sys, numpy as np, kernels\n"
        "relu = kernels.get_kernel('kb-test/relu-tvm-ffi', version=1, trust_remote_code=True)\n"
        "x = np.array([-3.0, 4.0], dtype=np.float32)\n"
        "print(relu.relu(np.empty_like(x), x).tolist(), 'torch' in sys.modules)\n"
        "(entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]\n"
        "print(entry.repo_info.repo_id)\n"
    )
    out = run_python(Path(sys.executable), code, KB_HUB=hub, KERNELS_CACHE=str(tmp_path / "cache"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "[0.0, 4.0] False"
    assert lines[1] == "kb-test/relu-tvm-ffi"
    assert list((tmp_path / "cache").rglob(f"{VARIANT}/{OPS_NAME}.so")), "the variant is fetched into the cache"
    # `kernels variants` judges the hub's variants for this torch-free process.
    out = run_python(
        Path(sys.executable),
        "import sys; from kernels.cli import main; sys.argv = ['kernels', 'variants', 'kb-test/relu-tvm-ffi']; main()",
        KB_HUB=hub,
        KERNELS_CACHE=str(tmp_path / "cache"),
    )
    assert out.returncode == 0, out.stderr
    assert f"{VARIANT} compatible, preferred" in out.stdout


def test_torch2_runs_the_kernel_on_torch_tensors(relu_tvm_ffi):
    if not TORCH2_PYTHON.exists():
        pytest.skip(f"no torch 2.x environment at {TORCH2_PYTHON}")
    code = (
        "import torch, kernels\n"
        f"relu = kernels.get_local_kernel({str(relu_tvm_ffi)!r})\n"
        "x = torch.linspace(-2, 2, 9)\n"
        "out = torch.empty_like(x)\n"
        "relu.relu(out, x)\n"
        "assert torch.equal(out, torch.relu(x)), out\n"
        "print(torch.__version__.split('.')[0], relu.numel(torch.zeros(2, 3)))\n"
    )
    out = run_python(TORCH2_PYTHON, code, extra_path=[sysconfig.get_paths()["purelib"]])
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["2", "6"]


def test_without_tvm_ffi_only_a_tvm_ffi_variant_cannot_load(relu_tvm_ffi):
    if not DEBIAN_PYTHON.exists() or run_python(DEBIAN_PYTHON, "import torch").returncode != 0:
        pytest.skip(f"no torch at {DEBIAN_PYTHON}")
    if run_python(DEBIAN_PYTHON, "import tvm_ffi").returncode == 0:
        pytest.skip(f"{DEBIAN_PYTHON} has tvm_ffi")
    code = (
        "import kernels\n"
        "try:\n"
        "    kernels.get_kernel('kb-test/relu-tvm-ffi')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__); print(e)\n"
        "else:\n"
        "    print('loaded')\n"
    )
    out = run_python(DEBIAN_PYTHON, code, LOCAL_KERNELS=f"kb-test/relu-tvm-ffi={relu_tvm_ffi}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] != "loaded"
    assert "Cannot find a build variant" in out.stdout
    version = ".".join(tvm_ffi.__version__.split(".")[:2])
    assert f"{VARIANT}: tvm-ffi version ({version}) does not match environment tvm-ffi version (None)" in out.stdout
    # A variant directory named directly is imported as it is: its _ops.py says what is missing.
    code = (
        "import kernels\n"
        "try:\n"
        f"    kernels.get_local_kernel({str(relu_tvm_ffi / 'build' / VARIANT)!r})\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = run_python(DEBIAN_PYTHON, code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f"This kernel is a tvm-ffi build ({OPS_NAME}): it needs the tvm-ffi package (`pip install apache-tvm-ffi`)."
    )
