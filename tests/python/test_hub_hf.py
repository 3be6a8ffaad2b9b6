"""The kernels package over the Hugging Face Hub API: examples/relu published
with `kb upload` (KB_HUB unset, HF_ENDPOINT at the loopback hub fixture),
then loaded, listed, checked for trust, and fetched offline.

Loads that import the kernel run in fresh interpreters: the build fetched
from the hub has the same op namespace as examples/relu/build, which other
tests load in this process."""
import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

import kernels
from conftest import REPO, RELU
from hub_server.process import HubProcess

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
TOKEN = "hf_kb_test"
OLD_RELU_BUILD = {
    "build/torch-universal/metadata.json": json.dumps({
        "name": "old-relu", "id": "_old_relu_universal", "version": 1, "license": "Apache-2.0",
        "python-depends": [], "backend": {"type": "cpu"}}).encode(),
    "build/torch-universal/__init__.py": b"import torch\nOLD_RELU = True\ndef relu(x):\n    return torch.relu(x)\n",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory, relu_variant_dir):
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        orgs=["shady"], max_lifetime=900)
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": TOKEN}
    env.pop("KB_HUB", None)
    for repo_id in ["kb-examples/relu", "shady/relu", "nobody/relu"]:
        up = subprocess.run([str(KB), "upload", str(RELU), "--repo-id", repo_id, "--allow-nonportable", "-q"],
                            env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
    # Repositories whose kernel-status.toml redirects to kb-examples/relu: one
    # with a pure-Python build of its own, one with nothing but the redirect.
    redirect = b'kind = "redirect"\ndestination = "kb-examples/relu"\nrevision = "v1"\n'
    server.commit("kb-examples/old-relu", "main", {"kernel-status.toml": redirect, **OLD_RELU_BUILD})
    server.commit("kb-examples/moved-relu", "main", {"kernel-status.toml": redirect})
    for version in (1, 2):  # pure-Python builds whose ids say their version
        server.commit("kb-examples/evolving", f"v{version}", {
            "build/torch-universal/metadata.json": json.dumps({
                "name": "evolving", "id": f"_evolving_v{version}_{os.getpid()}", "version": version,
                "license": "MIT", "python-depends": [], "backend": {"type": "cpu"}}).encode(),
            "build/torch-universal/__init__.py": f"VERSION = {version}\n".encode()})
    server.commit("kb-examples/elsewhere", "v1", {
        "build/torch29-cxx11-cu126-aarch64-linux/metadata.json": b'{"version": 1}\n'})
    yield server
    server.stop()


@pytest.fixture
def hf_env(monkeypatch, hub, tmp_path):
    """This process pointed at the fixture with a fresh cache."""
    monkeypatch.delenv("KB_HUB", raising=False)
    monkeypatch.delenv("LOCAL_KERNELS", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_DISABLE_TELEMETRY", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=300)


LOAD = """
import sys, warnings
import torch, kernels
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    relu = kernels.get_kernel(sys.argv[1] if len(sys.argv) > 1 else "kb-examples/relu", {args})
x = torch.linspace(-2, 2, 9)
assert torch.equal(relu.relu(x), torch.relu(x))
print(relu.__file__)
for w in caught:
    print("WARNING", w.message)
"""


def load(hub, cache, args="version=1", **env):
    return run_python(LOAD.format(args=args), HF_ENDPOINT=hub.url, KERNELS_CACHE=str(cache), **env)


def test_get_kernel_loads_from_the_hugging_face_hub(hub, tmp_path, cpu_linux_torch):
    out = load(hub, tmp_path / "cache")
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.splitlines()[0]).parent
    assert path.name == cpu_linux_torch
    assert path.parents[3].name == "kernels--kb-examples--relu"
    assert (tmp_path / "cache") in path.parents


def test_untrusted_and_unknown_publishers_are_refused_unless_trusted_explicitly(hub, hf_env, tmp_path):
    with pytest.raises(ValueError, match=r"^Kernel repository 'shady/relu' is not from a trusted publisher\. "
                                         r"Set trust_remote_code=True"):
        kernels.get_kernel("shady/relu", version=1)
    with pytest.raises(ValueError, match=r"^Kernel repository 'nobody/relu' could not verify publisher trust status"):
        kernels.get_kernel("nobody/relu", version=1)
    # A list is an allowlist of repo ids: others stay refused.
    with pytest.raises(ValueError, match="not from a trusted publisher"):
        kernels.get_kernel("shady/relu", version=1, trust_remote_code=["someone/else"])
    out = run_python(LOAD.format(args="version=1, trust_remote_code=True").replace(
        '"kb-examples/relu"', '"shady/relu"'), HF_ENDPOINT=hub.url, KERNELS_CACHE=str(tmp_path / "c3"))
    assert out.returncode == 0, out.stderr
    assert "kernels--shady--relu" in out.stdout


def test_offline_loads_what_is_cached_and_fails_clearly_otherwise(hub, tmp_path):
    cache = tmp_path / "cache"
    assert load(hub, cache).returncode == 0
    hub.clear_log()
    out = load(hub, cache, HF_HUB_OFFLINE="1")
    assert out.returncode == 0, out.stderr
    assert "WARNING Skipping publisher trust check for 'kb-examples/relu' because Hugging Face Hub is in offline mode." in out.stdout
    assert hub.log() == []
    out = load(hub, cache, args="version=2", HF_HUB_OFFLINE="1")
    assert out.returncode != 0
    assert "Version 2 not found, available versions: 1" in out.stderr
    out = load(hub, tmp_path / "empty", HF_HUB_OFFLINE="1")
    assert "Version 1 of 'kb-examples/relu' is not available in the local cache and Hugging Face Hub is in offline mode" in out.stderr


def test_a_warm_load_needs_one_small_request(hub, tmp_path):
    cache = tmp_path / "cache"
    assert load(hub, cache).returncode == 0
    hub.clear_log()
    # The publisher's trust was recorded by the first load: only the version is asked.
    assert load(hub, cache).returncode == 0
    assert [e["path"] for e in hub.log()] == ["/api/kernels/kb-examples/relu/refs"]
    hub.clear_log()
    assert load(hub, cache, args="revision='v1'").returncode == 0
    assert [e["path"] for e in hub.log()] == ["/api/kernels/kb-examples/relu/revision/v1"]


def test_the_user_agent_carries_telemetry_unless_disabled(hub, tmp_path):
    code = LOAD.format(args="version=1, user_agent={'app': 'demo', 'run': 3}")
    hub.clear_log()
    out = run_python(code, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(tmp_path / "a"))
    assert out.returncode == 0, out.stderr
    agents = {e["headers"].get("User-Agent") for e in hub.log() if e["path"].startswith(("/api/kernels", "/kernels"))}
    assert len(agents) == 1, agents
    parts = agents.pop().split("; ")
    assert parts[:3] == ["app/demo", "run/3", f"kernels/{kernels.__version__}"]
    assert parts[3] == f"python/{sys.version_info.major}.{sys.version_info.minor}"
    assert parts[4] == "backend/cpu" and parts[5].startswith("platform/") and parts[6] == "file_type/kernel"
    assert any(p.startswith("torch/") for p in parts)
    hub.clear_log()
    out = run_python(code, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(tmp_path / "b"), HF_HUB_DISABLE_TELEMETRY="1")
    assert out.returncode == 0, out.stderr
    agents = {e["headers"].get("User-Agent") for e in hub.log()}
    assert agents == {f"kernels/{kernels.__version__}"}


def test_has_kernel_and_variants_on_the_hub(hf_env, cpu_linux_torch):
    assert kernels.has_kernel("kb-examples/relu", version=1)
    assert not kernels.has_kernel("kb-examples/elsewhere", version=1)
    decisions = kernels.get_kernel_variants("kb-examples/relu", version=1)
    assert isinstance(decisions[0], kernels.VariantAccepted)
    assert decisions[0].variant.variant_str == cpu_linux_torch
    rejected = [d for d in decisions if isinstance(d, kernels.VariantRejected)]
    assert all(d.reason for d in rejected)
    (other,) = kernels.get_kernel_variants("kb-examples/elsewhere", revision="v1")
    assert isinstance(other, kernels.VariantRejected)
    with pytest.raises(ValueError, match="A kernel version or revision must be specified"):
        kernels.has_kernel("kb-examples/relu")


def test_a_kernel_status_redirect_is_ignored_and_the_asked_repository_loads(hub, tmp_path):
    # As in kernels >= 0.17: old-relu's own build loads, not the redirect's destination.
    code = LOAD.format(args="revision='main'").replace('"kb-examples/relu"', '"kb-examples/old-relu"')
    code += "print('OLD_RELU', getattr(relu, 'OLD_RELU', False))\n"
    out = run_python(code, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(tmp_path / "cache"))
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.splitlines()[0]).parent
    assert path.name == "torch-universal"
    assert path.parents[3].name == "kernels--kb-examples--old-relu"
    assert "OLD_RELU True" in out.stdout.splitlines()
    assert "redirected" not in out.stdout + out.stderr
    assert not (tmp_path / "cache" / "kernels--kb-examples--relu").exists()


def test_a_repository_with_only_a_kernel_status_redirect_has_no_variant(hf_env):
    with pytest.raises(FileNotFoundError) as info:
        kernels.get_kernel("kb-examples/moved-relu", revision="main")
    assert str(info.value).startswith(
        "Cannot find a build variant for this system in kb-examples/moved-relu (revision: main):")
    assert not kernels.has_kernel("kb-examples/moved-relu", revision="main")
    assert not (hf_env / "kernels--kb-examples--relu").exists()


def test_kernels_versions_cli(hub, tmp_path, cpu_linux_torch):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "KERNELS_CACHE": str(tmp_path)}
    env.pop("KB_HUB", None)
    out = subprocess.run([sys.executable, "-m", "kernels", "versions", "kb-examples/relu"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Version 1:\n\n")
    assert cpu_linux_torch in out.stdout
    out = subprocess.run([sys.executable, "-m", "kernels", "versions", "kb-examples/old-relu"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Repository does not support kernel versions: kb-examples/old-relu\n"
    out = subprocess.run([sys.executable, "-m", "kernels"], env=env, capture_output=True, text=True)
    assert out.returncode == 2


def test_corrupted_downloads_are_rejected_and_interrupted_ones_resume(hub, hf_env, cpu_linux_torch):
    hub.fault({"path": r"/_lfs/objects/", "kind": "corrupt", "count": -1})
    try:
        with pytest.raises(FileNotFoundError, match="hash mismatch"):
            kernels.install_kernel("kb-examples/relu", revision="v1")
    finally:
        hub.clear_faults()
    snapshots = hf_env / "kernels--kb-examples--relu" / "snapshots"
    assert not list(snapshots.glob(f"*/build/{cpu_linux_torch}/*.so"))
    hub.fault({"path": r"/_lfs/objects/", "kind": "truncate", "bytes": 4096})
    path = kernels.install_kernel("kb-examples/relu", revision="v1")
    (so,) = list(path.glob("*.so"))
    assert so.read_bytes() == (RELU / "build" / cpu_linux_torch / so.name).read_bytes()


def kb_upload(hub, kernel_dir, *args):
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN}
    env.pop("KB_HUB", None)
    return subprocess.run([str(KB), "upload", str(kernel_dir), "--allow-nonportable", *args], env=env,
                          capture_output=True, text=True)


def test_kb_upload_private_repositories_and_pull_requests(hub, tmp_path, relu_variant_dir):
    out = kb_upload(hub, RELU, "--repo-id", "kb-examples/private-relu", "--private")
    assert out.returncode == 0, out.stderr
    assert f"Kernel uploaded: {hub.url}/kernels/kb-examples/private-relu/tree/v1" in out.stderr
    with pytest.raises(urllib.error.HTTPError) as info:
        hub.request("GET", "/api/kernels/kb-examples/private-relu/refs", token=False)
    assert info.value.code == 401
    assert "v1" in [b["name"] for b in hub.request("GET", "/api/kernels/kb-examples/private-relu/refs")["branches"]]

    # A changed variant proposed as a pull request: the branch stays as it was.
    kernel = tmp_path / "kernel"
    variant = kernel / "build" / relu_variant_dir.name
    variant.mkdir(parents=True)
    for f in relu_variant_dir.iterdir():
        (variant / f.name).write_bytes(f.read_bytes())
    with open(variant / "__init__.py", "a") as f:
        f.write("# proposed change\n")
    before = hub.request("GET", "/api/kernels/kb-examples/relu/revision/v1")["sha"]
    result = tmp_path / "result.json"
    out = kb_upload(hub, kernel, "--repo-id", "kb-examples/relu", "--create-pr", "--output-json", str(result))
    assert out.returncode == 0, out.stderr
    answer = json.loads(result.read_text())
    assert answer["status"] == "pull_request_created"
    ((branch, url),) = [(p["branch"], p["url"]) for p in answer["pull_requests"]]
    assert branch == "v1" and url.startswith(f"{hub.url}/kernels/kb-examples/relu/discussions/")
    assert f"Pull request created: {url}" in out.stderr
    assert hub.request("GET", "/api/kernels/kb-examples/relu/revision/v1")["sha"] == before
    number = url.rsplit("/", 1)[1]
    pr = hub.request("GET", f"/api/kernels/kb-examples/relu/revision/refs%2Fpr%2F{number}")["sha"]
    assert pr != before
    # A pull request against a branch that does not exist is refused.
    out = kb_upload(hub, kernel, "--repo-id", "kb-examples/relu", "--create-pr", "--branch", "v9")
    assert out.returncode == 1
    assert "pull requests can only target an existing branch: `v9`" in out.stderr


def test_an_older_version_works_with_a_warning(hub, hf_env, caplog):
    for branch in ("v1", "v2"):
        out = kb_upload(hub, RELU, "--repo-id", "kb-examples/two", "--branch", branch, "-q")
        assert out.returncode == 0, out.stderr
    with caplog.at_level("WARNING", logger="kernels._versions"):
        assert kernels.has_kernel("kb-examples/two", version=1)
    assert [r.getMessage() for r in caplog.records] == [
        "You are using version 1 of 'kb-examples/two', but version 2 is available."]
    caplog.clear()
    with caplog.at_level("WARNING", logger="kernels._versions"):
        assert kernels.has_kernel("kb-examples/two", version=2)
    assert caplog.records == []


def test_kb_upload_to_a_legacy_model_repository(hub, relu_variant_dir):
    out = kb_upload(hub, RELU, "--repo-id", "kb-examples/legacy", "--repo-type", "model", "-q")
    assert out.returncode == 0, out.stderr
    branches = {b["name"] for b in hub.request("GET", "/api/models/kb-examples/legacy/refs")["branches"]}
    assert "v1" in branches
    files = {e["path"] for e in hub.request("GET", "/api/models/kb-examples/legacy/tree/v1?recursive=true")}
    assert f"build/{relu_variant_dir.name}/metadata.json" in files
    with pytest.raises(urllib.error.HTTPError) as info:
        hub.request("GET", "/api/kernels/kb-examples/legacy/refs")
    assert info.value.code == 404


DIGEST_LOAD = """
import logging, sys, warnings
import kernels
logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(message)s", stream=sys.stdout)
try:
    kernels.get_kernel("kb-examples/relu", version=1)
    print("LOADED")
except RuntimeError as e:
    print("REFUSED", e)
"""


def receipts(cache: Path) -> list[Path]:
    return sorted((cache / ".verified-kernels" / "digest" / "v1").glob("*"))


def test_the_digest_is_checked_on_every_load_and_a_hub_build_leaves_a_receipt(hub, tmp_path, cpu_linux_torch):
    cache = tmp_path / "cache"
    out = run_python(DIGEST_LOAD, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(cache))
    assert out.stdout.splitlines()[-1] == "LOADED", out.stdout + out.stderr
    (receipt,) = receipts(cache)
    sha = hub.head("kb-examples/relu", "v1")
    assert json.loads(receipt.read_text()) == {"location": {
        "type": "remote_kernel", "repo_id": "kb-examples/relu", "revision": sha, "variant": cpu_linux_torch}}

    # A cached file changed after the check: the receipt vouches for the
    # commit, so the change is only seen once the receipt is gone.
    variant = cache / "kernels--kb-examples--relu" / "snapshots" / sha / "build" / cpu_linux_torch
    init = (variant / "__init__.py").resolve()
    init.chmod(0o644)
    init.write_text(init.read_text() + "\n# changed\n")
    assert run_python(DIGEST_LOAD, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(cache)).stdout.splitlines()[-1] == "LOADED"
    receipt.unlink()
    out = run_python(DIGEST_LOAD, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(cache))
    (refused,) = [line for line in out.stdout.splitlines() if line.startswith("REFUSED")]
    assert refused.startswith(f"REFUSED Kernel 'relu' variant '{cpu_linux_torch}': the files do not match the digest "
                           "in the metadata, so they may have been modified:"), out.stdout
    assert "File hash mismatch for __init__.py: expected: " in out.stdout
    assert receipts(cache) == []


def test_a_build_without_a_digest_loads_with_a_log_warning(hub, tmp_path):
    code = DIGEST_LOAD.replace('"kb-examples/relu", version=1', '"kb-examples/old-relu", revision="main"')
    out = run_python(code, HF_ENDPOINT=hub.url, KERNELS_CACHE=str(tmp_path / "cache"))
    assert out.stdout.splitlines()[-1] == "LOADED", out.stdout + out.stderr
    assert ("LOG kernels Kernel 'old-relu' variant 'torch-universal': the metadata does not record a digest, so its "
            "integrity cannot be verified") in out.stdout
    assert receipts(tmp_path / "cache") == []


def test_kernels_cache_is_read_on_every_call(hf_env, tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    for cache in (first, second):
        monkeypatch.setenv("KERNELS_CACHE", str(cache))
        path = kernels.install_kernel("kb-examples/relu", version=1)
        assert cache in path.parents


def test_unstable_all_latest_loads_the_newest_version_with_a_log_warning(hub, hf_env, monkeypatch, caplog):
    assert kernels.get_kernel("kb-examples/evolving", version=1).VERSION == 1
    monkeypatch.setenv("UNSTABLE_KERNELS_ALL_LATEST", "1")
    with caplog.at_level("WARNING", logger="kernels"):
        assert kernels.get_kernel("kb-examples/evolving", version=1).VERSION == 2
    v2 = hub.head("kb-examples/evolving", "v2")
    assert (f"UNSTABLE_KERNELS_ALL_LATEST is enabled: overriding requested version 1 and any lockfile pin for "
            f"'kb-examples/evolving' with v2 ({v2}). Kernel API changes may break your code.") in caplog.messages
