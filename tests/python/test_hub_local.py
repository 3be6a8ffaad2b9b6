"""get_kernel from a hub: examples/relu published with `kb upload` to a local
hub (and to a git hub over file://), then fetched into a private cache."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import kernels
from conftest import REPO, RELU

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"


@pytest.fixture(scope="module")
def published(tmp_path_factory, relu_variant_dir):
    """(hub spec, cache dir): relu v1 on a fresh local hub."""
    root = tmp_path_factory.mktemp("hub")
    spec = f"local:{root}"
    result = subprocess.run(
        [str(KB), "upload", str(RELU), "--allow-nonportable", "-q"],
        env={**os.environ, "KB_HUB": spec},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return spec, tmp_path_factory.mktemp("cache")


@pytest.fixture
def hub_env(monkeypatch, published):
    spec, cache = published
    monkeypatch.setenv("KB_HUB", spec)
    monkeypatch.setenv("KERNELS_CACHE", str(cache))
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return cache


def _loaded(module):
    (entry,) = [k for k in kernels.get_loaded_kernels() if k.module is module]
    return entry


def test_get_kernel_fetches_the_variant_into_the_cache_and_relu_works(hub_env, cpu_linux_torch):
    import torch

    relu = kernels.get_kernel("kb-examples/relu", version=1)
    x = torch.linspace(-2, 2, 9)
    assert torch.equal(relu.relu(x), torch.relu(x))
    path = Path(relu.__file__).parent
    assert path.name == cpu_linux_torch
    assert path.parent.parent.parent.parent.name == "kernels--kb-examples--relu"
    assert hub_env in path.parents
    # Only the chosen variant was downloaded.
    assert sorted(p.name for p in path.parent.iterdir()) == [cpu_linux_torch]
    info = _loaded(relu).repo_info
    assert info.repo_id == "kb-examples/relu" and len(info.revision) == 40


def test_offline_loads_what_is_cached_and_fails_clearly_otherwise(hub_env, cpu_linux_torch):
    kernels.get_kernel("kb-examples/relu", version=1)
    code = (
        "import kernels, sys\n"
        "m = kernels.get_kernel('kb-examples/relu', version=1)\n"
        "print(m.__file__)\n"
        "try:\n"
        "    kernels.get_kernel('kb-examples/relu', version=2)\n"
        "except ValueError as e:\n"
        "    print('ERR', e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_HUB": "local:/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert cpu_linux_torch in lines[0]
    assert lines[1] == "ERR Version 2 not found, available versions: 1"


def test_version_and_revision_rules(hub_env):
    with pytest.raises(ValueError, match="Only one of `revision` or `version` must be specified."):
        kernels.get_kernel("kb-examples/relu", revision="v1", version=1)
    with pytest.raises(ValueError, match="A kernel version or revision must be specified"):
        kernels.get_kernel("kb-examples/relu")
    with pytest.raises(ValueError, match="^Version 7 not found, available versions: 1$"):
        kernels.get_kernel("kb-examples/relu", version=7)
    by_branch = kernels.get_kernel("kb-examples/relu", revision="v1")
    assert by_branch.relu is not None
    with pytest.raises(FileNotFoundError, match="Repository not found: kb-examples/missing"):
        kernels.get_kernel("kb-examples/missing", revision="v1")


def test_git_hub_over_file_url(tmp_path, monkeypatch, relu_variant_dir):
    import torch

    server = tmp_path / "server"
    env = {**os.environ, "KB_HUB": f"git+file://{server}", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    up = subprocess.run([str(KB), "upload", str(RELU), "--allow-nonportable", "-q"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert (server / "kb-examples" / "relu.git").is_dir()
    monkeypatch.setenv("KB_HUB", f"git+file://{server}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-reader"))
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    relu = kernels.get_kernel("kb-examples/relu", version=1)
    x = torch.tensor([-1.0, 3.0])
    assert relu.relu(x).tolist() == [0.0, 3.0]
