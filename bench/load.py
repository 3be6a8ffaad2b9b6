#!/usr/bin/env python3
"""Times kernels.get_local_kernel against a plain importlib import of the same
variant directory, in one run, and prints both and their ratio (goal: <= 1.5x).

    PYTHONPATH=build/python /usr/bin/python3 bench/load.py [--runs N] [KERNEL_DIR]

KERNEL_DIR defaults to examples/relu (build it first: `ctest -R example/relu/build`).
`import torch` is never timed. Three measurements:

- fresh process (the number that matters): each run is a new interpreter that
  imports torch, then times one load. This is what a user pays: the shared
  object is loaded and its ops registered, and get_local_kernel also gathers
  the torch facts, lists and resolves variants, reads metadata.json and checks
  python-depends. `import kernels` is timed separately and reported apart.
  The directory is warm (one untimed run of each kind first).
- in process: one interpreter loads the kernel repeatedly, dropping it from
  sys.modules (and kernels' registry) between runs. The shared object stays
  loaded, so this isolates the loaders' own overhead.

- C++ (when build/bin/kb-bench-load exists): the kernel is published with
  `kb upload` to a temporary local hub and fetched once; then fresh processes
  time kb::runtime::get_kernel("kb-bench/relu", {.version = 1}) with the cache
  warm (one revision lookup on the hub; and offline, none) against a plain
  dlopen of the same cached shared object.

Bytecode is cached (PYTHONPYCACHEPREFIX in a temporary directory, whatever
PYTHONDONTWRITEBYTECODE says) so neither side recompiles its .py files: a
warm directory, and nothing written into the kernel's build.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def plain_import(variant_dir: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, variant_dir / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def forget(name: str):
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def child(mode: str, kernel_dir: Path, variant_dir: Path, name: str):
    """One fresh-process run: prints {"import": s, "load": s}."""
    import torch  # noqa: F401  (not timed)

    t0 = time.perf_counter()
    if mode == "kernels":
        import kernels

        t1 = time.perf_counter()
        module = kernels.get_local_kernel(kernel_dir)
    else:
        t1 = t0
        module = plain_import(variant_dir, name)
    t2 = time.perf_counter()
    assert module.__name__ == name
    print(json.dumps({"import": t1 - t0, "load": t2 - t1}))


def run_child(env, *args):
    cmd = [sys.executable, "-W", "ignore", __file__, *map(str, args)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


def fresh_runs(env, kernel_dir, variant_dir, name, runs):
    """Alternates the two kinds so drifting machine load hits both alike."""
    results = {"kernels": [], "importlib": []}
    for _ in range(runs + 1):
        for mode, out in results.items():
            out.append(run_child(env, "--child", mode, kernel_dir, variant_dir, name))
    return {mode: out[1:] for mode, out in results.items()}  # the first run warms the caches


def in_process_runs(kernel_dir, variant_dir, name, runs):
    """Prints {"kernels": [s...], "importlib": [s...]}."""
    import torch  # noqa: F401

    import kernels
    import kernels.importer

    timings = {"kernels": [], "importlib": []}
    for _ in range(runs + 1):
        kernels.importer._loaded_kernels.clear()
        forget(name)
        t0 = time.perf_counter()
        kernels.get_local_kernel(kernel_dir)
        timings["kernels"].append(time.perf_counter() - t0)
        forget(name)
        t0 = time.perf_counter()
        plain_import(variant_dir, name)
        timings["importlib"].append(time.perf_counter() - t0)
    print(json.dumps({k: v[1:] for k, v in timings.items()}))


def ms(values):
    return f"median {statistics.median(values) * 1e3:8.3f} ms   min {min(values) * 1e3:8.3f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kernel_dir", nargs="?", default=str(REPO / "examples" / "relu"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cpp-only", action="store_true", help="only the C++ section")
    # Internal: the timed child processes.
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--in-process", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, kernel_dir, variant_dir, name = args.child
        child(mode, Path(kernel_dir), Path(variant_dir), name)
        return
    if args.in_process:
        runs, kernel_dir, variant_dir, name = args.in_process
        in_process_runs(Path(kernel_dir), Path(variant_dir), name, int(runs))
        return
    if args.cpp_only:
        cpp_runs(Path(args.kernel_dir), args.runs)
        return

    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    pycache = tempfile.TemporaryDirectory(prefix="kb-bench-pycache-")
    env["PYTHONPYCACHEPREFIX"] = pycache.name
    if importlib.util.find_spec("kernels") is None:  # the build tree's package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "build" / "python"), env.get("PYTHONPATH")]))

    # Which variant get_local_kernel picks, found once up front (untimed).
    probe = (
        "import kernels, sys, warnings; warnings.simplefilter('ignore'); "
        "m = kernels.get_local_kernel(sys.argv[1]); print(m.__name__); print(m.__path__[0])"
    )
    name, variant_dir = subprocess.run(
        [sys.executable, "-c", probe, args.kernel_dir], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    kernel_dir = Path(args.kernel_dir)
    print(f"kernel {kernel_dir} -> {variant_dir} (module {name}), {args.runs} runs each")

    runs = fresh_runs(env, kernel_dir, variant_dir, name, args.runs)
    k, p = runs["kernels"], runs["importlib"]
    k_load = [r["load"] for r in k]
    k_total = [r["import"] + r["load"] for r in k]
    p_load = [r["load"] for r in p]
    print("fresh process (import torch excluded):")
    print(f"  importlib import          {ms(p_load)}")
    print(f"  get_local_kernel          {ms(k_load)}")
    print(f"  import kernels            {ms([r['import'] for r in k])}")
    print(f"  import kernels + load     {ms(k_total)}")
    base = statistics.median(p_load)
    print(f"  ratio get_local_kernel / importlib:          {statistics.median(k_load) / base:.2f}x")
    print(f"  ratio (import kernels + load) / importlib:   {statistics.median(k_total) / base:.2f}x")

    t = run_child(env, "--in-process", args.runs * 10, kernel_dir, variant_dir, name)
    print("in process, shared object already loaded:")
    print(f"  importlib import          {ms(t['importlib'])}")
    print(f"  get_local_kernel          {ms(t['kernels'])}")
    print(f"  ratio: {statistics.median(t['kernels']) / statistics.median(t['importlib']):.2f}x")

    cpp_runs(kernel_dir, args.runs)


def cpp_runs(kernel_dir: Path, runs: int):
    """The C++ section: warm get_kernel from the hub cache against dlopen."""
    bin_dir = Path(os.environ.get("KB_BIN", REPO / "build" / "bin"))
    probe = bin_dir / "kb-bench-load"
    if not probe.is_file():
        print(f"C++: {probe} is not built (needs libtorch); skipped")
        return
    with tempfile.TemporaryDirectory(prefix="kb-bench-load-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_KERNELS", "HF_HUB_OFFLINE")}
        env.update(KB_HUB=f"local:{tmp}/hub", KERNELS_CACHE=f"{tmp}/cache")
        subprocess.run([str(bin_dir / "kb"), "upload", str(kernel_dir), "--repo-id", "kb-bench/relu",
                        "--allow-nonportable", "-q"], check=True, env=env, capture_output=True)

        def timed(*args, **extra):
            out = subprocess.run([str(probe), *args], check=True, capture_output=True, text=True,
                                 env={**env, **extra}).stdout
            return json.loads(out.splitlines()[-1])["seconds"]

        timed("get-kernel", "kb-bench/relu", "1")  # fetches into the cache
        (library,) = Path(tmp, "cache").glob("kernels--kb-bench--relu/snapshots/*/build/*/*.so")
        results = {"dlopen": [], "get_kernel": [], "get_kernel offline": []}
        for _ in range(runs + 1):
            results["dlopen"].append(timed("dlopen", str(library)))
            results["get_kernel"].append(timed("get-kernel", "kb-bench/relu", "1"))
            results["get_kernel offline"].append(timed("get-kernel", "kb-bench/relu", "1", HF_HUB_OFFLINE="1"))
        results = {k: v[1:] for k, v in results.items()}
    print("C++, fresh process, hub cache warm (libtorch load excluded):")
    base = statistics.median(results["dlopen"])
    for name, values in results.items():
        print(f"  {name:<25} {ms(values)}")
    for name in ("get_kernel", "get_kernel offline"):
        print(f"  ratio {name} / dlopen: {statistics.median(results[name]) / base:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
