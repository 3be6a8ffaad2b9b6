"""Faults kb survives, each shown against the loopback Hugging Face Hub
fixture with the real kb tools: processes SIGKILLed at random points of a
fetch, a lock and an upload (the next run completes and `kb cache verify`
finds nothing wrong), a full disk mid-download, a hub that stalls, resets
and lies, 64 processes loading one cold kernel, and a read-only cache.

KB_KILL_LOOPS sets how many kills each loop makes (default 8); KB_FAULT_SEED
the random kill points. Each loop prints its outcome counts (pytest -s)."""
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, RELU
from hub_server.process import HubProcess

BIN = Path(os.environ.get("KB_BIN", REPO / "build" / "bin"))
KB = BIN / "kb"
BENCH_LOAD = BIN / "kb-bench-load"
TOKEN = "hf_kb_faults"
REPO_ID = "kb-examples/relu"
KILL_LOOPS = int(os.environ.get("KB_KILL_LOOPS", "8"))
RNG = random.Random(int(os.environ.get("KB_FAULT_SEED", "1205")))
# What a SIGKILL may leave and `cache verify --repair` clears; anything else
# in a cache is damage.
DEBRIS = {"partial download", "stray temporary"}
# Slow every file download a little, so random kill points land inside it.
SLOW_DOWNLOADS = {"path": r"/_lfs/objects/|/resolve/", "kind": "delay", "phase": "body", "seconds": 0.15,
                  "count": -1}


def environment(hub, cache=None, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN)
    if cache is not None:
        env["KERNELS_CACHE"] = str(cache)
    env.update(extra)
    return env


def kb(hub, *args, cache=None, timeout=300, **extra):
    return subprocess.run([str(KB), *map(str, args)], env=environment(hub, cache, **extra), capture_output=True,
                          text=True, timeout=timeout)


def killed_at_random(hub, args, window, cache=None):
    """Starts `kb ARGS`, SIGKILLs it after a random part of `window` seconds;
    True when the kill landed (the process had not finished)."""
    proc = subprocess.Popen([str(KB), *map(str, args)], env=environment(hub, cache), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(RNG.uniform(0.0, window))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode == -signal.SIGKILL


def audit(hub, cache):
    r = kb(hub, "cache", "verify", "--cache-dir", cache, "--json")
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def damage(report):
    return [p for p in report["problems"] if p["kind"] not in DEBRIS]


def snapshot_files(cache):
    """Every file of every cached snapshot (path under the cache -> bytes)."""
    out = {}
    for path in sorted(Path(cache).glob("kernels--*/snapshots/**/*")):
        if path.is_file() and not path.name.startswith("."):
            out[str(path.relative_to(cache))] = path.read_bytes()
    return out


def project(tmp_path, repo_id=REPO_ID):
    proj = tmp_path / f"proj-{repo_id.replace('/', '-')}"
    proj.mkdir(parents=True, exist_ok=True)
    (proj / "pyproject.toml").write_text(
        f'[project]\nname = "app"\nversion = "0.1.0"\n\n[tool.kernels.dependencies]\n"{repo_id}" = 1\n')
    return proj


def timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


@pytest.fixture(scope="module")
def hub(tmp_path_factory, relu_variant_dir):
    server = HubProcess(tmp_path_factory.mktemp("fault-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        max_lifetime=1800)
    up = kb(server, "upload", RELU, "--repo-id", REPO_ID, "--allow-nonportable", "-q")
    assert up.returncode == 0, up.stderr
    yield server
    server.stop()


@pytest.fixture(scope="module")
def locked(hub, tmp_path_factory):
    """A project locked on the relu kernel, and a reference download of it."""
    tmp = tmp_path_factory.mktemp("locked")
    proj = project(tmp)
    r = kb(hub, "lock", proj)
    assert r.returncode == 0, r.stderr
    reference = tmp / "reference-cache"
    r = kb(hub, "download", proj, cache=reference)
    assert r.returncode == 0, r.stderr
    files = snapshot_files(reference)
    assert any(name.endswith(".so") for name in files)
    return proj, files


def test_a_fetch_killed_at_random_points_never_corrupts_the_cache_and_the_next_run_completes(hub, locked, tmp_path):
    proj, reference = locked
    hub.fault(SLOW_DOWNLOADS)
    try:
        r, window = timed(lambda: kb(hub, "download", proj, cache=tmp_path / "timing"))
        assert r.returncode == 0, r.stderr
        kills = 0
        debris = {kind: 0 for kind in sorted(DEBRIS)}
        for i in range(KILL_LOOPS):
            cache = tmp_path / f"cache-{i}"
            kills += killed_at_random(hub, ["download", proj], window, cache=cache)
            after_kill = audit(hub, cache)
            assert damage(after_kill) == [], after_kill
            for problem in after_kill["problems"]:
                debris[problem["kind"]] += 1
            r = kb(hub, "download", proj, cache=cache)
            assert r.returncode == 0, r.stderr
            assert audit(hub, cache)["problems"] == []
            assert snapshot_files(cache) == reference
            shutil.rmtree(cache)
    finally:
        hub.clear_faults()
    assert kills > 0
    left = ", ".join(f"{n} {kind}s" for kind, n in debris.items())
    print(f"\nfetch: {KILL_LOOPS} runs, {kills} killed mid-fetch, left {left}, 0 corrupt caches; every next run "
          f"completed and verified")


def test_a_lock_killed_at_random_points_leaves_no_partial_lock_file(hub, locked, tmp_path):
    source, _ = locked
    expected = (source / "kernels.lock").read_text()
    hub.fault({"path": r"/api/", "kind": "delay", "seconds": 0.1, "count": -1})
    try:
        _, window = timed(lambda: kb(hub, "lock", project(tmp_path / "timing")))
        kills = temporaries = 0
        for i in range(KILL_LOOPS):
            proj = project(tmp_path / f"run-{i}")
            kills += killed_at_random(hub, ["lock", proj], window)
            lock = proj / "kernels.lock"
            assert not lock.exists() or lock.read_text() == expected
            temporaries += len(list(proj.glob(".kernels.lock.tmp-*")))
            r = kb(hub, "lock", proj)
            assert r.returncode == 0, r.stderr
            assert lock.read_text() == expected
            assert sorted(p.name for p in proj.iterdir()) == ["kernels.lock", "pyproject.toml"] or \
                all(p.name.startswith(".kernels.lock.tmp-") for p in proj.iterdir()
                    if p.name not in ("kernels.lock", "pyproject.toml"))
    finally:
        hub.clear_faults()
    assert kills > 0
    print(f"\nlock: {KILL_LOOPS} runs, {kills} killed mid-lock, 0 partial lock files, {temporaries} temporaries "
          f"left beside them")


def test_an_upload_killed_at_random_points_is_completed_by_the_next_run(hub, locked, tmp_path):
    _, reference = locked
    loops = max(2, KILL_LOOPS // 2)
    hub.fault({"path": r"/_lfs/|/commit/|/preupload/", "kind": "delay", "seconds": 0.15, "count": -1})
    try:
        r, window = timed(lambda: kb(hub, "upload", RELU, "--repo-id", "kb-examples/upload-timing",
                                     "--allow-nonportable", "-q"))
        assert r.returncode == 0, r.stderr
        kills = 0
        for i in range(loops):
            repo_id = f"kb-examples/upload-killed-{i}"
            kills += killed_at_random(hub, ["upload", RELU, "--repo-id", repo_id, "--allow-nonportable", "-q"], window)
            r = kb(hub, "upload", RELU, "--repo-id", repo_id, "--allow-nonportable", "-q")
            assert r.returncode == 0, r.stderr
            proj = project(tmp_path / f"check-{i}", repo_id)
            cache = tmp_path / f"cache-{i}"
            assert kb(hub, "lock", proj).returncode == 0
            r = kb(hub, "download", proj, cache=cache)
            assert r.returncode == 0, r.stderr
            got = {name.split("/snapshots/")[1].split("/", 1)[1]: data
                   for name, data in snapshot_files(cache).items() if "/build/" in name}
            want = {name.split("/snapshots/")[1].split("/", 1)[1]: data
                    for name, data in reference.items() if "/build/" in name}
            assert got == want
    finally:
        hub.clear_faults()
    assert kills > 0
    print(f"\nupload: {loops} runs, {kills} killed mid-upload, every next upload completed the branch")


def lfs_object(reference):
    (name, data), = [(n, d) for n, d in reference.items() if n.endswith(".so")]
    return name, data


def test_a_full_disk_mid_download_leaves_no_partial_file_and_a_clear_error(hub, locked, tmp_path):
    proj, reference = locked
    _, so = lfs_object(reference)
    cache = tmp_path / "small-disk"
    cache.mkdir()
    size_kib = max(64, len(so) // 2048)  # room for half the shared object
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(cache)],
                             capture_output=True).returncode == 0
    extra = {}
    if not mounted:  # no mount rights: the disk fills up through an injected ENOSPC
        shim = BIN.parent / "tests" / "libkb_enospc.so"
        if not shim.exists():
            pytest.skip("neither a tmpfs mount nor the ENOSPC injection library is available")
        extra = {"LD_PRELOAD": str(shim), "KB_ENOSPC_AFTER_BYTES": str(len(so) // 2)}
    try:
        r = kb(hub, "download", proj, cache=cache, **extra)
        assert r.returncode != 0
        assert "No space left on device" in r.stderr, r.stderr
        assert ".incomplete" in r.stderr or "blobs" in r.stderr, r.stderr
        leftovers = [p for p in cache.rglob("*") if p.name.endswith(".incomplete") or ".tmp-" in p.name]
        assert leftovers == []
        assert not any(n.endswith(".so") for n in snapshot_files(cache))
        assert damage(audit(hub, cache)) == []
        if mounted:  # the disk grows: the same cache completes
            subprocess.run(["mount", "-o", "remount,size=64m", str(cache)], check=True)
            r = kb(hub, "download", proj, cache=cache)
            assert r.returncode == 0, r.stderr
            assert audit(hub, cache)["problems"] == []
    finally:
        if mounted:
            subprocess.run(["umount", str(cache)])


def test_a_stalled_download_is_dropped_and_resumed(hub, locked, tmp_path):
    proj, reference = locked
    hub.clear_log()
    hub.fault({"path": r"/_lfs/objects/", "kind": "delay", "phase": "body", "seconds": 30, "count": 1})
    try:
        r, seconds = timed(lambda: kb(hub, "download", proj, cache=tmp_path / "cache", HF_HUB_DOWNLOAD_TIMEOUT="1"))
    finally:
        hub.clear_faults()
    assert r.returncode == 0, r.stderr
    assert seconds < 25  # not the stall's 30 s
    lfs_gets = [e for e in hub.log() if "/_lfs/objects/" in e["path"]]
    assert len(lfs_gets) >= 2 and lfs_gets[0]["fault"] == "delay"
    assert snapshot_files(tmp_path / "cache") == reference


def test_resets_are_retried_and_a_hub_that_keeps_resetting_gets_a_clear_error(hub, locked, tmp_path):
    proj, reference = locked
    hub.fault({"path": r"/api/kernels/.*/tree/", "kind": "reset", "count": 2})
    try:
        r = kb(hub, "download", proj, cache=tmp_path / "retried")
    finally:
        hub.clear_faults()
    assert r.returncode == 0, r.stderr
    assert snapshot_files(tmp_path / "retried") == reference
    hub.fault({"path": r"/_lfs/objects/", "kind": "reset", "count": -1})
    try:
        r = kb(hub, "download", proj, cache=tmp_path / "refused")
    finally:
        hub.clear_faults()
    assert r.returncode != 0
    assert "_lfs/objects" in r.stderr or ".so" in r.stderr, r.stderr
    assert damage(audit(hub, tmp_path / "refused")) == []


def test_a_hub_that_lies_about_sizes_hashes_or_commits_is_refused_and_nothing_is_stored(hub, locked, tmp_path):
    proj, reference = locked
    _, so = lfs_object(reference)
    sha256 = hashlib.sha256(so).hexdigest()
    lies = [
        ({"find": str(len(so)), "replace": str(len(so) - 1)}, "size mismatch"),
        ({"find": sha256, "replace": hashlib.sha256(b"other").hexdigest()}, "hash mismatch"),
    ]
    for i, (lie, message) in enumerate(lies):
        cache = tmp_path / f"lied-{i}"
        hub.fault({"path": r"/api/kernels/.*/tree/", "kind": "rewrite", "count": -1, **lie})
        try:
            r = kb(hub, "download", proj, cache=cache)
        finally:
            hub.clear_faults()
        assert r.returncode != 0
        assert message in r.stderr, r.stderr
        assert not any(n.endswith(".so") for n in snapshot_files(cache))
        assert damage(audit(hub, cache)) == []
    head = hub.head(REPO_ID, "v1")
    hub.fault({"path": r"/api/kernels/.*/refs", "kind": "rewrite", "count": -1, "find": head,
               "replace": "../../../../tmp/x"})
    try:
        r = kb(hub, "lock", project(tmp_path / "lied-refs"))
    finally:
        hub.clear_faults()
    assert r.returncode != 0
    assert "is not a commit id (40 or 64 hex digits): ../../../../tmp/x" in r.stderr, r.stderr


def test_64_processes_loading_one_cold_kernel_download_it_once(hub, locked, tmp_path):
    if not BENCH_LOAD.exists():
        pytest.skip("kb-bench-load (the C++ runtime, libtorch) is not built")

    def load_all(n, cache):
        procs = [subprocess.Popen([str(BENCH_LOAD), "get-kernel", REPO_ID, "1"], env=environment(hub, cache),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
        results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
        for out, err, code in results:
            assert code == 0, err
        return results

    hub.clear_log()
    _, one = timed(lambda: load_all(1, tmp_path / "one"))
    hub.clear_log()
    _, many = timed(lambda: load_all(64, tmp_path / "many"))
    lfs_gets = [e for e in hub.log() if "/_lfs/objects/" in e["path"]]
    assert len(lfs_gets) == 1  # one download; the 63 others waited on its lock
    assert audit(hub, tmp_path / "many")["problems"] == []
    print(f"\n64 processes loading one cold kernel: {many:.2f} s; one process: {one:.2f} s ({many / one:.1f}x; "
          f"64 loads one after another would take about {64 * one:.1f} s)")


@pytest.fixture
def read_only(tmp_path):
    """Bind-mounts a directory read-only (root), else drops its write bits."""
    mounts = []

    def make(path):
        view = tmp_path / f"ro-{path.name}"
        view.mkdir()
        ok = subprocess.run(["mount", "--bind", str(path), str(view)], capture_output=True).returncode == 0 and \
            subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True).returncode == 0
        if ok:
            mounts.append(view)
            return view
        if os.geteuid() == 0:
            pytest.skip("no read-only bind mount for root")
        for p in [path, *path.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o555)
        return path

    yield make
    for view in mounts:
        subprocess.run(["umount", str(view)])


def test_a_read_only_cache_serves_warm_loads_and_cold_ones_fail_clearly(hub, locked, tmp_path, read_only):
    if not BENCH_LOAD.exists():
        pytest.skip("kb-bench-load (the C++ runtime, libtorch) is not built")
    warm = tmp_path / "warm"
    r = subprocess.run([str(BENCH_LOAD), "get-kernel", REPO_ID, "1"], env=environment(hub, warm),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    before = snapshot_files(warm)
    view = read_only(warm)
    r = subprocess.run([str(BENCH_LOAD), "get-kernel", REPO_ID, "1"], env=environment(hub, view),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = kb(hub, "cache", "verify", "--cache-dir", view)
    assert r.returncode == 0 and "no problems" in r.stdout, r.stdout + r.stderr
    cold = tmp_path / "cold"
    cold.mkdir()
    view = read_only(cold)
    r = subprocess.run([str(BENCH_LOAD), "get-kernel", REPO_ID, "1"], env=environment(hub, view),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert str(view) in r.stderr and "Read-only file system" in r.stderr or "Permission denied" in r.stderr, r.stderr
    assert snapshot_files(warm) == before
