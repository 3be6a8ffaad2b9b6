"""Verification receipts shared with PyPI kernels 0.19.1: the signature and
digest receipts kb's loader writes into the kernel cache are found, by
kernels' own receipt stores, under the keys kernels computes for the same
kernel location, and read as valid receipts (kb's extra fingerprint is
ignored by kernels). Both sides run in the kernels 0.19.1 environment."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KB_PYTHONPATH = os.environ.get("KB_BUILD_PYTHONPATH") or str(ROOT / "build" / "python")
KB_BIN = Path(os.environ.get("KB_BIN") or ROOT / "build" / "bin")
RELU = ROOT / "examples" / "relu"

KB_LOAD = """
import logging, sys, kernels
relu = kernels.get_kernel("kb-examples/relu", version=1, require_signature=True)
(entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
print(entry.repo_info.revision, relu.__file__)
"""

KERNELS_READS = """
import sys
from kernels._rust import DigestReceiptStore, KernelLocation, Oid, SignatureReceiptStore
cache, repo, revision, variant = sys.argv[1:]
location = KernelLocation.remote(repo, Oid.from_str(revision), variant)
for kind, store in (("signature", SignatureReceiptStore), ("digest", DigestReceiptStore)):
    receipt = store.from_path(f"{cache}/.verified-kernels/{kind}/v1").load(location)
    print(kind, receipt is not None)
"""


def run(cmd, env, check=True):
    result = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_kernels_019_reads_the_receipts_kb_writes(python019, tmp_path):
    if not any(RELU.glob("build/*/metadata.json")):
        import pytest

        pytest.skip("examples/relu is not built")
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LOCAL_KERNELS", "HF_HUB_OFFLINE")}
    kernel = tmp_path / "relu"
    shutil.copytree(RELU, kernel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp_path / "key.pem"], base)
    run(["openssl", "ec", "-in", tmp_path / "key.pem", "-pubout", "-out", tmp_path / "key.pub"], base)
    (tmp_path / "policy.toml").write_text('[[public-key]]\npath = "key.pub"\n')
    hub = f"local:{tmp_path / 'hub'}"
    run([KB_BIN / "kb", "upload", kernel, "--allow-nonportable", "-q", "--sign", tmp_path / "key.pem"],
        {**base, "KB_HUB": hub})
    cache = tmp_path / "cache"
    env = {**base, "KB_HUB": hub, "KERNELS_CACHE": str(cache), "PYTHONPATH": KB_PYTHONPATH,
           "KB_SIGNATURE_POLICY": str(tmp_path / "policy.toml")}
    revision, init = run([python019, "-c", KB_LOAD], env).stdout.split()
    variant = Path(init).parent.name
    stored = json.loads(next((cache / ".verified-kernels" / "signature" / "v1").iterdir()).read_text())
    assert stored["location"] == {"type": "remote_kernel", "repo_id": "kb-examples/relu", "revision": revision,
                                  "variant": variant}
    reads = run([python019, "-c", KERNELS_READS, cache, "kb-examples/relu", revision, variant],
                {**base, "PYTHONPATH": ""}).stdout.split("\n")
    assert reads[:2] == ["signature True", "digest True"]
    # Another location has no receipt: kernels does not read everything as one.
    other = run([python019, "-c", KERNELS_READS, cache, "kb-examples/other", revision, variant],
                {**base, "PYTHONPATH": ""}).stdout.split("\n")
    assert other[:2] == ["signature False", "digest False"]
