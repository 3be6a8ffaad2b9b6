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
  torch-stable-abi.txt          one "NAME ADDED" pair per line: the C shim
                                functions libtorch exports for the Torch stable
                                ABI since 2.10, with the torch version that
                                added them (older shims are not listed)

Sources (the build never needs the network; run this by hand to refresh):
  - auditwheel (PyPI), file auditwheel/policy/manylinux-policy.json, the
    policy table pip and auditwheel use for manylinux tags;
  - abi3info (PyPI), a mechanical transcription of CPython's
    Misc/stable_abi.toml (its [function.*] and [data.*] entries);
  - the C headers of an installed torch package (torch/csrc/stable/c and
    torch/csrc/inductor/aoti_torch): every AOTI_TORCH_EXPORT declaration
    inside an `#if TORCH_FEATURE_VERSION >= TORCH_VERSION_X_Y_Z` block.

Usage:
  scripts/update-abi-data.py                      # pip download both wheels
  scripts/update-abi-data.py --wheel-dir DIR      # use wheels already in DIR
  scripts/update-abi-data.py --torch-dir DIR      # only the Torch table, from
                                                  # the torch package in DIR
"""
import argparse
import glob
import json
import os
import re
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


TORCH_HEADER_DIRS = ("include/torch/csrc/stable", "include/torch/csrc/inductor/aoti_torch")
FEATURE_VERSION = re.compile(r"TORCH_FEATURE_VERSION\s*>=\s*TORCH_VERSION_(\d+)_(\d+)_(\d+)")
EXPORTED_NAME = re.compile(r"AOTI_TORCH_EXPORT\b[^;(]*?\b([A-Za-z_]\w*)\s*\(")


def torch_version(torch_dir):
    with open(os.path.join(torch_dir, "version.py"), encoding="utf-8") as f:
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", f.read(), re.M)
    if not match:
        sys.exit(f"no __version__ in {torch_dir}/version.py")
    return match.group(1)


def versioned_exports(path):
    """(name, version) for each AOTI_TORCH_EXPORT function declared in a
    `#if TORCH_FEATURE_VERSION >= ...` block of the header at `path`."""
    found = []
    stack = []  # per open #if: its feature version, or None
    pending = None  # (text, version) of a declaration spanning lines
    with open(path, encoding="utf-8") as f:
        for line in f:
            directive = line.strip()
            if directive.startswith("#"):
                word = directive[1:].lstrip().split(" ", 1)[0].split("(", 1)[0]
                if word in ("if", "ifdef", "ifndef"):
                    match = FEATURE_VERSION.search(directive) if word == "if" else None
                    stack.append(tuple(int(g) for g in match.groups()) if match else None)
                elif word in ("elif", "else") and stack:
                    stack[-1] = None  # the other branch is not the versioned one
                elif word == "endif" and stack:
                    stack.pop()
                continue
            versions = [v for v in stack if v]
            if pending is None and "AOTI_TORCH_EXPORT" in line:
                pending = ("", max(versions) if versions else None)
            if pending is None:
                continue
            text = pending[0] + " " + line.split("//", 1)[0]
            match = EXPORTED_NAME.search(text)
            if match:
                if pending[1]:
                    found.append((match.group(1), pending[1]))
                pending = None
            elif ";" in text:
                pending = None  # not a function (an exported variable)
            else:
                pending = (text, pending[1])
    return found


def write_torch_stable_abi(torch_dir):
    version = torch_version(torch_dir)
    added = {}
    for sub in TORCH_HEADER_DIRS:
        for root, _, files in sorted(os.walk(os.path.join(torch_dir, sub))):
            for name in sorted(files):
                if not name.endswith(".h"):
                    continue
                for symbol, v in versioned_exports(os.path.join(root, name)):
                    # A shim declared in several headers is available from the oldest.
                    added[symbol] = min(v, added.get(symbol, v))
    if not added:
        sys.exit(f"no versioned shim declarations under {torch_dir}/include")
    lines = [
        "# Torch stable ABI: the C shim functions libtorch exports since 2.10, with",
        "# the torch version that added them. Shims not listed predate 2.10.",
        f"# Source: torch {version}, headers torch/csrc/stable/c and",
        "# torch/csrc/inductor/aoti_torch (AOTI_TORCH_EXPORT declarations inside",
        "# `#if TORCH_FEATURE_VERSION >= TORCH_VERSION_X_Y_Z` blocks); regenerate with",
        "# scripts/update-abi-data.py --torch-dir <site-packages>/torch.",
        "# Format: NAME ADDED",
    ]
    lines += [f"{name} {'.'.join(map(str, added[name]))}" for name in sorted(added)]
    write("torch-stable-abi.txt", lines)
    print(f"wrote {len(added)} Torch stable ABI shims (torch {version})")


def main():
    global DATA_DIR
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel-dir", help="directory holding auditwheel-*.whl and abi3info-*.whl")
    parser.add_argument("--torch-dir", help="an installed torch package (site-packages/torch): refresh only "
                        "torch-stable-abi.txt from its headers")
    parser.add_argument("--data-dir", default=DATA_DIR, help="where the tables go (default: libkb/abi/data)")
    args = parser.parse_args()
    DATA_DIR = args.data_dir
    if args.torch_dir:
        write_torch_stable_abi(args.torch_dir)
        return
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
