#!/usr/bin/env python3
"""Times fetching a kernel from a hub, in one run, against baselines measured
in the same run:

1. cold fetch: kernels.install_kernel of examples/relu's variant for this torch
   from a local hub into an empty cache (revision lookup, tree listings, blob
   reads, hashing, verification, cache links) against `cp -r` of the same
   variant directory. Ratio = cp time / fetch time, as throughput (goal >= 0.8).
2. warm load: get_kernel("kb-examples/relu", version=1) with the variant
   already cached, against a plain importlib import of the cached directory,
   each in a fresh interpreter after `import torch` (goal <= 1.5x).

    PYTHONPATH=build/python /usr/bin/python3 bench/fetch.py [--runs N]

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

TIMED_FETCH = """
import time, torch, kernels
t = time.perf_counter()
path = kernels.install_kernel("kb-examples/relu", revision="v1")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "KB_HUB": f"local:{tmp / 'hub'}", "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        env.pop("LOCAL_KERNELS", None)
        env.pop("HF_HUB_OFFLINE", None)
        up = subprocess.run([str(KB), "upload", str(REPO / "examples" / "relu"), "--allow-nonportable", "-q"],
                            env=env, capture_output=True, text=True)
        if up.returncode != 0:
            sys.exit(up.stderr)

        fetch_times, copy_times, variant = [], [], None
        for i in range(args.runs):
            cache_env = {**env, "KERNELS_CACHE": str(tmp / f"cache{i}")}
            seconds, path = run(TIMED_FETCH, cache_env)
            fetch_times.append(float(seconds))
            variant = Path(path)
            source = REPO / "examples" / "relu" / "build" / variant.name
            t = time.perf_counter()
            subprocess.run(["cp", "-r", str(source), str(tmp / f"copy{i}")], check=True)
            copy_times.append(time.perf_counter() - t)
        size = sum(p.stat().st_size for p in variant.iterdir())

        warm_env = {**env, "KERNELS_CACHE": str(tmp / "cache0")}
        run(TIMED_GET_KERNEL, warm_env)  # warm both sides once
        run(TIMED_IMPORT, warm_env, str(variant))
        get_times = [float(run(TIMED_GET_KERNEL, warm_env)[0]) for _ in range(args.runs)]
        import_times = [float(run(TIMED_IMPORT, warm_env, str(variant))[0]) for _ in range(args.runs)]

    fetch, copy = statistics.median(fetch_times), statistics.median(copy_times)
    get, imp = statistics.median(get_times), statistics.median(import_times)
    print(f"variant {variant.name}: {size / 1024:.0f} KiB, median of {args.runs} runs")
    print(f"cold fetch (install_kernel): {fetch * 1e3:8.2f} ms   cp -r: {copy * 1e3:8.2f} ms   "
          f"throughput ratio cp/fetch {copy / fetch:.2f} (goal >= 0.8)")
    print(f"warm get_kernel:             {get * 1e3:8.2f} ms   import: {imp * 1e3:8.2f} ms   "
          f"ratio {get / imp:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
