#!/usr/bin/env python3
"""Times fetching a kernel from a hub, in one run, against baselines measured
in the same run:

1. cold fetch: kernels.install_kernel of a variant from the hub into an empty
   cache (revision lookup, tree listings, downloads, hashing, verification,
   cache links) against `cp -r` of the same variant directory. Ratio = cp
   time / fetch time, as throughput (goal >= 0.8). Two variants: examples/relu's
   for this torch (tens of KiB: per-request costs dominate) and a synthetic one
   whose library is padded to --size-mib (throughput dominates, as for real
   kernels).
2. warm load: get_kernel("kb-examples/relu", version=1) with the variant
   already cached, against a plain importlib import of the cached directory,
   each in a fresh interpreter after `import torch` (goal <= 1.5x).

--hub hf (default) serves both through tests/fixtures/hub-server, the
loopback Hugging Face Hub; --hub local uses a local hub (bare git repos).

    PYTHONPATH=build/python /usr/bin/python3 bench/fetch.py [--runs N] [--hub hf|local] [--size-mib N]

examples/relu must be built (`ctest -R example/relu/build`); build/bin/kb must exist.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KB = REPO / "build" / "bin" / "kb"
sys.path.insert(0, str(REPO / "tests" / "fixtures"))
from hub_server.process import HubProcess  # noqa: E402

TIMED_FETCH = """
import sys, time, torch, kernels
t = time.perf_counter()
path = kernels.install_kernel(sys.argv[1], revision="v1")
print(time.perf_counter() - t)
print(path)
"""

TIMED_GET_KERNEL = """
import time, warnings, torch, kernels
warnings.simplefilter("ignore")
t = time.perf_counter()
kernels.get_kernel("kb-examples/relu", version=1)
print(time.perf_counter() - t)
"""

TIMED_IMPORT = """
import importlib.util, json, sys, time, torch
from pathlib import Path
path = Path(sys.argv[1])
t = time.perf_counter()
name = json.loads((path / "metadata.json").read_text())["id"]
spec = importlib.util.spec_from_file_location(name, path / "__init__.py")
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
print(time.perf_counter() - t)
"""


def run(code, env, *args):
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stderr)
    return out.stdout.splitlines()


def make_big_kernel(root: Path, variant: str, size_mib: int) -> Path:
    """examples/relu's variant with its library padded by random bytes (an ELF
    file with trailing data is still readable by the ABI check)."""
    source = REPO / "examples" / "relu" / "build" / variant
    dest = root / "build" / variant
    dest.mkdir(parents=True)
    for f in source.iterdir():
        data = f.read_bytes()
        if f.suffix == ".so":
            data += os.urandom(size_mib << 20)
        (dest / f.name).write_bytes(data)
    return root


def cold_fetch(env, tmp, repo_id, runs, tag):
    fetch_times, copy_times, variant = [], [], None
    for i in range(runs):
        cache_env = {**env, "KERNELS_CACHE": str(tmp / f"cache-{tag}{i}")}
        seconds, path = run(TIMED_FETCH, cache_env, repo_id)
        fetch_times.append(float(seconds))
        variant = Path(path)
        t = time.perf_counter()
        # -L: the cache snapshot holds links to blobs; copy the bytes.
        subprocess.run(["cp", "-rL", str(variant), str(tmp / f"copy-{tag}{i}")], check=True)
        copy_times.append(time.perf_counter() - t)
    size = sum(p.stat().st_size for p in variant.iterdir())  # stat follows the links
    return statistics.median(fetch_times), statistics.median(copy_times), size, variant


def curl_files(env, tmp, repo_id, variant, runs, tag):
    """What the server alone costs: curl of the variant's files from the same
    hub (no hashing, no cache), one connection per file as curl runs."""
    commit = variant.parents[1].name
    urls = [f"{env['HF_ENDPOINT']}/kernels/{repo_id}/resolve/{commit}/build/{variant.name}/{f.name}"
            for f in variant.iterdir()]
    times = []
    for i in range(runs):
        out = tmp / f"curl-{tag}{i}"
        out.mkdir()
        t = time.perf_counter()
        subprocess.run(["curl", "-sfL", "--no-progress-meter", "--parallel", *[a for j, u in enumerate(urls) for a in ("-o", str(out / str(j)), u)]],
                       check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--hub", choices=["hf", "local"], default="hf")
    parser.add_argument("--size-mib", type=int, default=64)
    args = parser.parse_args()
    server = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        for name in ("LOCAL_KERNELS", "HF_HUB_OFFLINE", "KB_HUB"):
            env.pop(name, None)
        if args.hub == "hf":
            server = HubProcess(tmp / "server", trusted_orgs=["kb-examples", "kb-bench"])
            env["HF_ENDPOINT"] = server.url
        else:
            env["KB_HUB"] = f"local:{tmp / 'hub'}"
        try:
            def upload(kernel_dir, *extra):
                up = subprocess.run([str(KB), "upload", str(kernel_dir), "--allow-nonportable", "-q", *extra],
                                    env=env, capture_output=True, text=True)
                if up.returncode != 0:
                    sys.exit(up.stderr)

            upload(REPO / "examples" / "relu")
            small = cold_fetch(env, tmp, "kb-examples/relu", args.runs, "small")
            upload(make_big_kernel(tmp / "big", small[3].name, args.size_mib), "--repo-id", "kb-bench/big",
                   "--branch", "v1")
            big = cold_fetch(env, tmp, "kb-bench/big", args.runs, "big")
            curl_times = {}
            if args.hub == "hf":
                curl_times["small"] = curl_files(env, tmp, "kb-examples/relu", small[3], args.runs, "small")
                curl_times["large"] = curl_files(env, tmp, "kb-bench/big", big[3], args.runs, "big")

            warm_env = {**env, "KERNELS_CACHE": str(tmp / "cache-small0")}
            variant = small[3]
            run(TIMED_GET_KERNEL, warm_env)  # warm both sides once
            run(TIMED_IMPORT, warm_env, str(variant))
            get_times = [float(run(TIMED_GET_KERNEL, warm_env)[0]) for _ in range(args.runs)]
            import_times = [float(run(TIMED_IMPORT, warm_env, str(variant))[0]) for _ in range(args.runs)]
        finally:
            if server:
                server.stop()

    print(f"hub: {args.hub}, median of {args.runs} runs")
    for label, (fetch, copy, size, v) in (("small", small), ("large", big)):
        print(f"cold fetch {label} ({v.name}, {size / 1024:.0f} KiB): install_kernel {fetch * 1e3:8.2f} ms   "
              f"cp -rL {copy * 1e3:8.2f} ms   throughput ratio cp/fetch {copy / fetch:.2f} (goal >= 0.8)")
        if label in curl_times:
            c = curl_times[label]
            print(f"    server alone (curl of the same files, no verification): {c * 1e3:8.2f} ms   "
                  f"ratio curl/fetch {c / fetch:.2f}")
    get, imp = statistics.median(get_times), statistics.median(import_times)
    print(f"warm get_kernel: {get * 1e3:8.2f} ms   import: {imp * 1e3:8.2f} ms   "
          f"ratio {get / imp:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
