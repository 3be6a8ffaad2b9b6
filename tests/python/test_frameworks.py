"""Kernels beyond classic torch extensions, end to end: a tvm-ffi kernel
(tests/fixtures/kernels/relu-tvm-ffi) and a torch stable-ABI kernel
(tests/fixtures/kernels/relu-stable-abi) built with `kb build`, judged by
`kb check-abi`, published to a local hub and to the Hugging Face Hub fixture,
and loaded:

- the tvm-ffi kernel in the tvm-ffi environment, which has no torch
  (scripts/setup-tvm-ffi-venv.sh), on numpy arrays; with torch 2.x beside
  tvm_ffi on torch tensors; from C++ without Python (examples/tvm-ffi-app);
- the stable-ABI kernel on torch 2.14 (the CUDA torch environment, on the
  CPU), refused by this process's torch 1.13 with the runtime's reason.

The CUDA variants of both are compiled and linked (no GPU runs them here).
Every load runs in a fresh interpreter of the environment it needs."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kernels
from conftest import REPO
from hub_server.process import HubProcess

BIN = Path(os.environ.get("KB_BIN", REPO / "build" / "bin"))
KB = BIN / "kb"
BUILD_PYTHON = Path(kernels.__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "kernels"
TVM_FFI_VENV = Path(os.environ.get("KB_TVM_FFI_VENV", Path.home() / ".cache" / "kb" / "tvm-ffi-venv"))
CUDA_VENV = Path(os.environ.get("KB_CUDA_VENV", Path.home() / ".cache" / "kb" / "cuda-torch-venv"))
TVM_FFI_PYTHON = TVM_FFI_VENV / "bin" / "python"
TORCH2_PYTHON = CUDA_VENV / "bin" / "python"
CPP_APP = BIN / "kb-tvm-ffi-app-example"
TOKEN = "hf_kb_test"

needs_tvm_ffi = pytest.mark.skipif(not TVM_FFI_PYTHON.exists(), reason=f"no tvm-ffi environment at {TVM_FFI_VENV}")
needs_torch2 = pytest.mark.skipif(not TORCH2_PYTHON.exists(), reason=f"no torch 2.x environment at {CUDA_VENV}")


def have_nvcc() -> bool:
    return shutil.which("nvcc") is not None or Path("/usr/local/cuda/bin/nvcc").exists()


def site_packages(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE", "PYTHONPATH", "KB_PYTHON")}
    env.update(extra)
    return env


def kb(*args, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(KB), *map(str, args)], env=env or clean_env(), capture_output=True, text=True,
                            timeout=1500)
    if check:
        assert result.returncode == 0, f"kb {' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
    return result


def run_in(python: Path, code: str, pythonpath: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-c", code], env=clean_env(PYTHONPATH=pythonpath, **env),
                          capture_output=True, text=True, timeout=300)


def git_copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "k"]):
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)
    return dest


@pytest.fixture(scope="module")
def tvm_ffi_kernel(tmp_path_factory):
    if not TVM_FFI_PYTHON.exists():
        pytest.skip(f"no tvm-ffi environment at {TVM_FFI_VENV}")
    kernel = git_copy(FIXTURES / "relu-tvm-ffi", tmp_path_factory.mktemp("tvm") / "relu-tvm-ffi")
    kb("build", kernel, "-j", "2")
    return kernel


@pytest.fixture(scope="module")
def stable_kernel(tmp_path_factory):
    if not TORCH2_PYTHON.exists():
        pytest.skip(f"no torch 2.x environment at {CUDA_VENV}")
    kernel = git_copy(FIXTURES / "relu-stable-abi", tmp_path_factory.mktemp("stable") / "relu-stable-abi")
    kb("build", kernel, "-j", "2")
    return kernel


def variants(kernel: Path) -> list:
    return sorted(p.name for p in (kernel / "build").iterdir() if p.is_dir() and not p.name.startswith("."))


def cuda_suffix() -> str:
    out = subprocess.run(["nvcc", "--version"] if shutil.which("nvcc") else ["/usr/local/cuda/bin/nvcc", "--version"],
                         capture_output=True, text=True).stdout
    release = out.split("release ")[1].split(",")[0]
    major, minor = release.split(".")[:2]
    return f"cu{major}{minor}"


# ------------------------------------------------------------------ tvm-ffi


def test_tvm_ffi_build_has_a_plain_library_and_no_torch(tvm_ffi_kernel):
    names = variants(tvm_ffi_kernel)
    assert "tvm-ffi01-cpu-x86_64-linux" in names
    if have_nvcc():
        assert f"tvm-ffi01-{cuda_suffix()}-x86_64-linux" in names
    cpu = tvm_ffi_kernel / "build" / "tvm-ffi01-cpu-x86_64-linux"
    metadata = json.loads((cpu / "metadata.json").read_text())
    ops = metadata["id"]
    assert ops.startswith("_relu_tvm_ffi_cpu_")
    assert sorted(p.name for p in cpu.iterdir()) == sorted(
        ["__init__.py", "_ops.py", f"{ops}.so", "metadata.json", "symbols.json"])
    needed = subprocess.run(["readelf", "-d", str(cpu / f"{ops}.so")], capture_output=True, text=True).stdout
    assert "[libtvm_ffi.so]" in needed
    assert "libtorch" not in needed and "libc10" not in needed
    exported = subprocess.run(["nm", "-D", "--defined-only", str(cpu / f"{ops}.so")], capture_output=True,
                              text=True).stdout
    assert " T __tvm_ffi_relu" in exported and " T __tvm_ffi_numel" in exported
    symbols = json.loads((cpu / "symbols.json").read_text())
    assert sorted(f["name"] for f in symbols["functions"]) == ["numel", "relu"]
    # The kernel directory gets build/ only: the generated project is in the scratch directory.
    assert not (tvm_ffi_kernel / "CMakeLists.txt").exists()
    assert not (tvm_ffi_kernel / "tvm-ffi-ext" / "relu_tvm_ffi" / "_ops.py").exists()


def test_tvm_ffi_variants_pass_the_tvm_ffi_abi_check(tvm_ffi_kernel):
    result = kb("check-abi", tvm_ffi_kernel)
    assert "tvm-ffi ABI" in result.stderr + result.stdout
    assert "⛔" not in result.stderr + result.stdout


@needs_tvm_ffi
def test_tvm_ffi_kernel_loads_where_there_is_no_torch(tvm_ffi_kernel):
    code = f"""
import importlib.util, sys
assert importlib.util.find_spec("torch") is None, "this environment must not have torch"
import numpy as np
import kernels
k = kernels.get_local_kernel({str(tvm_ffi_kernel)!r})
x = np.array([-1.5, 2.0, -3.0, 4.25], dtype=np.float32)
out = np.empty_like(x)
assert k.relu(out, x) is out
assert out.tolist() == [0.0, 2.0, 0.0, 4.25], out
assert k.numel(x) == 4
try:
    k.relu(out, x.astype(np.float64))
except TypeError as e:
    assert "input must be float32" in str(e), e
else:
    raise AssertionError("float64 accepted")
assert "torch" not in sys.modules
print(k.__file__)
"""
    result = run_in(TVM_FFI_PYTHON, code, str(BUILD_PYTHON))
    assert result.returncode == 0, result.stderr
    assert "/tvm-ffi01-cpu-x86_64-linux/" in result.stdout


@needs_tvm_ffi
@needs_torch2
def test_tvm_ffi_kernel_runs_on_torch_tensors(tvm_ffi_kernel):
    code = f"""
import torch, kernels
k = kernels.get_local_kernel({str(tvm_ffi_kernel)!r}, backend="cpu")
x = torch.tensor([-1.0, 2.0, -3.0, 4.0])
out = torch.empty_like(x)
k.relu(out, x)
assert out.tolist() == [0.0, 2.0, 0.0, 4.0], out
print("ok")
"""
    result = run_in(TORCH2_PYTHON, code, f"{BUILD_PYTHON}:{site_packages(TVM_FFI_VENV)}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_tvm_ffi_kernel_is_refused_without_tvm_ffi(tvm_ffi_kernel):
    # This interpreter has torch 1.13 and no tvm_ffi.
    with pytest.raises(FileNotFoundError) as e:
        kernels.get_local_kernel(tvm_ffi_kernel, backend="cpu")
    assert ("tvm-ffi01-cpu-x86_64-linux: tvm-ffi version (0.1) does not match environment tvm-ffi version (None)"
            in str(e.value)), str(e.value)


@pytest.mark.skipif(not CPP_APP.exists(), reason="the tvm-ffi C++ example is not built")
def test_tvm_ffi_kernel_loads_in_a_cpp_program(tvm_ffi_kernel):
    result = subprocess.run([str(CPP_APP), str(tvm_ffi_kernel)], capture_output=True, text=True, timeout=120,
                            env=clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tvm-ffi01-cpu-x86_64-linux" in result.stdout + result.stderr


# ------------------------------------------------------------- stable ABI


def test_stable_abi_builds_one_variant_per_compute_with_the_newest_torch(stable_kernel):
    names = variants(stable_kernel)
    expected = ["torch-stable-abi211-cpu-x86_64-linux"]
    if have_nvcc():
        expected.append(f"torch-stable-abi211-{cuda_suffix()}-x86_64-linux")
    # Debian's torch 1.13 is older than the ABI: no torch113 variant, no other name.
    assert names == sorted(expected)
    metadata = json.loads((stable_kernel / "build" / expected[0] / "metadata.json").read_text())
    assert metadata["id"].startswith("_relu_stable_abi_cpu_")


def test_stable_abi_variants_pass_the_stable_abi_check(stable_kernel):
    result = kb("check-abi", stable_kernel)
    out = result.stdout + result.stderr
    assert "Torch stable ABI version 2.11" in out
    assert "⛔" not in out


@needs_torch2
def test_stable_abi_variant_loads_on_a_newer_torch(stable_kernel):
    code = f"""
import torch, kernels
k = kernels.get_local_kernel({str(stable_kernel)!r}, backend="cpu")
assert "/torch-stable-abi211-cpu-x86_64-linux/" in k.__file__, k.__file__
x = torch.tensor([-1.0, 2.0, -3.0, 4.0])
assert k.relu(x).tolist() == [0.0, 2.0, 0.0, 4.0]
try:
    k.relu(x.double())
except RuntimeError as e:
    assert "input must be float32" in str(e), e
else:
    raise AssertionError("float64 accepted")
print(torch.__version__)
"""
    result = run_in(TORCH2_PYTHON, code, str(BUILD_PYTHON))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("2.")


def test_stable_abi_variant_is_refused_by_an_older_torch(stable_kernel):
    with pytest.raises(FileNotFoundError) as e:
        kernels.get_local_kernel(stable_kernel, backend="cpu")
    assert ("torch-stable-abi211-cpu-x86_64-linux: Torch stable ABI version (2.11) is too new for environment "
            "Torch version (1.13)") in str(e.value), str(e.value)


@needs_torch2
def test_stable_abi_is_preferred_over_a_torch_build_and_a_too_new_abi_is_refused(stable_kernel, tmp_path):
    # Beside a build for exactly this torch and a stable ABI newer than this
    # torch, the stable-ABI 2.11 build is the one loaded.
    stable = stable_kernel / "build" / "torch-stable-abi211-cpu-x86_64-linux"
    both = tmp_path / "both" / "build"
    for name in ("torch-stable-abi211-cpu-x86_64-linux", "torch214-cxx11-cpu-x86_64-linux",
                 "torch-stable-abi299-cpu-x86_64-linux"):
        shutil.copytree(stable, both / name)
    code = """
import sys, kernels
try:
    print(kernels.get_local_kernel(sys.argv[-1], backend="cpu").__file__)
except FileNotFoundError as e:
    print(e)
"""
    chosen = subprocess.run([str(TORCH2_PYTHON), "-c", code, str(both.parent)], capture_output=True, text=True,
                            env=clean_env(PYTHONPATH=str(BUILD_PYTHON)), timeout=300)
    assert chosen.returncode == 0, chosen.stderr
    assert "/torch-stable-abi211-cpu-x86_64-linux/__init__.py" in chosen.stdout, chosen.stdout
    only_new = tmp_path / "new" / "build"
    shutil.copytree(stable, only_new / "torch-stable-abi299-cpu-x86_64-linux")
    refused = subprocess.run([str(TORCH2_PYTHON), "-c", code, str(only_new.parent)], capture_output=True, text=True,
                             env=clean_env(PYTHONPATH=str(BUILD_PYTHON)), timeout=300)
    assert ("torch-stable-abi299-cpu-x86_64-linux: Torch stable ABI version (2.99) is too new for environment "
            "Torch version (2.14)") in refused.stdout, refused.stdout + refused.stderr


def test_a_libtorch_cxx_symbol_in_a_stable_abi_build_is_flagged(tmp_path):
    if not TORCH2_PYTHON.exists():
        pytest.skip(f"no torch 2.x environment at {CUDA_VENV}")
    kernel = tmp_path / "leaky"
    shutil.copytree(FIXTURES / "relu-stable-abi", kernel)
    source = kernel / "relu_cpu" / "relu_cpu.cpp"
    # torch's headers refuse its C++ API under TORCH_TARGET_VERSION, but a
    # declaration of its own still links against libc10: not stable ABI.
    source.write_text(
        "#include <cstdint>\n"
        "namespace c10::detail {\n"
        "[[noreturn]] void torchCheckFail(const char*, const char*, uint32_t, const char*);\n"
        "}\n" + source.read_text().replace(
            "  const float* in",
            "  if (input.numel() < 0) c10::detail::torchCheckFail(__func__, __FILE__, __LINE__, \"never\");\n"
            "  const float* in"))
    result = kb("build", kernel, "--backend", "cpu", check=False)
    check = kb("check-abi", kernel, check=False)
    out = check.stdout + check.stderr
    assert check.returncode == 1, out
    assert "Non-stable Torch ABI symbols found (incompatible with Torch stable ABI 2.11)" in out, out
    assert "c10::detail::torchCheckFail" in out, out
    # kb build judged it too: the summary says what is wrong with the variant.
    assert "Torch stable ABI" in result.stdout + result.stderr, result.stdout + result.stderr


# --------------------------------------------------------------- bad input


def test_stable_abi_newer_than_every_torch_fails_naming_the_key_and_versions(tmp_path):
    kernel = git_copy(FIXTURES / "relu-stable-abi", tmp_path / "relu-stable-abi")
    # Like any backend this machine cannot build: skipped with the reason.
    result = kb("build", kernel, "--python", "/usr/bin/python3", "--backend", "cpu", check=False)
    out = result.stdout + result.stderr
    assert "nothing to build on this machine" in out, out
    assert '[torch] stable-abi = "2.11" needs torch >= 2.11' in out, out
    assert "has torch 1.13" in out, out
    assert not (kernel / "build").exists() or not any((kernel / "build").iterdir())


def test_tvm_ffi_kernel_without_tvm_ffi_fails_naming_what_was_tried(tmp_path):
    kernel = git_copy(FIXTURES / "relu-tvm-ffi", tmp_path / "relu-tvm-ffi")
    result = kb("build", kernel, "--python", "/usr/bin/python3", check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "cannot import tvm_ffi" in out, out
    assert "/usr/bin/python3" in out and "apache-tvm-ffi" in out, out
    assert not (kernel / "build").exists() or not any((kernel / "build").iterdir())


# ------------------------------------------------------------------- hubs


@pytest.fixture(scope="module")
def hf_hub(tmp_path_factory):
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-frameworks"],
                        max_lifetime=900)
    yield server
    server.stop()


def publish(kernel: Path, repo_id: str, hub_kind: str, tmp_path: Path, request) -> dict:
    """`kb upload` of `kernel` to a fresh local hub or to the HF Hub fixture;
    the environment that loads from there into a fresh cache."""
    if hub_kind == "local":
        env = {"KB_HUB": f"local:{tmp_path / 'hub'}"}
    else:
        hub = request.getfixturevalue("hf_hub")
        env = {"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}
    kb("upload", kernel, "--repo-id", repo_id, "-q", env=clean_env(**env))
    return {**env, "KERNELS_CACHE": str(tmp_path / "cache")}


HUB_LOAD_TVM_FFI = """
import importlib.util, sys
import numpy as np
import kernels
k = kernels.get_kernel("{repo}", version=1)
x = np.array([-2.0, 3.0], dtype=np.float32)
out = np.empty_like(x)
k.relu(out, x)
assert out.tolist() == [0.0, 3.0], out
assert "torch" not in sys.modules
print(k.__file__)
"""


@needs_tvm_ffi
@pytest.mark.parametrize("hub_kind", ["local", "hf"])
def test_tvm_ffi_kernel_from_a_hub(tvm_ffi_kernel, hub_kind, tmp_path, request):
    repo = "kb-frameworks/relu-tvm-ffi"
    env = publish(tvm_ffi_kernel, repo, hub_kind, tmp_path, request)
    result = run_in(TVM_FFI_PYTHON, HUB_LOAD_TVM_FFI.format(repo=repo), str(BUILD_PYTHON), **env)
    assert result.returncode == 0, result.stderr
    assert "tvm-ffi01-cpu-x86_64-linux" in result.stdout
    if CPP_APP.exists():
        app = subprocess.run([str(CPP_APP), "--hub", repo, "--version", "1"], capture_output=True, text=True,
                             timeout=120, env=clean_env(**env))
        assert app.returncode == 0, app.stdout + app.stderr


@needs_torch2
@pytest.mark.parametrize("hub_kind", ["local", "hf"])
def test_stable_abi_kernel_from_a_hub(stable_kernel, hub_kind, tmp_path, request):
    repo = "kb-frameworks/relu-stable-abi"
    env = publish(stable_kernel, repo, hub_kind, tmp_path, request)
    code = f"""
import torch, kernels
k = kernels.get_kernel("{repo}", version=1, backend="cpu")
assert k.relu(torch.tensor([-2.0, 3.0])).tolist() == [0.0, 3.0]
print(k.__file__)
"""
    result = run_in(TORCH2_PYTHON, code, str(BUILD_PYTHON), **env)
    assert result.returncode == 0, result.stderr
    assert "torch-stable-abi211-cpu-x86_64-linux" in result.stdout
