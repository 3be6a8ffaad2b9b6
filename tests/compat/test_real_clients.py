"""Real Hugging Face clients against what kb publishes, and the reverse.

`kb upload examples/relu` publishes to the loopback hub fixture
(tests/fixtures/hub-server) with KB_HUB=hf; then, in the test tools
environment (scripts/setup-test-tools.sh):
  - `huggingface_hub` lists the refs and downloads each variant alone with
    snapshot_download, byte for byte equal to examples/relu/build/<variant>/;
  - the PyPI `kernels` package locks the kernel (`kernels lock`), downloads
    every variant (`kernels download --all-variants`,
    install_kernel_all_variants) and describes it (`kernels versions`,
    `kernels info`), all without torch;
kernels.lock from our `kernels lock` and `kb lock` is byte for byte the file
PyPI `kernels lock` writes (kernels 0.16.2, the format of runtime spec 7.2;
found in KB_LEGACY_KERNELS_VENV), which downloads and checks against it; the
newer PyPI tool (0.17.2, another format) pins the same commits;
and, the other way, a kernel committed with `HfApi.upload_folder` loads with
this repository's `kernels` package (`get_kernel`) in a fresh interpreter
with torch, and computes relu.

Skipped only when no interpreter has the clients (run
scripts/setup-test-tools.sh, or set KB_HF_PYTHON / KB_KERNELS_PYTHON) or
examples/relu is not built (ctest fixture example_relu). Only 127.0.0.1 is
used; every wait is bounded.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hub_server.process import HubProcess, find_python  # noqa: E402

RELU = ROOT / "examples" / "relu"
KB_BIN = Path(os.environ.get("KB_BIN") or ROOT / "build" / "bin")
KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")
TOKEN = "hf_compat_token_456"
ORG = "kb-examples"
REPO = f"{ORG}/relu"
CLIENT_TIMEOUT_S = 300


# -- interpreters -----------------------------------------------------------------
HOW = "run scripts/setup-test-tools.sh (or set {})"


@pytest.fixture(scope="session")
def hf_python():
    py = find_python("KB_HF_PYTHON", "import huggingface_hub")
    if py is None:
        pytest.skip("huggingface_hub is not importable here: " + HOW.format("KB_HF_PYTHON"))
    return py


@pytest.fixture(scope="session")
def kernels_python():
    # The PyPI `kernels` package, never this repository's (same module name).
    py = find_python("KB_KERNELS_PYTHON", "import kernels.install, kernels.cli, kernels; "
                     f"assert not kernels.__file__.startswith({str(ROOT)!r})")
    if py is None:
        pytest.skip("the kernels package from PyPI is not importable here: " + HOW.format("KB_KERNELS_PYTHON"))
    return py


@pytest.fixture(scope="session")
def torch_python():
    """The interpreter this repository's kernels package was built for (it has torch)."""
    py = os.environ.get("KB_TORCH_PYTHON") or sys.executable
    try:
        r = subprocess.run([py, "-c", "import torch"], timeout=120,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        r = None
    if r is None or r.returncode != 0:
        pytest.skip(f"{py} cannot import torch")
    return py


# -- the hub and the upload ---------------------------------------------------------
def clean_env(**extra) -> dict:
    """The environment minus anything that would point a client elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "KB_HUB", "LOCAL_KERNELS")
           and not k.startswith(("HF_", "HUGGINGFACE_", "KERNELS_"))}
    # (Not HF_HUB_DISABLE_TELEMETRY: with it kernels 0.17.2 passes an empty
    # user agent and huggingface_hub 2.4 sends a header value ending in "; ",
    # which httpx2 refuses before any request is made.)
    env.update({"NO_PROXY": "*", "no_proxy": "*", "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    env.update(extra)
    return env


def variant_files(variant_dir: Path) -> dict:
    """{relative path: bytes} of what a variant publishes (bytecode never is)."""
    return {p.relative_to(variant_dir).as_posix(): p.read_bytes() for p in sorted(variant_dir.rglob("*"))
            if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts}


def tree_files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def built_variants() -> list:
    build = RELU / "build"
    if not build.is_dir():
        return []
    return sorted(d.name for d in build.iterdir() if d.is_dir() and (d / "metadata.json").is_file())


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """examples/relu published by `kb upload` to a fresh hub: the hub, the v1
    commit and the bytes of every variant as they were when uploaded."""
    variants = built_variants()
    if not variants:
        pytest.skip(f"{RELU / 'build'} has no variants: run `ctest -R example/relu/build` first")
    kb = KB_BIN / "kb"
    assert kb.is_file(), f"{kb} is missing: build kb first"
    hub = HubProcess(tmp_path_factory.mktemp("compat-hub"), token=TOKEN, trusted_orgs=[ORG], max_lifetime=900)
    try:
        local = {v: variant_files(RELU / "build" / v) for v in variants}
        benchmark = (RELU / "benchmarks" / "benchmark.py").read_bytes()
        proc = subprocess.run(
            [str(kb), "upload", str(RELU), "--allow-nonportable", "-q"],
            env=clean_env(KB_HUB="hf", HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN,
                          HF_HOME=str(tmp_path_factory.mktemp("kb-hf-home"))),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLIENT_TIMEOUT_S)
        assert proc.returncode == 0, proc.stderr.decode()[-4000:]
        # Nothing changed under us while uploading (ctest's RESOURCE_LOCK example_relu).
        assert {v: variant_files(RELU / "build" / v) for v in built_variants()} == local
        yield {"hub": hub, "commit": hub.git(REPO, "rev-parse", "refs/heads/v1"), "local": local,
               "benchmark": benchmark}
    finally:
        hub.stop()


def run_client(python, hub, code, cwd: Path, **env_extra):
    """Runs `code` in `python` pointed at the hub; returns the JSON its last stdout line holds."""
    env = clean_env(HF_ENDPOINT=hub.url, HF_HOME=str(cwd / "hf-home"), **env_extra)
    proc = subprocess.run([python, "-c", textwrap.dedent(code)], env=env, cwd=cwd, timeout=CLIENT_TIMEOUT_S,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])


KERNELS_CLI = "import sys; from kernels.cli import main; sys.argv[0] = 'kernels'; main()"


def kernels_cli(python, hub, cwd: Path, *args, **env_extra) -> str:
    env = clean_env(HF_ENDPOINT=hub.url, HF_HOME=str(cwd / "hf-home"), **env_extra)
    proc = subprocess.run([python, "-c", KERNELS_CLI, *args], env=env, cwd=cwd, timeout=CLIENT_TIMEOUT_S,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, (args, proc.stderr.decode()[-4000:])
    return proc.stdout.decode()


# -- huggingface_hub ----------------------------------------------------------------
def test_hf_refs_and_tree_of_kb_upload(hf_python, published, tmp_path):
    hub, commit, local = published["hub"], published["commit"], published["local"]
    out = run_client(hf_python, hub, f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi()
        refs = api.list_repo_refs({REPO!r}, repo_type="kernel")
        variants = [f.path for f in api.list_repo_tree({REPO!r}, path_in_repo="build", revision="v1",
                                                        repo_type="kernel")]
        files = {{f.path: [f.size, f.lfs.sha256 if f.lfs else None]
                 for f in api.list_repo_tree({REPO!r}, revision="v1", repo_type="kernel", recursive=True)
                 if hasattr(f, "blob_id")}}
        print(json.dumps({{"branches": {{b.name: b.target_commit for b in refs.branches}},
                          "sha": api.repo_info({REPO!r}, repo_type="kernel", revision="v1").sha,
                          "variants": variants, "files": files}}))
    """, tmp_path)
    assert out["branches"]["v1"] == commit and "main" in out["branches"]
    assert out["sha"] == commit
    assert out["variants"] == [f"build/{v}" for v in sorted(local)]
    expected = {f"build/{v}/{rel}": data for v, files in local.items() for rel, data in files.items()}
    expected["benchmarks/benchmark.py"] = published["benchmark"]
    assert set(out["files"]) == set(expected) | {".gitattributes"}
    for path, data in expected.items():
        size, lfs = out["files"][path]
        assert size == len(data), path
        # Shared objects went through LFS; the hub's sha256 is that of kb's bytes.
        assert lfs == (hashlib.sha256(data).hexdigest() if path.endswith(".so") else None), path


def test_hf_snapshot_download_each_variant_alone(hf_python, published, tmp_path):
    hub, commit, local = published["hub"], published["commit"], published["local"]
    out = run_client(hf_python, hub, f"""
        import json, os
        from huggingface_hub import snapshot_download
        res = {{}}
        for v in {sorted(local)!r}:
            cache = os.path.abspath("cache-" + v)
            snap = snapshot_download(repo_id={REPO!r}, repo_type="kernel", revision="v1",
                                     allow_patterns=[f"build/{{v}}/*"],
                                     ignore_patterns=["*.pyc", "**/__pycache__/**"], cache_dir=cache)
            ref = open(os.path.join(cache, "kernels--kb-examples--relu", "refs", "v1")).read()
            res[v] = {{"snap": snap, "ref": ref}}
        print(json.dumps(res))
    """, tmp_path)
    assert set(out) == set(local)
    for v, files in local.items():
        snap = Path(out[v]["snap"])
        assert snap.name == commit and out[v]["ref"] == commit
        # Exactly this variant, every file byte for byte.
        assert tree_files(snap) == {f"build/{v}/{rel}": data for rel, data in files.items()}, v


# -- the PyPI kernels package -------------------------------------------------------
def test_kernels_lock_and_download_all_variants(kernels_python, published, tmp_path):
    hub, commit, local = published["hub"], published["commit"], published["local"]
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.kernels.dependencies]\n"{REPO}" = 1\n')
    cache = tmp_path / "kernels-cache"

    kernels_cli(kernels_python, hub, tmp_path, "lock", str(project), KERNELS_CACHE=str(cache))
    lock = json.loads((project / "kernels.lock").read_text())
    assert lock == [{"dependency": {"repo-id": REPO, "version": 1}, "lock": {"commit": commit}}]
    # `kernels lock` checked the publisher with the hub before anything else.
    assert any(e["path"] == f"/api/organizations/{ORG}/overview" for e in hub.log())

    kernels_cli(kernels_python, hub, tmp_path, "download", "--all-variants", str(project),
                KERNELS_CACHE=str(cache))
    build = cache / "kernels--kb-examples--relu" / "snapshots" / commit / "build"
    expected = {f"{v}/{rel}": data for v, files in local.items() for rel, data in files.items()}
    assert tree_files(build) == expected

    # The Python API, into another cache: the same files.
    out = run_client(kernels_python, hub, f"""
        import json
        from kernels.install import install_kernel_all_variants
        print(json.dumps(str(install_kernel_all_variants({REPO!r}, version=1))))
    """, tmp_path, KERNELS_CACHE=str(tmp_path / "api-cache"))
    assert Path(out) == tmp_path / "api-cache" / "kernels--kb-examples--relu" / "snapshots" / commit / "build"
    assert tree_files(Path(out)) == expected


def test_kernels_versions_and_info(kernels_python, published, tmp_path):
    hub, local = published["hub"], published["local"]
    cache = str(tmp_path / "kernels-cache")
    versions = kernels_cli(kernels_python, hub, tmp_path, "versions", REPO, KERNELS_CACHE=cache)
    assert versions.startswith("Version 1:")
    # Without torch in the tools environment every variant is listed, each with its reason.
    listed = [line.split(":", 1)[0] for line in versions.splitlines()[1:] if line.strip()]
    assert sorted(listed) == sorted(local)

    info = json.loads(kernels_cli(kernels_python, hub, tmp_path, "info", REPO, "--version", "1", "--json",
                                  KERNELS_CACHE=cache))
    meta = json.loads(next(iter(local.values()))["metadata.json"])
    backends = sorted({json.loads(files["metadata.json"])["backend"]["type"] for files in local.values()})
    assert info["repo_id"] == REPO and info["revision"] == "v1"
    assert (info["name"], info["version"], info["license"]) == (meta["name"], meta["version"], meta["license"])
    assert info["python_depends"] == meta.get("python-depends", [])
    assert info["backends"] == backends


# -- the reverse: huggingface_hub publishes, kb's kernels package loads --------------
def test_kb_get_kernel_loads_what_huggingface_hub_uploaded(hf_python, torch_python, published, tmp_path):
    hub, local = published["hub"], published["local"]
    cpu = sorted(v for v in local if json.loads(local[v]["metadata.json"])["backend"]["type"] == "cpu")
    if not cpu:
        pytest.skip("examples/relu has no CPU variant built here")
    src = tmp_path / "src"
    for v in cpu:
        (src / "build" / v).mkdir(parents=True)
        for rel, data in local[v].items():
            (src / "build" / v / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / "build" / v / rel).write_bytes(data)
    repo2 = f"{ORG}/relu2"
    out = run_client(hf_python, hub, f"""
        import json
        from huggingface_hub import HfApi
        api = HfApi()
        api.create_repo({repo2!r}, repo_type="kernel")
        api.create_branch({repo2!r}, branch="v1", repo_type="kernel")
        info = api.upload_folder(repo_id={repo2!r}, repo_type="kernel", folder_path={str(src)!r},
                                 revision="v1", commit_message="relu2 v1 from huggingface_hub")
        print(json.dumps(info.oid))
    """, tmp_path, HF_TOKEN=TOKEN)
    assert hub.git(repo2, "rev-parse", "refs/heads/v1") == out

    cache = tmp_path / "kb-cache"
    env = clean_env(PYTHONPATH=KB_PYTHONPATH, KB_HUB="hf", HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN,
                    KERNELS_CACHE=str(cache), HF_HOME=str(tmp_path / "kb-hf-home"))
    code = f"""
        import json, os, torch, kernels
        assert os.path.realpath(kernels.__file__).startswith(os.path.realpath({KB_PYTHONPATH!r})), kernels.__file__
        relu = kernels.get_kernel({repo2!r}, version=1, trust_remote_code=True)
        x = torch.linspace(-3, 3, 61).reshape(61, 1).expand(61, 4)  # strided, with negatives and zero
        y = relu.relu(x)
        print(json.dumps({{"ok": torch.equal(y, torch.relu(x)), "negatives": int((x < 0).sum()),
                          "file": relu.__file__, "torch": torch.__version__}}))
    """
    proc = subprocess.run([torch_python, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path,
                          timeout=CLIENT_TIMEOUT_S, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    res = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert res["ok"] is True and res["negatives"] > 0
    variant_dir = Path(res["file"]).parent
    major, minor = res["torch"].split(".")[:2]
    # The variant for this torch, from the hub snapshot in KERNELS_CACHE, as uploaded.
    assert variant_dir.name in cpu and variant_dir.name.startswith(f"torch{major}{minor}-")
    assert variant_dir.parent == cache / "kernels--kb-examples--relu2" / "snapshots" / out / "build"
    assert variant_files(variant_dir) == local[variant_dir.name]
    # It came over HTTP from the hub at the v1 commit: this variant's files and
    # no other variant's, the shared object from LFS storage.
    prefix = f"/kernels/{repo2}/resolve/{out}/build/"
    resolved = {e["path"][len(prefix):] for e in hub.log() if e["method"] == "GET" and e["path"].startswith(prefix)}
    assert resolved == {f"{variant_dir.name}/{rel}" for rel in local[variant_dir.name]}
    so = next(data for rel, data in local[variant_dir.name].items() if rel.endswith(".so"))
    assert any(e["path"] == f"/_lfs/objects/{hashlib.sha256(so).hexdigest()}" and e["status"] == 200
               for e in hub.log())


# -- kernels.lock: our lockers against the PyPI lockers ------------------------------
# kernels 0.16.2 is the release whose kernels.lock (repo_id/sha/variants with
# git_lfs_concat hashes) runtime spec 7.2 describes and kb writes; from 0.17 on
# the PyPI tool writes another format ({"dependency", "lock": {"commit"}}),
# which pins the same commits but carries no variant hashes.
LEGACY_KERNELS_VERSION = "0.16.2"
WEIGHTS = f"{ORG}/weights"


@pytest.fixture(scope="session")
def legacy_kernels_python():
    venv = os.environ.get("KB_LEGACY_KERNELS_VENV") or os.path.join(os.path.expanduser("~"), ".cache", "kb",
                                                                      "kernels-0.16-venv")
    check = ("import importlib.metadata as m, kernels.cli, kernels.lockfile; "
             f"assert m.version('kernels') == {LEGACY_KERNELS_VERSION!r}")
    py = find_python("KB_LEGACY_KERNELS_PYTHON", check, extra=[os.path.join(venv, "bin", "python")])
    if py is not None:
        return py
    pytest.skip(f"PyPI kernels=={LEGACY_KERNELS_VERSION} is not importable here: make a venv with "
                f"`pip install kernels=={LEGACY_KERNELS_VERSION}` at {venv} (or set KB_LEGACY_KERNELS_PYTHON)")


@pytest.fixture(scope="module")
def lockable(published, tmp_path_factory):
    """The published hub plus WEIGHTS: a pure-Python kernel whose weights file
    the hub keeps in LFS, next to git files in a nested folder."""
    hub = published["hub"]
    src = tmp_path_factory.mktemp("weights-src")
    variant = src / "build" / "torch-universal"
    (variant / "data").mkdir(parents=True)
    (variant / "__init__.py").write_text("from pathlib import Path\nWEIGHTS = Path(__file__).parent / 'weights.bin'\n")
    (variant / "metadata.json").write_text(json.dumps({
        "name": "weights", "id": "_weights_universal_0000000", "version": 1, "license": "Apache-2.0",
        "python-depends": [], "backend": {"type": "cpu"}}, indent=2) + "\n")
    (variant / "data" / "table.txt").write_text("0 1 2 3\n")
    (variant / "weights.bin").write_bytes(bytes(range(256)) * 64)
    weights_commit = hub.seed(WEIGHTS, src, "v1", "kernel", "--lfs-pattern", "*.bin", "--lfs-pattern", "*.so",
                              timeout=CLIENT_TIMEOUT_S)
    # The weights are an LFS pointer in git, as on the Hub.
    pointer = hub.git(WEIGHTS, "show", "refs/heads/v1:build/torch-universal/weights.bin")
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1"), pointer
    return {**published, "weights_commit": weights_commit}


def lock_project_dir(root: Path, name: str) -> Path:
    project = root / name
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.kernels.dependencies]\n"{REPO}" = 1\n"{WEIGHTS}" = 1\n')
    return project


def our_lockers(hub, tmp_path: Path, torch_python: str) -> dict:
    """kernels.lock bytes from our `kernels lock --format legacy` and from
    `kb lock --format legacy` (the format of kernels 0.16.2)."""
    out = {}
    project = lock_project_dir(tmp_path, "ours-python")
    env = clean_env(PYTHONPATH=KB_PYTHONPATH, HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"),
                    KERNELS_CACHE=str(tmp_path / "ours-cache"))
    proc = subprocess.run([torch_python, "-m", "kernels", "lock", "--format", "legacy", str(project)], env=env, cwd=tmp_path,
                          timeout=CLIENT_TIMEOUT_S, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    out["kernels lock"] = (project / "kernels.lock").read_bytes()
    project = lock_project_dir(tmp_path, "ours-kb")
    proc = subprocess.run([str(KB_BIN / "kb"), "lock", "--format", "legacy", str(project)], env=env, cwd=tmp_path,
                          timeout=CLIENT_TIMEOUT_S, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()[-4000:]
    out["kb lock"] = (project / "kernels.lock").read_bytes()
    return out


def test_kernels_lock_bytes_match_the_pypi_tool(legacy_kernels_python, torch_python, lockable, tmp_path):
    hub, local = lockable["hub"], lockable["local"]
    project = lock_project_dir(tmp_path, "pypi")
    kernels_cli(legacy_kernels_python, hub, tmp_path, "lock", str(project), KERNELS_CACHE=str(tmp_path / "c"))
    pypi = (project / "kernels.lock").read_bytes()
    # The PyPI tool's file is the spec's: both kernels at their v1 commits, every
    # build/torch* variant hashed (relu's shared objects and the weights via LFS).
    entries = json.loads(pypi)
    assert [(e["repo_id"], e["sha"]) for e in entries] == [(REPO, lockable["commit"]),
                                                           (WEIGHTS, lockable["weights_commit"])]
    assert sorted(entries[0]["variants"]) == sorted(local) and list(entries[1]["variants"]) == ["torch-universal"]
    assert not pypi.endswith(b"\n")

    for tool, ours in our_lockers(hub, tmp_path, torch_python).items():
        assert ours == pypi, tool


def test_pypi_kernels_download_accepts_and_checks_our_lock(legacy_kernels_python, torch_python, lockable, tmp_path):
    hub, commit, local = lockable["hub"], lockable["commit"], lockable["local"]
    ours = our_lockers(hub, tmp_path, torch_python)["kernels lock"]
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "kernels.lock").write_bytes(ours)
    cache = tmp_path / "pypi-cache"
    # kernels 0.16.2 checks every downloaded variant against the lock's hash.
    kernels_cli(legacy_kernels_python, hub, tmp_path, "download", "--all-variants", str(project),
                KERNELS_CACHE=str(cache))
    build = cache / "kernels--kb-examples--relu" / "snapshots" / commit / "build"
    assert tree_files(build) == {f"{v}/{rel}": data for v, files in local.items() for rel, data in files.items()}
    weights = cache / "kernels--kb-examples--weights" / "snapshots" / lockable["weights_commit"] / "build"
    assert (weights / "torch-universal" / "weights.bin").read_bytes() == bytes(range(256)) * 64

    # The check is real: one changed hash and the same download is refused.
    entries = json.loads(ours)
    variant = next(iter(entries[1]["variants"]))
    entries[1]["variants"][variant]["hash"] = "sha256-" + "0" * 64
    (project / "kernels.lock").write_text(json.dumps(entries, indent=2))
    env = clean_env(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"), KERNELS_CACHE=str(tmp_path / "c2"))
    proc = subprocess.run([legacy_kernels_python, "-c", KERNELS_CLI, "download", "--all-variants", str(project)],
                          env=env, cwd=tmp_path, timeout=CLIENT_TIMEOUT_S, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    assert proc.returncode != 0
    assert "Lock file specifies kernel with hash sha256-" + "0" * 64 in proc.stderr.decode()


def test_kernels_017_pins_the_commits_we_pin(kernels_python, torch_python, lockable, tmp_path):
    hub = lockable["hub"]
    project = lock_project_dir(tmp_path, "pypi-017")
    kernels_cli(kernels_python, hub, tmp_path, "lock", str(project), KERNELS_CACHE=str(tmp_path / "c"))
    theirs = {e["dependency"]["repo-id"]: e["lock"]["commit"] for e in json.loads((project / "kernels.lock").read_text())}
    ours = {e["repo_id"]: e["sha"] for e in json.loads(our_lockers(hub, tmp_path, torch_python)["kb lock"])}
    assert theirs == ours == {REPO: lockable["commit"], WEIGHTS: lockable["weights_commit"]}
