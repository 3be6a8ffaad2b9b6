#!/usr/bin/env python3
"""Times a portable build (`kb build --target manylinux_2_28`, the default)
against a native one (`--target native`) of the same kernel, in one run:

- each round builds the kernel from nothing twice, once per target, in
  alternating order (a fresh copy of the kernel, a fresh scratch directory,
  ccache disabled, so every source is compiled and the variant linked);
- the ratio is median(portable) / median(native) over the rounds;
- the link step alone is timed the same way (`kb-link` against a plain
  `c++ -shared` of the same objects), since the link is where the targets
  differ;
- the one-time set-up of portable builds (kb-link compiling its shim into
  the kb cache) is timed from an empty cache, and the cache's size reported.

    /usr/bin/python3 bench/portable.py [--kernel examples/relu] [--rounds 3]
                                       [--python /usr/bin/python3]

build/bin/kb must exist. Only the CPU backend is built.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "build" / "bin"


def run(argv, env, cwd=None):
    started = time.perf_counter()
    r = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, argv))} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return elapsed


def fresh_kernel(source: Path, root: Path, name: str) -> Path:
    kernel = root / name
    shutil.copytree(source, kernel, ignore=shutil.ignore_patterns("build", "_cmake_build", "__pycache__"))
    return kernel


def build_seconds(source, root, target, python, env, index):
    kernel = fresh_kernel(source, root, f"{target}-{index}")
    scratch = root / f"scratch-{target}-{index}"
    env = dict(env, KB_SCRATCH_DIR=str(scratch))
    return run([BIN / "kb", "build", kernel, "--backend", "cpu", "--python", python, "--target", target,
                "--unique-id", "bench1"], env)


def link_commands(build_dir: Path):
    """The link line of the variant's CMake build tree: (through kb-link, plain)."""
    r = subprocess.run(["ninja", "-C", str(build_dir), "-t", "commands"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if "kb-link" in line and " -- " in line:
            ported = line.split(": && ", 1)[-1].split(" && ")[0]
            return ported, ported.split(" -- ", 1)[1]
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kernel", default=str(REPO / "examples" / "relu"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default="/usr/bin/python3")
    args = parser.parse_args()
    source = Path(args.kernel).resolve()
    env = dict(os.environ, CCACHE_DISABLE="1")
    with tempfile.TemporaryDirectory(prefix="kb-bench-portable-") as tmp:
        root = Path(tmp)
        # One-time set-up: kb-link compiles its shim on the first portable link.
        cache = root / "xdg-cache"
        env["XDG_CACHE_HOME"] = str(cache)
        obj = root / "empty.c"
        obj.write_text("int kb_bench_symbol(void) { return 1; }\n")
        run(["cc", "-fPIC", "-c", obj, "-o", root / "empty.o"], env)
        setup = run([BIN / "kb-link", "--", "c++", "-shared", "-o", root / "empty.so", root / "empty.o"], env)
        warm = run([BIN / "kb-link", "--", "c++", "-shared", "-o", root / "empty2.so", root / "empty.o"], env)
        size = sum(f.stat().st_size for f in (cache / "kb" / "portable").rglob("*") if f.is_file())

        times = {"native": [], "manylinux_2_28": []}
        for i in range(args.rounds):
            order = ["native", "manylinux_2_28"] if i % 2 == 0 else ["manylinux_2_28", "native"]
            for target in order:
                times[target].append(build_seconds(source, root, target, args.python, env, i))
        native, portable = statistics.median(times["native"]), statistics.median(times["manylinux_2_28"])

        # The link alone, from the last portable build's recorded command.
        trees = sorted(p.parent for p in (root / f"scratch-manylinux_2_28-{args.rounds - 1}").rglob("build.ninja"))
        links = {"plain": [], "kb-link": []}
        commands = link_commands(trees[0]) if trees else None
        if commands:
            ported, plain = commands
            for _ in range(args.rounds):
                links["plain"].append(run(["sh", "-c", plain], env, cwd=trees[0]))
                links["kb-link"].append(run(["sh", "-c", ported], env, cwd=trees[0]))

    print(f"kernel: {source.name} (cpu, {args.python}), {args.rounds} rounds, ccache off")
    print(f"  native build     median {native:7.2f} s  {['%.2f' % t for t in times['native']]}")
    print(f"  portable build   median {portable:7.2f} s  {['%.2f' % t for t in times['manylinux_2_28']]}")
    print(f"  ratio portable/native: {portable / native:.3f}")
    if links["plain"]:
        plain, ported = statistics.median(links["plain"]), statistics.median(links["kb-link"])
        print(f"  link alone: plain {plain * 1000:.0f} ms, kb-link {ported * 1000:.0f} ms, ratio {ported / plain:.2f}")
    print(f"one-time set-up (shim compiled into an empty cache): {setup * 1000:.0f} ms "
          f"(later links: {warm * 1000:.0f} ms for a trivial object); cache size {size} bytes")


if __name__ == "__main__":
    main()
