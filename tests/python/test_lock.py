"""Locking: `kernels lock` / `kernels download` and load_kernel /
get_locked_kernel, over the loopback Hugging Face Hub fixture (KB_HUB unset,
HF_ENDPOINT at it) and over a local hub (KB_HUB=local:DIR), with
examples/relu published by `kb upload`.

Expected lock contents are computed here from examples/relu/build with
hashlib (git blob ids, LFS SHA-256 for the shared objects the Hugging Face
Hub keeps in LFS), independently of libkb. Loads that import the kernel run
in fresh interpreters: the build fetched from the hub has the same op
namespace as examples/relu/build, which other tests load in this process."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kernels
from conftest import REPO, RELU
from hub_server.process import HubProcess

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
TOKEN = "hf_kb_lock_test"
RELU_ID = "kb-examples/relu"
# This repository's kernels package, for subprocesses started anywhere.
KERNELS_PYTHONPATH = str(Path(kernels.__file__).resolve().parents[1])


# -- expected values, computed without libkb ----------------------------------------
def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def expected_variant_hash(variant_dir: Path, lfs=lambda rel: False) -> str:
    """git_lfs_concat (runtime spec 7.3) over a variant directory's files."""
    entries = []
    for p in variant_dir.rglob("*"):
        if not p.is_file() or p.suffix == ".pyc" or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(variant_dir).as_posix()
        data = p.read_bytes()
        entries.append((rel.encode(), hashlib.sha256(data).hexdigest() if lfs(rel) else git_blob_sha1(data)))
    m = hashlib.sha256()
    for name, hex_hash in sorted(entries):
        m.update(name + bytes.fromhex(hex_hash))
    return "sha256-" + m.hexdigest()


def built_variants() -> list:
    return sorted(d.name for d in (RELU / "build").iterdir() if (d / "metadata.json").is_file())


def legacy_lock_bytes(entries: list) -> bytes:
    # What kernels <= 0.16 writes: json.dump(..., indent=2), no trailing newline.
    return json.dumps(entries, indent=2).encode()


def structured_lock_bytes(pins: list) -> bytes:
    """What kernels 0.17+ writes for (repo id, version, commit) pins: sorted,
    indent 2, no trailing newline."""
    return json.dumps([{"dependency": {"repo-id": repo_id, "version": version}, "lock": {"commit": sha}}
                       for repo_id, version, sha in sorted(pins)], indent=2).encode()


# -- hubs -------------------------------------------------------------------------------
def base_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE", "HF_ENDPOINT", "KERNELS_CACHE")}
    env["PYTHONPATH"] = KERNELS_PYTHONPATH
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def hf(tmp_path_factory, relu_variant_dir):
    """The Hugging Face Hub fixture with examples/relu v1 from `kb upload`, a
    repository with a v1 build of its own whose kernel-status.toml redirects
    to it, and a pure-Python kernel whose weights are an LFS file."""
    hub = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-examples"], max_lifetime=900)
    try:
        up = subprocess.run([str(KB), "upload", str(RELU), "--repo-id", RELU_ID, "--allow-nonportable", "-q"],
                            env=base_env(HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN), capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
        moved = tmp_path_factory.mktemp("moved")
        (moved / "kernel-status.toml").write_text(
            f'kind = "redirect"\ndestination = "{RELU_ID}"\nrevision = "v1"\n')
        hub.seed("kb-examples/old-relu", moved, "main")
        hub.commit("kb-examples/old-relu", "v1", {
            "build/torch-universal/__init__.py": b"OLD_RELU = True\n",
            "build/torch-universal/metadata.json": b'{"python-depends": []}\n'})
        hub.env = lambda **extra: base_env(HF_ENDPOINT=hub.url, **extra)
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def local_hub(tmp_path_factory, relu_variant_dir):
    root = tmp_path_factory.mktemp("local-hub")
    spec = f"local:{root}"
    up = subprocess.run([str(KB), "upload", str(RELU), "--allow-nonportable", "-q"],
                        env=base_env(KB_HUB=spec), capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    head = subprocess.run(["git", "--git-dir", str(root / "kb-examples" / "relu.git"), "rev-parse",
                           "refs/heads/v1"], capture_output=True, text=True, check=True).stdout.strip()
    return spec, head


def project(tmp_path: Path, deps: str, name: str = "project") -> Path:
    p = tmp_path / name
    p.mkdir()
    (p / "pyproject.toml").write_text(f'[project]\nname = "app"\n\n[tool.kernels.dependencies]\n{deps}\n')
    return p


def kernels_cli(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                          timeout=300)


LOAD_LOCKED = """
    import json, sys, warnings
    from pathlib import Path
    warnings.simplefilter("ignore")
    import torch, kernels
    relu = kernels.load_kernel("kb-examples/relu", lockfile=Path(sys.argv[1]))
    x = torch.linspace(-2, 2, 9)
    assert torch.equal(relu.relu(x), torch.relu(x))
    (entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
    info = entry.repo_info
    print(json.dumps({"file": relu.__file__, "repo_info": info and [info.repo_id, info.revision]}))
"""


def load_locked(env: dict, lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(LOAD_LOCKED), str(lock)], env=env,
                          capture_output=True, text=True, timeout=300)


def variant_blob(variant_dir: Path, name: str) -> Path:
    """The cache blob a snapshot file links to."""
    link = variant_dir / name
    assert link.is_symlink(), link
    return link.resolve()


# -- lock, download, load ----------------------------------------------------------------
def test_lock_download_and_load_over_the_hugging_face_hub(hf, tmp_path, cpu_linux_torch):
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    cache = tmp_path / "cache"
    env = hf.env(KERNELS_CACHE=str(cache))
    out = kernels_cli(env, "lock", "--format", "legacy", proj)
    assert out.returncode == 0, out.stderr
    sha = hf.head(RELU_ID, "v1")
    assert f"Locked {RELU_ID} v1 at {sha} ({len(built_variants())} variant(s))" in out.stderr
    assert out.stdout == ""

    # Every variant kb upload published, hashed as the hub stores them (shared
    # objects in LFS), in the hub listing's order, written as the existing tool writes.
    expected = [{"repo_id": RELU_ID, "sha": sha, "variants": {
        v: {"hash": expected_variant_hash(RELU / "build" / v, lfs=lambda rel: rel.endswith(".so")),
            "hash_type": "git_lfs_concat"} for v in built_variants()}}]
    written = (proj / "kernels.lock").read_bytes()
    assert written == legacy_lock_bytes(expected)

    # kb lock over the same hub state writes the same bytes.
    kb_proj = project(tmp_path, f'"{RELU_ID}" = 1', "kb-project")
    kb = subprocess.run([str(KB), "lock", "--format", "legacy", str(kb_proj)], env=env, capture_output=True,
                        text=True)
    assert kb.returncode == 0, kb.stderr
    assert (kb_proj / "kernels.lock").read_bytes() == written

    # By default both write the structured format of kernels 0.17+: the commit
    # only, for the version asked for.
    structured = structured_lock_bytes([(RELU_ID, 1, sha)])
    for cmd in ([sys.executable, "-m", "kernels", "lock"], [str(KB), "lock"]):
        default_proj = project(tmp_path, f'"{RELU_ID}" = 1', f"default-{len(cmd)}")
        out = subprocess.run([*cmd, str(default_proj)], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert (default_proj / "kernels.lock").read_bytes() == structured
    assert f"Locked {RELU_ID} v1 at {sha}\n" in out.stderr

    out = kernels_cli(env, "download", proj)
    assert out.returncode == 0, out.stderr
    assert f"Downloading `{RELU_ID}` with SHA: {sha}" in out.stderr
    build = cache / "kernels--kb-examples--relu" / "snapshots" / sha / "build"
    assert f"{cpu_linux_torch}: verified, {build / cpu_linux_torch}" in out.stderr
    # Only the variant for this process.
    assert sorted(p.name for p in build.iterdir()) == [cpu_linux_torch]

    # load_kernel reads the cache only: not one request reaches the hub.
    hf.clear_log()
    loaded = load_locked(env, proj / "kernels.lock")
    assert loaded.returncode == 0, loaded.stderr
    assert hf.log() == []
    res = json.loads(loaded.stdout.splitlines()[-1])
    assert Path(res["file"]).parent == build / cpu_linux_torch
    # As kernels 0.19 records it: the repository and the locked commit.
    assert res["repo_info"] == [RELU_ID, sha]


def test_lock_download_and_load_over_a_local_hub(local_hub, tmp_path, cpu_linux_torch):
    spec, sha = local_hub
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    cache = tmp_path / "cache"
    env = base_env(KB_HUB=spec, KERNELS_CACHE=str(cache))
    out = kernels_cli(env, "lock", "--format", "legacy", proj)
    assert out.returncode == 0, out.stderr
    # A git hub has no LFS: every file is hashed by its git blob id.
    expected = [{"repo_id": RELU_ID, "sha": sha, "variants": {
        v: {"hash": expected_variant_hash(RELU / "build" / v), "hash_type": "git_lfs_concat"}
        for v in built_variants()}}]
    assert (proj / "kernels.lock").read_bytes() == legacy_lock_bytes(expected)

    out = kernels_cli(env, "download", "--all-variants", proj)
    assert out.returncode == 0, out.stderr
    build = cache / "kernels--kb-examples--relu" / "snapshots" / sha / "build"
    assert sorted(p.name for p in build.iterdir()) == built_variants()
    for v in built_variants():
        assert f"{v}: verified, {build / v}" in out.stderr

    loaded = load_locked(env, proj / "kernels.lock")
    assert loaded.returncode == 0, loaded.stderr
    assert Path(json.loads(loaded.stdout.splitlines()[-1])["file"]).parent == build / cpu_linux_torch


def test_a_lock_in_the_structured_format_of_kernels_0_19_is_downloaded_and_loaded(hf, tmp_path, cpu_linux_torch):
    # As PyPI kernels 0.19 writes it: dependencies pinned to commits, no variant hashes.
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    sha = hf.head(RELU_ID, "v1")
    (proj / "kernels.lock").write_text(json.dumps(
        [{"dependency": {"repo-id": RELU_ID, "version": 1}, "lock": {"commit": sha.upper()}}], indent=2))
    env = hf.env(KERNELS_CACHE=str(tmp_path / "cache"))

    (entry,) = _parse_lock((proj / "kernels.lock").read_text())
    assert (entry.repo_id, entry.sha, entry.variants) == (RELU_ID, sha, {})
    assert entry.dependency == {"repo-id": RELU_ID, "version": 1}

    out = kernels_cli(env, "download", proj)
    assert out.returncode == 0, out.stderr
    build = tmp_path / "cache" / "kernels--kb-examples--relu" / "snapshots" / sha / "build"
    assert f"{cpu_linux_torch}: verified, {build / cpu_linux_torch}" in out.stderr
    loaded = load_locked({**env, "HF_HUB_OFFLINE": "1"}, proj / "kernels.lock")
    assert loaded.returncode == 0, loaded.stderr
    assert Path(json.loads(loaded.stdout.splitlines()[-1])["file"]).parent == build / cpu_linux_torch

    # Unknown keys and short commit ids name the entry.
    (proj / "kernels.lock").write_text(json.dumps(
        [{"dependency": {"repo-id": RELU_ID, "version": 1}, "lock": {"commit": sha[:7]}}]))
    out = kernels_cli(env, "download", proj)
    assert out.returncode == 1
    assert f"entry 0 ({RELU_ID}): lock: Invalid git object id, expected 40 or 64 hexadecimal digits: {sha[:7]}" \
        in out.stderr


def _parse_lock(text: str):
    from kernels import _core
    return _core.parse_lock_file(text)


def test_lock_pins_the_asked_repository_not_its_kernel_status_redirect(hf, tmp_path):
    # As in kernels >= 0.17, in both formats: old-relu's own v1, no redirect to relu.
    env = hf.env(KERNELS_CACHE=str(tmp_path / "cache"))
    for fmt in ("legacy", "structured"):
        proj = project(tmp_path, '"kb-examples/old-relu" = 1', name=fmt)
        out = kernels_cli(env, "lock", "--format", fmt, proj)
        assert out.returncode == 0, out.stderr
        assert "redirected" not in out.stderr
        (entry,) = _parse_lock((proj / "kernels.lock").read_text())
        assert (entry.repo_id, entry.sha) == ("kb-examples/old-relu", hf.head("kb-examples/old-relu", "v1"))
        if fmt == "legacy":
            assert list(entry.variants) == ["torch-universal"]


# -- what goes wrong ---------------------------------------------------------------------------
def test_a_tampered_cached_file_is_refused_then_downloaded_again(hf, tmp_path, cpu_linux_torch):
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    cache = tmp_path / "cache"
    env = hf.env(KERNELS_CACHE=str(cache))
    # The variant hashes of the legacy format are what finds the change.
    assert kernels_cli(env, "lock", "--format", "legacy", proj).returncode == 0
    assert kernels_cli(env, "download", proj).returncode == 0
    sha = json.loads((proj / "kernels.lock").read_text())[0]["sha"]
    variant_dir = cache / "kernels--kb-examples--relu" / "snapshots" / sha / "build" / cpu_linux_torch
    blob = variant_blob(variant_dir, "_ops.py")
    blob.chmod(0o644)
    with open(blob, "ab") as f:
        f.write(b"\nimport os  # changed after download\n")

    # Offline, `kernels download` finds it and clears it from the cache ...
    out = kernels_cli({**env, "HF_HUB_OFFLINE": "1"}, "download", proj)
    assert out.returncode == 1
    assert "_ops.py" in out.stderr and cpu_linux_torch in out.stderr
    assert not variant_dir.exists() and not blob.exists()
    # ... and online it fetches it again, intact.
    out = kernels_cli(env, "download", proj)
    assert out.returncode == 0, out.stderr
    assert load_locked(env, proj / "kernels.lock").returncode == 0
    # Online, one download replaces an altered copy.
    blob = variant_blob(variant_dir, "_ops.py")
    blob.chmod(0o644)
    with open(blob, "ab") as f:
        f.write(b"\nimport os  # changed again\n")
    assert kernels_cli(env, "download", proj).returncode == 0
    assert load_locked(env, proj / "kernels.lock").returncode == 0

    # The loader (offline: load_kernel) refuses an altered copy the same way,
    # naming the file, before anything is imported, and removes it.
    blob = variant_blob(variant_dir, "_ops.py")
    blob.chmod(0o644)
    with open(blob, "ab") as f:
        f.write(b"\nimport os  # changed a third time\n")
    loaded = load_locked(env, proj / "kernels.lock")
    assert loaded.returncode != 0
    assert "ValueError" in loaded.stderr and "_ops.py" in loaded.stderr and RELU_ID in loaded.stderr
    assert not variant_dir.exists() and not blob.exists()


def test_a_lock_naming_variants_the_hub_does_not_have(hf, tmp_path, cpu_linux_torch):
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    cache = tmp_path / "cache"
    env = hf.env(KERNELS_CACHE=str(cache))
    assert kernels_cli(env, "lock", "--format", "legacy", proj).returncode == 0
    (entry,) = json.loads((proj / "kernels.lock").read_text())
    gone = "torch27-cxx11-cpu-x86_64-linux"
    # The variant for this process is locked under a name the hub never had.
    entry["variants"] = {(gone if k == cpu_linux_torch else k): v for k, v in entry["variants"].items()}
    (proj / "kernels.lock").write_text(json.dumps([entry], indent=2))

    out = kernels_cli(env, "download", "--all-variants", proj)
    assert out.returncode == 1
    assert f"Variant {gone} not found in {RELU_ID} (revision: {entry['sha']})" in out.stderr
    assert not (cache / "kernels--kb-examples--relu" / "snapshots" / entry["sha"] / "build").exists()

    out = kernels_cli(env, "download", proj)
    assert out.returncode == 1
    assert f"variant {cpu_linux_torch} of {RELU_ID}" in out.stderr and "is not locked in kernels.lock" in out.stderr
    assert gone in out.stderr


def test_a_project_without_kernel_dependencies_is_a_clean_no_op(hf, tmp_path):
    proj = tmp_path / "plain"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "plain"\n')
    out = kernels_cli(hf.env(), "lock", proj)
    assert out.returncode == 0, out.stderr
    assert "has no [tool.kernels.dependencies] table: nothing to lock" in out.stderr
    assert not (proj / "kernels.lock").exists()


def test_bad_versions_and_unknown_kernels_fail_and_keep_the_old_lock(hf, tmp_path):
    proj = project(tmp_path, f'"{RELU_ID}" = "one"')
    (proj / "kernels.lock").write_text("[]")
    out = kernels_cli(hf.env(), "lock", proj)
    assert out.returncode == 1
    assert RELU_ID in out.stderr and "pyproject.toml" in out.stderr and "Traceback" not in out.stderr

    (proj / "pyproject.toml").write_text(f'[tool.kernels.dependencies]\n"{RELU_ID}" = 1\n"kb-examples/nothing" = 1\n')
    out = kernels_cli(hf.env(), "lock", proj)
    assert out.returncode == 1
    assert "kb-examples/nothing" in out.stderr and "Traceback" not in out.stderr
    assert (proj / "kernels.lock").read_text() == "[]"

    (proj / "pyproject.toml").write_text(f'[tool.kernels.dependencies]\n"{RELU_ID}" = 7\n')
    out = kernels_cli(hf.env(), "lock", proj)
    assert out.returncode == 1 and "Version 7 not found, available versions: 1" in out.stderr

    out = kernels_cli(hf.env(), "lock", tmp_path / "nowhere")
    assert out.returncode == 1 and f"No pyproject.toml found in: {tmp_path / 'nowhere'}" in out.stderr


def test_download_without_a_lock_file(tmp_path):
    out = kernels_cli(base_env(), "download", tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip() == f"No kernels.lock file found in: {tmp_path}"


# -- locks from package metadata ---------------------------------------------------------------
CALLER = '''
import kernels

def locked():
    return kernels.get_locked_kernel("kb-examples/relu", lockfile=None)

def loaded():
    return kernels.load_kernel("kb-examples/relu", lockfile=None)
'''


def install_fake_package(site: Path, name: str, lock_text: str, kind: str) -> None:
    """A package `name` installed in `site` the way pip or setuptools leave it,
    with kernels.lock in its metadata (as write_egg_lockfile puts it there)."""
    pkg = site / name
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(CALLER)
    if kind == "dist-info":
        meta = site / f"{name}-0.1.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (meta / "kernels.lock").write_text(lock_text)
        # packages_distributions() finds the package through the RECORD.
        (meta / "RECORD").write_text(f"{name}/__init__.py,,\n{meta.name}/METADATA,,\n{meta.name}/RECORD,,\n")
    else:
        meta = site / f"{name}.egg-info"
        meta.mkdir()
        (meta / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (meta / "top_level.txt").write_text(f"{name}\n")
        (meta / "kernels.lock").write_text(lock_text)


def test_get_locked_kernel_reads_the_lock_of_the_calling_package(hf, tmp_path, cpu_linux_torch):
    proj = project(tmp_path, f'"{RELU_ID}" = 1')
    cache = tmp_path / "cache"
    env = hf.env(KERNELS_CACHE=str(cache))
    # The legacy format: its variant hashes let get_locked_kernel replace an
    # altered cached copy (below).
    assert kernels_cli(env, "lock", "--format", "legacy", proj).returncode == 0
    lock_text = (proj / "kernels.lock").read_text()
    sha = json.loads(lock_text)[0]["sha"]
    site = tmp_path / "site"
    install_fake_package(site, "distapp", lock_text, "dist-info")
    install_fake_package(site, "eggapp", lock_text, "egg-info")
    # A package whose lock pins another kernel only.
    install_fake_package(site, "otherapp", lock_text.replace(RELU_ID, "kb-examples/other"), "dist-info")
    env["PYTHONPATH"] = os.pathsep.join([str(site), KERNELS_PYTHONPATH])

    code = """
        import json, warnings
        warnings.simplefilter("ignore")
        import torch, kernels, distapp, eggapp, otherapp
        x = torch.linspace(-2, 2, 9)
        files = []
        for relu in (distapp.locked(), eggapp.locked(), eggapp.loaded()):
            assert torch.equal(relu.relu(x), torch.relu(x))
            files.append(relu.__file__)
        errors = []
        for call in (otherapp.locked, otherapp.loaded,
                     lambda: kernels.get_locked_kernel("kb-examples/relu", lockfile=None)):
            try:
                call()
            except ValueError as e:
                errors.append(str(e))
        print(json.dumps({"files": files, "errors": errors}))
    """
    # Online, get_locked_kernel downloads what the lock pins.
    out = run_python(code, env)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.splitlines()[-1])
    variant_dir = cache / "kernels--kb-examples--relu" / "snapshots" / sha / "build" / cpu_linux_torch
    assert {Path(f).parent for f in res["files"]} == {variant_dir}
    not_locked = (f"Kernel `{RELU_ID}` is not locked. Please lock it with `kernels lock <project>` and then "
                  "reinstall the project.")
    assert res["errors"] == [
        not_locked,
        not_locked,
        # Called from __main__, which no distribution provides.
        "Could not find a `kernels.lock` file in the caller's package metadata. Please lock kernels with "
        "`kernels lock <project>` and then reinstall the project.",
    ]

    # Offline, from that cache: no request at all.
    hf.clear_log()
    out = run_python(code, {**env, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    assert hf.log() == []

    # Offline with an empty cache: nothing to load, and still no request.
    out = run_python("""
        import eggapp
        eggapp.locked()
    """, {**env, "HF_HUB_OFFLINE": "1", "KERNELS_CACHE": str(tmp_path / "empty")})
    assert out.returncode != 0 and "FileNotFoundError" in out.stderr and RELU_ID in out.stderr
    out = run_python("""
        import eggapp
        eggapp.loaded()
    """, {**env, "KERNELS_CACHE": str(tmp_path / "empty")})
    assert out.returncode != 0
    assert (f"FileNotFoundError: Locked kernel `{RELU_ID}` was not downloaded or does not have an applicable "
            "variant. Make sure it's downloaded locally via `kernels download <project>`.") in out.stderr
    assert hf.log() == []

    # Online, get_locked_kernel replaces a cached copy altered since, with the
    # lock's files, and loads that.
    blob = variant_blob(variant_dir, "_ops.py")
    blob.chmod(0o644)
    with open(blob, "ab") as f:
        f.write(b"\nraise RuntimeError('altered in the cache')\n")
    out = run_python("""
        import torch, eggapp
        x = torch.linspace(-2, 2, 9)
        assert torch.equal(eggapp.locked().relu(x), torch.relu(x))
    """, env)
    assert out.returncode == 0, out.stderr
    assert b"altered in the cache" not in variant_blob(variant_dir, "_ops.py").read_bytes()


def test_write_egg_lockfile_copies_the_project_lock(tmp_path, monkeypatch):
    from kernels.lockfile import write_egg_lockfile

    class Cmd:
        def __init__(self):
            self.calls = []

        def write_or_delete_file(self, basename, filename, data):
            self.calls.append((basename, filename, data))

    monkeypatch.chdir(tmp_path)
    cmd = Cmd()
    write_egg_lockfile(cmd, "kernels.lock", "app.egg-info/kernels.lock")
    assert cmd.calls == []  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    write_egg_lockfile(cmd, "kernels.lock", "app.egg-info/kernels.lock")
    assert cmd.calls == []  # no kernel dependencies
    (tmp_path / "pyproject.toml").write_text(f'[tool.kernels.dependencies]\n"{RELU_ID}" = 1\n')
    write_egg_lockfile(cmd, "kernels.lock", "app.egg-info/kernels.lock")
    assert cmd.calls == [("kernels.lock", "app.egg-info/kernels.lock", None)]  # deletes a stale copy
    (tmp_path / "kernels.lock").write_text('[\n  {"repo_id": "a/b"}\n]')
    write_egg_lockfile(cmd, "kernels.lock", "app.egg-info/kernels.lock")
    assert cmd.calls[-1] == ("kernels.lock", "app.egg-info/kernels.lock", '[\n  {"repo_id": "a/b"}\n]')


# -- in process: the API's contract ---------------------------------------------------------------
def test_load_kernel_requires_a_lock_that_names_the_kernel(tmp_path):
    lock = tmp_path / "kernels.lock"
    lock.write_text(json.dumps([{"repo_id": "a/other", "sha": "0" * 40, "variants": {}}], indent=2))
    with pytest.raises(ValueError, match=r"^Kernel `a/b` is not locked\. Please lock it with `kernels lock "
                                         r"<project>` and then reinstall the project\.$"):
        kernels.load_kernel("a/b", lockfile=lock)
    with pytest.raises(TypeError):
        kernels.load_kernel("a/b")  # lockfile has no default
    # A malformed entry fails the lookup, naming the file and the key.
    lock.write_text(json.dumps([{"repo_id": "a/b", "sha": "0" * 40, "variants": {"torch-cpu": {"hash": 1}}}]))
    with pytest.raises(ValueError, match=r"kernels\.lock: entry 0 \(a/b\): variant \"torch-cpu\": key \"hash\" "
                                         r"must be a string"):
        kernels.load_kernel("a/b", lockfile=lock)
    with pytest.raises(FileNotFoundError):
        kernels.load_kernel("a/b", lockfile=tmp_path / "missing.lock")


def test_locked_revision_lookup_reads_every_entry():
    from kernels.lockfile import get_locked_kernel_revision

    text = json.dumps([{"repo_id": "a/b", "sha": "1" * 40, "variants": {}},
                       {"repo_id": "a/b", "sha": "2" * 40, "variants": {}}])
    assert get_locked_kernel_revision("a/b", text) == "1" * 40
    assert get_locked_kernel_revision("a/c", text) is None
    with pytest.raises(ValueError, match="missing key \"sha\""):
        get_locked_kernel_revision("a/b", text[:-1] + ', {"repo_id": "x/y", "variants": {}}]')
