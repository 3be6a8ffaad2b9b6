"""kernels.lock with kernel dependencies: `kernels lock` of PyPI kernels
0.19.1 and kb's `kernels lock` / `kb lock`, over the same loopback hub state,
write the same bytes, and each side loads what the other locked.

The kernels are small [torch-noarch] builds (cpu and cuda variants) made
with `kb build` and published with `kb upload`:

    kbcompat/top  -> kbcompat/mid v1, kbcompat/leaf revision "v1" (a branch)
    kbcompat/mid  -> kbcompat/leaf v1

so the lock holds kbcompat/leaf twice (a version pin sorts before a revision
pin of the same repository).

Skipped unless an interpreter with kernels 0.19.1 and torch is found
(KB_KERNELS019_PYTHON, else ~/.cache/kb/kernels-0.19-venv/bin/python). kb's
side runs in the same interpreter, with this repository's build
(KB_BUILD_PYTHONPATH, else build/python) on PYTHONPATH."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hub_server.process import HubProcess  # noqa: E402

KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")
KB_BIN = Path(os.environ.get("KB_BIN") or ROOT / "build" / "bin")
TOKEN = "hf_lock_compat"

KERNELS = {
    "kbcompat/top": ['{ repo-id = "kbcompat/mid", version = 1 }', '{ repo-id = "kbcompat/leaf", revision = "v1" }'],
    "kbcompat/mid": ['{ repo-id = "kbcompat/leaf", version = 1 }'],
    "kbcompat/leaf": [],
}

INIT = '''\
from kernels import get_kernel_dep

NAME = {repo_id!r}
DEPS = {{repo_id: get_kernel_dep(repo_id) for repo_id in {deps!r}}}
'''


def bare_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "KB_HUB", "HF_HUB_OFFLINE", "LOCAL_KERNELS", "KERNELS_CACHE",
                        "UNSTABLE_KERNELS_ALL_LATEST")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def hub(tmp_path_factory, python019):
    root = tmp_path_factory.mktemp("kernels")
    # kb build's generated projects and CMake trees, out of ~/.cache.
    scratch = os.environ.get("KB_SCRATCH_DIR") or str(tmp_path_factory.mktemp("kb-scratch"))
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kbcompat"], max_lifetime=900)
    try:
        for repo_id, deps in KERNELS.items():
            name = repo_id.split("/")[1]
            src = root / name
            package = src / "torch-ext" / name
            package.mkdir(parents=True)
            (src / "build.toml").write_text(
                f'[general]\nname = "{name}"\nversion = 1\nedition = 6\nlicense = "apache-2.0"\n'
                f'backends = ["cpu", "cuda"]\nkernel-depends = [{", ".join(deps)}]\n\n[torch-noarch]\n')
            dep_ids = [d.split('"')[1] for d in deps]
            (package / "__init__.py").write_text(INIT.format(repo_id=repo_id, deps=dep_ids))
            out = subprocess.run([str(KB_BIN / "kb"), "build", str(src), "--python", python019],
                                 env=bare_env(KB_SCRATCH_DIR=scratch),
                                 capture_output=True, text=True, timeout=300)
            assert out.returncode == 0, out.stderr
            out = subprocess.run([str(KB_BIN / "kb"), "upload", str(src), "--repo-id", repo_id, "-q"],
                                 env=bare_env(HF_ENDPOINT=server.url, HF_TOKEN=TOKEN), capture_output=True,
                                 text=True, timeout=300)
            assert out.returncode == 0, out.stderr
        yield server
    finally:
        server.stop()


def env_for(side: str, hub, tmp_path: Path, cache: str) -> dict:
    env = bare_env(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / f"hf-home-{side}"),
                   KERNELS_CACHE=str(tmp_path / cache))
    if side == "kb":
        env["PYTHONPATH"] = KB_PYTHONPATH
    return env


def project(tmp_path: Path, name: str) -> Path:
    p = tmp_path / name
    p.mkdir()
    (p / "pyproject.toml").write_text('[project]\nname = "app"\n\n[tool.kernels.dependencies]\n"kbcompat/top" = 1\n')
    return p


def lock_with(python: str, side: str, hub, tmp_path: Path) -> bytes:
    proj = project(tmp_path, f"lock-{side}")
    # PyPI kernels has only its console script; kb's package runs as a module too.
    cli = [str(Path(python).parent / "kernels")] if side == "019" else [python, "-m", "kernels"]
    out = subprocess.run([*cli, "lock", str(proj)], env=env_for(side, hub, tmp_path, "cache"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{side}: {out.stderr}"
    return (proj / "kernels.lock").read_bytes()


# Loads kbcompat/top from the lock at argv[1] with argv[2] (get_locked_kernel
# or load_kernel) and prints each kernel's file by name.
LOAD = """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    from pathlib import Path
    import kernels
    top = getattr(kernels, sys.argv[2])("kbcompat/top", lockfile=Path(sys.argv[1]))
    mid = top.DEPS["kbcompat/mid"]
    print(json.dumps({
        "names": [top.NAME, mid.NAME, top.DEPS["kbcompat/leaf"].NAME, mid.DEPS["kbcompat/leaf"].NAME],
        "files": {"top": top.__file__, "mid": mid.__file__, "leaf-main": top.DEPS["kbcompat/leaf"].__file__,
                  "leaf-v1": mid.DEPS["kbcompat/leaf"].__file__},
    }))
"""


def load_with(python: str, side: str, hub, tmp_path: Path, lock: bytes, how: str, cache: str) -> dict:
    lock_path = tmp_path / f"{side}-{how}-{cache}.lock"
    lock_path.write_bytes(lock)
    out = subprocess.run([python, "-c", textwrap.dedent(LOAD), str(lock_path), how],
                         env=env_for(side, hub, tmp_path, cache), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"{side} {how}: {out.stderr[-4000:]}"
    return json.loads(out.stdout.splitlines()[-1])


def test_both_lock_the_tree_to_the_same_bytes(python019, hub, tmp_path):
    theirs = lock_with(python019, "019", hub, tmp_path)
    ours = lock_with(python019, "kb", hub, tmp_path)
    proj = project(tmp_path, "lock-kb-cli")
    out = subprocess.run([str(KB_BIN / "kb"), "lock", str(proj)], env=env_for("kb", hub, tmp_path, "cache"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert ours == theirs
    assert (proj / "kernels.lock").read_bytes() == theirs
    # What both wrote: every kernel of the tree, at the commits the hub has.
    commit = {repo_id: hub.head(repo_id, "v1") for repo_id in KERNELS}
    assert json.loads(theirs) == [
        {"dependency": {"repo-id": "kbcompat/leaf", "version": 1}, "lock": {"commit": commit["kbcompat/leaf"]}},
        {"dependency": {"repo-id": "kbcompat/leaf", "revision": "v1"}, "lock": {"commit": commit["kbcompat/leaf"]}},
        {"dependency": {"repo-id": "kbcompat/mid", "version": 1}, "lock": {"commit": commit["kbcompat/mid"]}},
        {"dependency": {"repo-id": "kbcompat/top", "version": 1}, "lock": {"commit": commit["kbcompat/top"]}},
    ]


@pytest.mark.parametrize("locker, loader", [("kb", "019"), ("019", "kb")])
def test_each_loads_the_tree_the_other_locked(python019, hub, tmp_path, locker, loader):
    lock = lock_with(python019, locker, hub, tmp_path)
    commits = {repo_id: hub.head(repo_id, "v1") for repo_id in KERNELS}
    res = load_with(python019, loader, hub, tmp_path, lock, "get_locked_kernel", "cache-load")
    assert res["names"] == ["kbcompat/top", "kbcompat/mid", "kbcompat/leaf", "kbcompat/leaf"]
    for key, repo_id in [("top", "kbcompat/top"), ("mid", "kbcompat/mid"), ("leaf-v1", "kbcompat/leaf"),
                         ("leaf-main", "kbcompat/leaf")]:
        assert f"/kernels--{repo_id.replace('/', '--')}/snapshots/{commits[repo_id]}/" in res["files"][key], key
    # load_kernel reads what get_locked_kernel left in the cache, without the hub.
    hub.clear_log()
    again = load_with(python019, loader, hub, tmp_path, lock, "load_kernel", "cache-load")
    assert again == res
    assert hub.log() == []
