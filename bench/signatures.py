#!/usr/bin/env python3
"""What the signature check costs a load: get_kernel of examples/relu from a
local hub, each load in a fresh interpreter with torch imported (not timed),
the cache warm. Measured in one run:

- unsigned (the baseline): the digest receipt is reused; the signature check
  finds no bundle and warns.
- key-signed, first load: the bundle is verified (OpenSSL), then a receipt
  is stored. Each run starts from a cache without signature receipts.
- key-signed, with its receipt: the receipt's fingerprint (SHA-256 of
  metadata.json and the bundle) and the policy are re-checked.
- keyless (fake sigstore instance, when tests/fixtures/sigstore-fake and a Python
  with `cryptography` are there): certificate chain, SCT, log proofs.

    PYTHONPATH=build/python /usr/bin/python3 bench/signatures.py [--runs N]

Prints the median of each and its ratio to the baseline.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
FAKE = REPO / "tests" / "fixtures" / "sigstore-fake"

CHILD = """
import logging, sys, time, torch, kernels
logging.disable(logging.WARNING)
start = time.perf_counter()
kernels.get_kernel("kb-bench/relu", version=1)
print(time.perf_counter() - start)
"""


def run(cmd, env=None):
    result = subprocess.run([str(c) for c in cmd], env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def publish(kernel: Path, hub: Path, *extra) -> str:
    spec = f"local:{hub}"
    run([KB, "upload", kernel, "--repo-id", "kb-bench/relu", "--allow-nonportable", "-q", *extra], {"KB_HUB": spec})
    return spec


def time_load(spec: str, cache: Path, env: dict, fresh_receipts: bool) -> float:
    if fresh_receipts:
        shutil.rmtree(cache / ".verified-kernels" / "signature", ignore_errors=True)
    out = run([sys.executable, "-c", CHILD], {"KB_HUB": spec, "KERNELS_CACHE": str(cache), **env})
    return float(out.strip().splitlines()[-1])


def measure(name, spec, cache, env, fresh, runs, results):
    time_load(spec, cache, env, fresh)  # warm the cache and the page cache
    samples = [time_load(spec, cache, env, fresh) for _ in range(runs)]
    results[name] = statistics.median(samples)


def keyless_signer():
    """A Python that can run the fake instance's signer, or None."""
    for python in (os.environ.get("KB_SIGSTORE_PYTHON"), str(Path.home() / ".cache/kb/sigstore-venv/bin/python")):
        if python and Path(python).exists() and (FAKE / "fake_sigstore.py").exists():
            probe = subprocess.run([python, "-c", "import cryptography"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not any((REPO / "examples/relu/build").glob("*/metadata.json")):
        sys.exit("examples/relu is not built: run `ctest -R example/relu/build` first")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kernel = tmp / "relu"
        shutil.copytree(REPO / "examples/relu", kernel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp / "key.pem"])
        run(["openssl", "ec", "-in", tmp / "key.pem", "-pubout", "-out", tmp / "key.pub"])
        (tmp / "policy.toml").write_text('[[public-key]]\npath = "key.pub"\n')
        key_env = {"KB_SIGNATURE_POLICY": str(tmp / "policy.toml")}

        results = {}
        unsigned = publish(REPO / "examples/relu", tmp / "hub-unsigned")
        measure("unsigned (baseline)", unsigned, tmp / "cache-unsigned", {}, False, args.runs, results)
        signed = publish(kernel, tmp / "hub-signed", "--sign", tmp / "key.pem")
        measure("key-signed, first load", signed, tmp / "cache-signed", key_env, True, args.runs, results)
        measure("key-signed, receipt", signed, tmp / "cache-signed", key_env, False, args.runs, results)

        python = keyless_signer()
        if python:
            keyless = tmp / "keyless"
            shutil.copytree(REPO / "examples/relu", keyless, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for metadata in keyless.glob("build/*/metadata.json"):
                bundle = run([python, FAKE / "fake_sigstore.py", "sign", FAKE / "instance", metadata])
                (metadata.parent / "metadata.json.sigstore").write_text(bundle)
            spec = publish(keyless, tmp / "hub-keyless")
            env = {"KB_TRUST_ROOT": str(FAKE / "instance" / "trusted_root.json")}
            measure("keyless, first load", spec, tmp / "cache-keyless", env, True, args.runs, results)
            measure("keyless, receipt", spec, tmp / "cache-keyless", env, False, args.runs, results)
        else:
            print("(keyless skipped: no fake sigstore instance or no Python with cryptography)")

    base = results["unsigned (baseline)"]
    print(f"get_kernel from a local hub, cache warm, median of {args.runs} fresh processes:")
    for name, seconds in results.items():
        print(f"  {name:24} {seconds * 1000:8.1f} ms   {seconds / base:5.2f}x")
    print(json.dumps({k: round(v, 5) for k, v in results.items()}))


if __name__ == "__main__":
    main()
