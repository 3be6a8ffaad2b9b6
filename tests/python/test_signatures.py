"""Signed kernels end to end: a copy of examples/relu signed with a key by
`kb upload --sign` onto a local hub, then loaded with get_kernel (signature
checked, receipt stored and reused, strict mode), checked with
`kernels verify-signature` and `kb verify`, and refused when unsigned or
tampered with; and a copy signed keylessly by the fake sigstore instance of
tests/fixtures/sigstore-fake (as a kernels-community workflow), loaded under the
default policy with that instance's trust root.

Loads run in fresh interpreters: the fetched build has the op namespace of
examples/relu's build, which other tests load in this process."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, RELU

FAKE = REPO / "tests" / "fixtures" / "sigstore-fake"
SIGSTORE_PYTHON = Path(os.environ.get("KB_SIGSTORE_VENV", Path.home() / ".cache/kb/sigstore-venv")) / "bin" / "python"

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
REPO_ID = "kb-examples/relu"


def run(cmd, env=None, check=True):
    result = subprocess.run([str(c) for c in cmd], env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """(private key, policy trusting its public key, a policy trusting another key)."""
    root = tmp_path_factory.mktemp("keys")
    for name in ("hub", "other"):
        run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", root / f"{name}.pem"])
        run(["openssl", "ec", "-in", root / f"{name}.pem", "-pubout", "-out", root / f"{name}.pub"])
        (root / f"{name}-policy.toml").write_text(f'[[public-key]]\npath = "{name}.pub"\n')
    return root / "hub.pem", root / "hub-policy.toml", root / "other-policy.toml"


@pytest.fixture(scope="module")
def kernel_copy(tmp_path_factory, relu_variant_dir):
    """examples/relu with its build, copied: signing writes into build/."""
    dest = tmp_path_factory.mktemp("relu") / "relu"
    shutil.copytree(RELU, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def publish(kernel_dir: Path, hub_root: Path, *extra) -> str:
    spec = f"local:{hub_root}"
    run([KB, "upload", kernel_dir, "--allow-nonportable", "-q", *extra], env={"KB_HUB": spec})
    return spec


@pytest.fixture(scope="module")
def signed_hub(tmp_path_factory, kernel_copy, keys):
    key, _, _ = keys
    return publish(kernel_copy, tmp_path_factory.mktemp("signed-hub"), "--sign", key)


@pytest.fixture(scope="module")
def unsigned_hub(tmp_path_factory, relu_variant_dir):
    return publish(RELU, tmp_path_factory.mktemp("unsigned-hub"))


LOAD = """
import logging, sys, torch, kernels
logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="LOG %(message)s")
kwargs = {} if len(sys.argv) < 2 else {"require_signature": sys.argv[1] == "strict"}
try:
    relu = kernels.get_kernel("kb-examples/relu", version=1, **kwargs)
except RuntimeError as e:
    print("REFUSED", str(e).replace("\\n", " | "))
    sys.exit(0)
x = torch.linspace(-2, 2, 9)
assert torch.equal(relu.relu(x), torch.relu(x))
print("LOADED", relu.__file__)
"""


def load(hub: str, cache: Path, *args, **env) -> list:
    full = {"KB_HUB": hub, "KERNELS_CACHE": str(cache), **env}
    result = subprocess.run(
        [sys.executable, "-c", LOAD, *args],
        env={k: v for k, v in {**os.environ, **full}.items() if k != "LOCAL_KERNELS"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def receipts(cache: Path) -> list:
    directory = cache / ".verified-kernels" / "signature" / "v1"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def test_a_key_signed_kernel_loads_in_strict_mode_and_leaves_a_receipt(signed_hub, keys, tmp_path, cpu_linux_torch):
    _, policy, _ = keys
    cache = tmp_path / "cache"
    lines = load(signed_hub, cache, "strict", KB_SIGNATURE_POLICY=str(policy))
    assert lines[-1].startswith("LOADED"), lines
    assert not [line for line in lines if line.startswith("LOG")], lines
    (receipt,) = receipts(cache)
    stored = json.loads(receipt.read_text())
    assert stored["location"]["repo_id"] == REPO_ID and stored["location"]["variant"] == cpu_linux_torch
    variant_dir = Path(lines[-1].split(" ", 1)[1]).parent
    assert (variant_dir / "metadata.json.sigstore").is_file()
    # Strict mode through the environment too, with the receipt reused.
    before = receipt.stat().st_mtime_ns
    lines = load(signed_hub, cache, KB_SIGNATURE_POLICY=str(policy), KERNELS_REQUIRE_SIGNATURE="1")
    assert lines[-1].startswith("LOADED"), lines
    assert receipt.stat().st_mtime_ns == before


def test_an_untrusted_signer_warns_and_is_refused_in_strict_mode(signed_hub, keys, tmp_path):
    _, _, other_policy = keys
    lines = load(signed_hub, tmp_path / "cache", KB_SIGNATURE_POLICY=str(other_policy))
    assert lines[-1].startswith("LOADED")
    output = "\n".join(lines)  # a warning's reason is on its next line
    assert "LOG Kernel 'relu' variant" in output and "could not be verified against its signature" in output, lines
    assert "does not trust" in output
    assert receipts(tmp_path / "cache") == []
    lines = load(signed_hub, tmp_path / "cache", "strict", KB_SIGNATURE_POLICY=str(other_policy))
    assert lines[-1].startswith("REFUSED") and "does not trust" in lines[-1], lines


def test_an_unsigned_kernel_warns_and_is_refused_in_strict_mode(unsigned_hub, tmp_path):
    lines = load(unsigned_hub, tmp_path / "cache")
    assert lines[-1].startswith("LOADED")
    assert any("not signed, so its integrity cannot be verified" in line for line in lines if line.startswith("LOG"))
    lines = load(unsigned_hub, tmp_path / "cache", "strict")
    assert lines[-1].startswith("REFUSED") and "not signed" in lines[-1], lines


def test_tampered_cached_metadata_invalidates_the_receipt(signed_hub, keys, tmp_path):
    _, policy, _ = keys
    cache = tmp_path / "cache"
    lines = load(signed_hub, cache, "strict", KB_SIGNATURE_POLICY=str(policy))
    variant_dir = Path(lines[-1].split(" ", 1)[1]).parent
    metadata = variant_dir / "metadata.json"
    # The cache holds read-only blobs behind links: replace the file.
    text = metadata.read_text()
    metadata.unlink()
    metadata.write_text(text.replace('"license"', '"license" ', 1))
    lines = load(signed_hub, cache, "strict", KB_SIGNATURE_POLICY=str(policy))
    assert lines[-1].startswith("REFUSED") and "could not be verified against its signature" in lines[-1], lines


def test_verify_signature_cli_reports_each_outcome(signed_hub, unsigned_hub, keys, tmp_path, cpu_linux_torch):
    _, policy, _ = keys
    env = {"KB_HUB": signed_hub, "KERNELS_CACHE": str(tmp_path / "cache"), "KB_SIGNATURE_POLICY": str(policy)}
    cli = [sys.executable, "-m", "kernels", "verify-signature", REPO_ID, "1"]
    out = run(cli, env=env).stdout
    assert out == f"✅ {cpu_linux_torch}: kernel metadata is correctly signed\n"
    # Every variant on the hub, and the same from kb verify.
    everything = run([*cli, "--all-variants"], env=env).stdout.splitlines()
    built = sorted(p.name for p in (RELU / "build").iterdir() if (p / "metadata.json").is_file())
    assert everything == [f"✅ {v}: kernel metadata is correctly signed" for v in built]
    assert run([KB, "verify", REPO_ID, "--version", "1", "--all-variants"], env=env).stdout.splitlines() == everything
    assert run([KB, "verify", REPO_ID, "--all-variants"], env=env).stdout.splitlines() == everything  # newest version
    # Unsigned: a failure, unless filtered.
    env["KB_HUB"] = unsigned_hub
    env["KERNELS_CACHE"] = str(tmp_path / "cache2")
    result = run(cli, env=env, check=False)
    assert result.returncode == 1
    assert result.stdout == f"❌ {cpu_linux_torch}: cannot verify kernel integrity, signature not found\n"
    filtered = run([*cli, "--filter-unsigned"], env=env)
    assert filtered.stdout == "" and filtered.returncode == 0
    # A version that does not exist is an error naming it.
    missing = run([sys.executable, "-m", "kernels", "verify-signature", REPO_ID, "7"], env=env, check=False)
    assert missing.returncode == 1 and "Version 7 not found" in missing.stderr


def test_kb_verify_json_names_the_signer(kernel_copy, keys, signed_hub, cpu_linux_torch):
    _, policy, _ = keys
    report = json.loads(run([KB, "verify", kernel_copy, "--policy", policy, "--json"]).stdout)
    assert report["policy"] == f"policy {policy}"
    by_variant = {r["variant"]: r for r in report["variants"]}
    assert by_variant[cpu_linux_torch]["outcome"] == "Success"
    assert by_variant[cpu_linux_torch]["signer"] == f"public key {policy.parent / 'hub.pub'}"


@pytest.fixture(scope="module")
def keyless_hub(tmp_path_factory, relu_variant_dir):
    """relu signed by the fake instance as huggingface/kernels-community's build workflow."""
    if not SIGSTORE_PYTHON.exists():
        pytest.skip(f"no sigstore environment at {SIGSTORE_PYTHON.parent.parent} (scripts/setup-sigstore-venv.sh)")
    kernel = tmp_path_factory.mktemp("keyless") / "relu"
    shutil.copytree(RELU, kernel, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for metadata in kernel.glob("build/*/metadata.json"):
        bundle = run([SIGSTORE_PYTHON, FAKE / "fake_sigstore.py", "sign", FAKE / "instance", metadata]).stdout
        (metadata.parent / "metadata.json.sigstore").write_text(bundle)
    return publish(kernel, tmp_path_factory.mktemp("keyless-hub"))


def test_a_keyless_kernels_community_signature_verifies_under_the_default_policy(keyless_hub, tmp_path):
    cache = tmp_path / "cache"
    root = {"KB_TRUST_ROOT": str(FAKE / "instance" / "trusted_root.json")}
    lines = load(keyless_hub, cache, "strict", **root)
    assert lines[-1].startswith("LOADED"), lines
    (receipt,) = receipts(cache)
    signer = json.loads(receipt.read_text())["kb"]["signer"]
    assert signer["source_repository_uri"] == "https://github.com/huggingface/kernels-community"
    # Under sigstore's public-good root the fake signature is worthless.
    lines = load(keyless_hub, tmp_path / "cache2", "strict")
    assert lines[-1].startswith("REFUSED") and "certificate chain" in lines[-1], lines


def test_a_receipt_does_not_outlive_the_policy_that_accepted_the_signer(keyless_hub, tmp_path):
    cache = tmp_path / "cache"
    root = {"KB_TRUST_ROOT": str(FAKE / "instance" / "trusted_root.json")}
    assert load(keyless_hub, cache, "strict", **root)[-1].startswith("LOADED")
    policy = tmp_path / "acme.toml"
    policy.write_text(
        '[[github-workflow]]\nrepo = "acme/kernels"\n'
        'signer-uris = ["https://github.com/acme/kernels/.github/workflows/build.yaml@refs/heads/main"]\n'
    )
    lines = load(keyless_hub, cache, "strict", KB_SIGNATURE_POLICY=str(policy), **root)
    assert lines[-1].startswith("REFUSED") and "acme/kernels" in lines[-1], lines
    policy.write_text("include-default = true\n" + policy.read_text())
    assert load(keyless_hub, cache, "strict", KB_SIGNATURE_POLICY=str(policy), **root)[-1].startswith("LOADED")
