"""`pip install --no-build-isolation ./python` into a Python with torch 2.x
and transformers: the installed distribution is the `kernels` transformers
accepts, with every subpackage, its metadata and entry points, and it
kernelizes a tiny Llama with the rmsnorm example's layer.

Runs in the test-only transformers environment (run-torch2.sh) and installs
into a throwaway environment layered on it; KB_CMAKE_BUILD_DIR keeps the
CMake build of kernels._core under the build tree, so reruns are incremental.
No network: pip runs with --no-index and without build isolation."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parents[2]


def kb_build_dir() -> Path:
    # run-torch2.sh runs with PYTHONPATH=<build>/python.
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and (Path(entry) / "kernels").is_dir():
            return Path(entry).parent
    return REPO / "build"


CHECK = r"""
import json, shutil, sys
from importlib.metadata import distribution, entry_points, version
import torch, kernels, kernels.layer
from transformers.utils.import_utils import is_kernels_available
import transformers
from kernels import LocalLayerRepository, Mode, kernelize, register_kernel_mapping

out = {"version": version("kernels"), "module_version": kernels.__version__, "file": kernels.__file__,
       "transformers_accepts": is_kernels_available(),
       "writers": [e.value for e in entry_points(group="egg_info.writers") if e.name == "kernels.lock"],
       "script": shutil.which("kernels")}
register_kernel_mapping({"RMSNorm": {"cpu": LocalLayerRepository(repo_path=sys.argv[1], layer_name="RMSNorm")}})
torch.manual_seed(0)
config = transformers.LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                  num_attention_heads=2, num_key_value_heads=1)
model = transformers.LlamaForCausalLM(config).eval()
ids = torch.randint(0, 32, (1, 5))
with torch.no_grad():
    before = model(ids).logits
    kernelize(model, mode=Mode.INFERENCE, device="cpu")
    after = model(ids).logits
out["kernelized"] = len(kernels.get_kernelized_layers(model).layers)
out["max_diff"] = float((before - after).abs().max())
print(json.dumps(out))
"""


def test_pip_install_gives_transformers_a_working_kernels(tmp_path):
    rmsnorm = REPO / "examples" / "rmsnorm"
    if not list((rmsnorm / "build").glob(f"torch{''.join(torch.__version__.split('.')[:2])}-*-cpu-*")):
        pytest.skip("examples/rmsnorm has no build for this torch")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # This environment's packages (torch, transformers, pip, setuptools) are
    # visible there; what pip installs goes to the new environment.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    visible = [p for p in sys.path if p.endswith("site-packages")]
    Path(purelib, "layered.pth").write_text("\n".join(visible) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCAL_KERNELS")}
    env["KB_CMAKE_BUILD_DIR"] = str(kb_build_dir() / "pip-core")
    env["PIP_NO_INDEX"] = "1"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--disable-pip-version-check",
         str(REPO / "python")], env=env, capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, install.stdout[-4000:] + install.stderr[-4000:]

    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    check = subprocess.run([str(python), "-c", CHECK, str(rmsnorm)], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    assert check.returncode == 0, check.stderr[-4000:]
    out = json.loads(check.stdout.strip().splitlines()[-1])
    assert out["version"] == out["module_version"]
    assert out["version"].startswith("0.18.3+kb.")
    assert Path(out["file"]).is_relative_to(Path(purelib)), out["file"]
    assert out["transformers_accepts"] is True
    assert out["writers"] == ["kernels.lockfile:write_egg_lockfile"]
    assert out["script"] == str(venv / "bin" / "kernels")
    assert out["kernelized"] == 3  # two per decoder layer, one final norm
    assert out["max_diff"] < 1e-4
