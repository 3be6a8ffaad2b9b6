#!/usr/bin/env python3
"""Regenerate the ABI policy tables in libkb/abi/data/.

The tables are plain text so that reviews show exactly what changed:

  manylinux_<X>_<Y>-<arch>.txt  one "DEPENDENCY VERSION" pair per line: the
                                symbol versions a manylinux policy allows;
                                "LIBRARY <soname>" lines: the system libraries
                                the policy lets a binary need (lib_whitelist)
  python-stable-abi.txt         one "NAME ADDED" pair per line: every function
                                and data symbol of CPython's stable ABI (abi3)
                                with the Python version that added it

Sources (the build never needs the network; run this by hand to refresh):
  - auditwheel (PyPI), file auditwheel/policy/manylinux-policy.json, the
    policy table pip and auditwheel use for manylinux tags;
  - abi3info (PyPI), a mechanical transcription of CPython's
    Misc/stable_abi.toml (its [function.*] and [data.*] entries).

Usage:
  scripts/update-abi-data.py                      # pip download both wheels
  scripts/update-abi-data.py --wheel-dir DIR      # use wheels already in DIR
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

ARCHES = ("x86_64", "aarch64")
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "libkb", "abi", "data")


def find_wheel(directory, project):
    wheels = sorted(glob.glob(os.path.join(directory, f"{project}-*.whl")))
    if not wheels:
        sys.exit(f"no {project} wheel in {directory}")
    return wheels[-1]


def wheel_version(path):
    return os.path.basename(path).split("-")[1]


def version_key(text):
    # Numeric versions sort numerically; symbolic ones (CXXABI_TM_1) last.
    try:
        return (0, tuple(int(p) for p in text.split(".")), "")
    except ValueError:
        return (1, (), text)


def write(name, lines):
    path = os.path.join(DATA_DIR, name)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def write_manylinux(wheel):
    with zipfile.ZipFile(wheel) as z:
        policies = json.loads(z.read("auditwheel/policy/manylinux-policy.json"))
    for old in glob.glob(os.path.join(DATA_DIR, "manylinux_*.txt")):
        os.remove(old)
    count = 0
    for policy in policies:
        for arch in ARCHES:
            table = policy["symbol_versions"].get(arch)
            if not table:
                continue  # "linux" has no table; older policies lack aarch64
            lines = [
                f"# {policy['name']} symbol versions for {arch}.",
                f"# Source: auditwheel {wheel_version(wheel)}, auditwheel/policy/manylinux-policy.json",
                "# (regenerate with scripts/update-abi-data.py).",
                "# Format: DEPENDENCY VERSION. A symbol name@DEP_VERSION passes when DEP is",
                "# listed and VERSION is one of its listed versions (trailing zeros ignored);",
                "# dependencies not listed here are not checked. LIBRARY lines: the",
                "# system libraries a compliant binary may need (the policy's lib_whitelist).",
            ]
            for dep in sorted(table):
                lines += [f"{dep} {v}" for v in sorted(table[dep], key=version_key)]
            lines += [f"LIBRARY {lib}" for lib in sorted(policy.get("lib_whitelist", []))]
            write(f"{policy['name']}-{arch}.txt", lines)
            count += 1
    print(f"wrote {count} manylinux tables")


def write_stable_abi(wheel):
    sys.path.insert(0, wheel)  # pure-Python wheel: importable straight from the zip
    import abi3info

    entries = {}
    for table in (abi3info.FUNCTIONS, abi3info.DATAS):
        for symbol, item in table.items():
            entries[symbol.name] = f"{item.added.major}.{item.added.minor}"
    lines = [
        "# CPython stable ABI (abi3): every function and data symbol with the Python",
        "# version that added it.",
        f"# Source: abi3info {wheel_version(wheel)} (a transcription of CPython's",
        "# Misc/stable_abi.toml); regenerate with scripts/update-abi-data.py.",
        "# Format: NAME ADDED",
    ]
    lines += [f"{name} {entries[name]}" for name in sorted(entries)]
    write("python-stable-abi.txt", lines)
    print(f"wrote {len(entries)} stable ABI symbols")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", help="directory holding auditwheel-*.whl and abi3info-*.whl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.wheel_dir
        if not directory:
            directory = tmp
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", tmp,
                            "auditwheel", "abi3info"], check=True)
        os.makedirs(DATA_DIR, exist_ok=True)
        write_manylinux(find_wheel(directory, "auditwheel"))
        write_stable_abi(find_wheel(directory, "abi3info"))


if __name__ == "__main__":
    main()
