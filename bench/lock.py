#!/usr/bin/env python3
"""Times `kb lock` of a project depending on 20 kernels, against a baseline
measured in the same run:

- kb lock: wall time of `kb lock PROJECT_DIR` (process start included),
  writing the current (structured) kernels.lock: per kernel, the v<N>
  commit lookup, the build/ listing and each variant's metadata.json (for
  its kernel-depends); kernels.lock written.
- kb lock --format legacy: the same with kb's per-variant hashes: a
  recursive tree listing hashed into the variant locks, kernels resolved
  concurrently.
- baseline: 20 sequential GET /api/kernels/{id}/revision/v1 with urllib from
  this process (no process start, no tree, no hashing): the least any locker
  that asks once per kernel, one after the other, must wait for.

Ratios = each / baseline (below 1: kb lock pins the 20 kernels faster than
sequential commit lookups alone).

The hub is tests/fixtures/hub-server, the loopback Hugging Face Hub; the 20
kernels (3 variants of 4 files each, the shared object in LFS) are committed
to it with `hub-server seed` before it starts.

    /usr/bin/python3 bench/lock.py [--runs N] [--kernels N]

build/bin/kb must exist.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KB = REPO / "build" / "bin" / "kb"
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
from hub_server.process import HubProcess, SeedError, seed  # noqa: E402

ORG = "kb-bench"
VARIANTS = ["torch29-cxx11-cpu-x86_64-linux", "torch29-cxx11-cu128-x86_64-linux", "torch-universal"]


def make_kernel(root: Path, name: str) -> Path:
    """A small kernel tree: build/<variant>/ with metadata, Python files and a
    shared object (random bytes, so every kernel's blobs differ)."""
    for variant in VARIANTS:
        d = root / "build" / variant
        d.mkdir(parents=True)
        (d / "metadata.json").write_text(json.dumps({
            "name": name, "id": f"_{name.replace('-', '_')}_0000000", "version": 1, "license": "Apache-2.0",
            "python-depends": [], "backend": {"type": "cuda" if "cu" in variant else "cpu"}}, indent=2))
        (d / "__init__.py").write_text("from ._ops import ops\n")
        (d / "_ops.py").write_text(f"import torch\nops = torch.ops._{name.replace('-', '_')}\n")
        (d / f"_{name.replace('-', '_')}.abi3.so").write_bytes(os.urandom(64 << 10))
    return root


def seed_kernels(root: Path, tmp: Path, count: int) -> list:
    repos = []
    for i in range(count):
        name = f"k{i:02d}"
        src = make_kernel(tmp / "src" / name, name)
        try:
            seed(root, f"{ORG}/{name}", src, "v1")
        except SeedError as e:
            sys.exit(e.stderr)
        repos.append(f"{ORG}/{name}")
    return repos


def time_kb_lock(env, project: Path, *flags: str) -> float:
    t = time.perf_counter()
    out = subprocess.run([str(KB), "lock", "-q", *flags, str(project)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(out.stderr)
    return seconds


def time_revisions(endpoint: str, repos: list) -> float:
    t = time.perf_counter()
    for repo in repos:
        with urllib.request.urlopen(f"{endpoint}/api/kernels/{repo}/revision/v1", timeout=60) as r:
            json.load(r)["sha"]
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kernels", type=int, default=20)
    args = parser.parse_args()
    if not KB.is_file():
        sys.exit(f"{KB} is missing: build kb first")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        root = tmp / "server"
        repos = seed_kernels(root, tmp, args.kernels)
        with HubProcess(root, trusted_orgs=[ORG]) as server:
            endpoint = server.url
            env = {k: v for k, v in os.environ.items() if k not in ("KB_HUB", "HF_HUB_OFFLINE", "HF_TOKEN")}
            env.update({"HF_ENDPOINT": endpoint, "KERNELS_CACHE": str(tmp / "cache"), "NO_PROXY": "*"})
            project = tmp / "project"
            project.mkdir()
            deps = "".join(f'"{r}" = 1\n' for r in repos)
            (project / "pyproject.toml").write_text(f'[project]\nname = "app"\n\n[tool.kernels.dependencies]\n{deps}')
            empty = tmp / "empty"
            empty.mkdir()
            (empty / "pyproject.toml").write_text('[project]\nname = "app"\n')

            # Warm both sides once (page cache, server threads, git objects).
            time_kb_lock(env, project)
            time_revisions(endpoint, repos)
            lock_times, legacy_times, revision_times, startup_times = [], [], [], []
            for _ in range(args.runs):
                lock_times.append(time_kb_lock(env, project))
                legacy_times.append(time_kb_lock(env, project, "--format", "legacy"))
                revision_times.append(time_revisions(endpoint, repos))
                startup_times.append(time_kb_lock(env, empty))
            # What one kb lock asks the hub, from the fixture's request log.
            requests = {}
            for name, flags in (("structured", ()), ("legacy", ("--format", "legacy"))):
                server.clear_log()
                time_kb_lock(env, project, *flags)
                requests[name] = len(server.log())
                locks = json.loads((project / "kernels.lock").read_text())
                pinned = [e["dependency"]["repo-id"] if name == "structured" else e["repo_id"] for e in locks]
                if sorted(pinned) != sorted(repos) or (
                        name == "legacy" and any(len(e["variants"]) != len(VARIANTS) for e in locks)):
                    sys.exit(f"the {name} kernels.lock does not pin every kernel")

    lock, legacy, revisions, startup = (statistics.median(x)
                                        for x in (lock_times, legacy_times, revision_times, startup_times))
    print(f"hub: loopback Hugging Face Hub fixture, {args.kernels} kernels x {len(VARIANTS)} variants, "
          f"median of {args.runs} runs")
    print(f"kb lock:                         {lock * 1e3:8.2f} ms  "
          f"(of which process start, nothing to lock: {startup * 1e3:.2f} ms)")
    print(f"    {requests['structured']} requests ({requests['structured'] / args.kernels:.1f} per kernel: branch "
          "refs, build/ listing, each variant's metadata.json)")
    print(f"kb lock --format legacy:         {legacy * 1e3:8.2f} ms")
    print(f"    {requests['legacy']} requests ({requests['legacy'] / args.kernels:.1f} per kernel: branch refs, "
          f"recursive tree), up to 8 kernels at once")
    print(f"{args.kernels} sequential revision requests: {revisions * 1e3:8.2f} ms")
    print(f"ratio kb lock / sequential revisions:                 {lock / revisions:.2f}")
    print(f"ratio kb lock --format legacy / sequential revisions: {legacy / revisions:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
