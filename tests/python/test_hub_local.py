"""get_kernel from a hub: examples/relu published with `kb upload` to a local
hub (and to a git hub over file://), then fetched into a private cache.

Each load runs in a fresh interpreter, as an application would: the build
fetched from the hub has the same op namespace as examples/relu/build, which
other tests load in this process."""
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


def run_python(code: str, **env) -> list:
    """Runs `code` in a fresh interpreter with `env` added; its stdout lines."""
    full = {**os.environ, **env}
    full.pop("LOCAL_KERNELS", None)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


LOAD = """
import warnings
warnings.simplefilter("ignore")
import torch, kernels
relu = kernels.get_kernel("kb-examples/relu", version=1)
x = torch.linspace(-2, 2, 9)
assert torch.equal(relu.relu(x), torch.relu(x))
(entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
print(relu.__file__)
print(entry.repo_info.repo_id, entry.repo_info.revision)
"""


def test_get_kernel_fetches_the_variant_into_the_cache_and_relu_works(published, cpu_linux_torch):
    spec, cache = published
    lines = run_python(LOAD, KB_HUB=spec, KERNELS_CACHE=str(cache))
    path = Path(lines[0]).parent
    assert path.name == cpu_linux_torch
    assert path.parent.parent.parent.parent.name == "kernels--kb-examples--relu"
    assert cache in path.parents
    # Only the chosen variant was downloaded.
    assert sorted(p.name for p in path.parent.iterdir()) == [cpu_linux_torch]
    repo_id, revision = lines[1].split()
    assert repo_id == "kb-examples/relu" and len(revision) == 40


def test_offline_loads_what_is_cached_and_fails_clearly_otherwise(published, cpu_linux_torch):
    spec, cache = published
    run_python(LOAD, KB_HUB=spec, KERNELS_CACHE=str(cache))
    code = LOAD + """
try:
    kernels.get_kernel("kb-examples/relu", version=2)
except ValueError as e:
    print("ERR", e)
"""
    lines = run_python(code, KB_HUB="local:/nonexistent", KERNELS_CACHE=str(cache), HF_HUB_OFFLINE="1")
    assert cpu_linux_torch in lines[0]
    assert lines[2] == "ERR Version 2 not found, available versions: 1"


def test_version_and_revision_rules(hub_env):
    with pytest.raises(ValueError, match="Only one of `revision` or `version` must be specified."):
        kernels.get_kernel("kb-examples/relu", revision="v1", version=1)
    with pytest.raises(ValueError, match="A kernel version or revision must be specified"):
        kernels.get_kernel("kb-examples/relu")
    with pytest.raises(ValueError, match="^Version 7 not found, available versions: 1$"):
        kernels.get_kernel("kb-examples/relu", version=7)
    with pytest.raises(FileNotFoundError, match="Repository not found: kb-examples/missing"):
        kernels.get_kernel("kb-examples/missing", revision="v1")


def test_git_hub_over_file_url(tmp_path, relu_variant_dir):
    server = tmp_path / "server"
    env = {**os.environ, "KB_HUB": f"git+file://{server}", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    up = subprocess.run([str(KB), "upload", str(RELU), "--allow-nonportable", "-q"], env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    assert (server / "kb-examples" / "relu.git").is_dir()
    lines = run_python(LOAD, KB_HUB=f"git+file://{server}", XDG_CACHE_HOME=str(tmp_path / "xdg-reader"),
                       KERNELS_CACHE=str(tmp_path / "cache"))
    assert str(tmp_path / "cache") in lines[0]


def test_install_kernel_returns_the_cached_variant_without_importing(hub_env, cpu_linux_torch):
    path = kernels.install_kernel("kb-examples/relu", revision="v1")
    assert path.name == cpu_linux_torch
    assert hub_env in path.parents
    assert (path / "metadata.json").is_file()
    assert all(k.module.__file__ is None or Path(k.module.__file__).parent != path for k in kernels.get_loaded_kernels())


def test_eight_processes_on_a_cold_cache_all_load_and_share_one_download(published, tmp_path, cpu_linux_torch):
    spec, _ = published
    cache = tmp_path / "cold"
    env = {**os.environ, "KB_HUB": spec, "KERNELS_CACHE": str(cache)}
    env.pop("LOCAL_KERNELS", None)
    procs = [
        subprocess.Popen([sys.executable, "-c", LOAD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    paths = {out.splitlines()[0] for out, _ in outputs}
    assert len(paths) == 1, paths
    blobs = list((cache / "kernels--kb-examples--relu" / "blobs").iterdir())
    # One blob per file of the variant, no leftovers from the concurrent downloads.
    variant = Path(paths.pop()).parent
    assert len(blobs) == len([p for p in variant.iterdir() if p.is_file()])
    assert not [b for b in blobs if b.name.endswith(".incomplete")]
