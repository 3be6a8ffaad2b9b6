"""The architecture check (check_arch) and trust_remote_code allowlists.

The check compares the architectures a CUDA or ROCm build declares in its
metadata.json (backend.archs) with the device. There is no GPU here, so the
device is named through the variables reserved for tests,
KB_TEST_DEVICE_CAPABILITY ("9.0") and KB_TEST_DEVICE_GCN_ARCH ("gfx90a"),
and the builds are CPU builds whose metadata.json is rewritten to say CUDA or
ROCm (the check reads only the metadata).

Loads of examples/relu run in fresh interpreters: its op namespace is the
one of examples/relu/build, which other tests load in this process."""
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

import kernels
from conftest import write_variant
from hub_server.process import HubProcess

CAPABILITY = "KB_TEST_DEVICE_CAPABILITY"
GCN_ARCH = "KB_TEST_DEVICE_GCN_ARCH"
TOKEN = "hf_kb_arch_test"


@pytest.fixture(autouse=True)
def no_fake_device(monkeypatch):
    monkeypatch.delenv(CAPABILITY, raising=False)
    monkeypatch.delenv(GCN_ARCH, raising=False)


def declare(variant_dir, backend: dict) -> None:
    path = variant_dir / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["backend"] = backend
    path.write_text(json.dumps(metadata))


# Loads the relu variant at argv[1] once per device named in argv[2:]
# ("cuda=9.0", "rocm=gfx90a", "none"; a "!" suffix: check_arch=False), through
# get_local_kernel and LocalLayerRepository, and prints one line per device.
LOAD_RELU = r"""
import os, sys
import torch, kernels
path = sys.argv[1]
for spec in sys.argv[2:]:
    check = not spec.endswith("!")
    kind, _, value = spec.rstrip("!").partition("=")
    os.environ.pop("KB_TEST_DEVICE_CAPABILITY", None)
    os.environ.pop("KB_TEST_DEVICE_GCN_ARCH", None)
    if kind == "cuda":
        os.environ["KB_TEST_DEVICE_CAPABILITY"] = value
    elif kind == "rocm":
        os.environ["KB_TEST_DEVICE_GCN_ARCH"] = value
    layer = kernels.LocalLayerRepository(path, layer_name="ReLU", check_arch=check)
    try:
        relu = kernels.get_local_kernel(path, check_arch=check)
    except RuntimeError as e:
        try:
            layer.load()
        except RuntimeError:
            pass
        else:
            sys.exit(f"{spec}: LocalLayerRepository loaded what get_local_kernel refused")
        print(spec, "REFUSED", str(e).replace("\n", " "))
        continue
    x = torch.linspace(-2, 2, 9)
    assert torch.equal(relu.relu(x), torch.relu(x))
    try:
        layer.load()
    except ValueError:
        pass  # past the check; whether relu has such a layer does not matter here
    print(spec, "LOADED")
"""


def load_relu(variant_dir, *devices) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_KERNELS", CAPABILITY, GCN_ARCH)}
    out = subprocess.run([sys.executable, "-c", LOAD_RELU, str(variant_dir), *devices], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    results = {}
    for line in out.stdout.splitlines():
        spec, _, result = line.partition(" ")
        results[spec] = result
    assert set(results) == set(devices), out.stdout
    return results


@pytest.fixture
def relu_copy(relu_variant_dir, tmp_path):
    """A copy of examples/relu's variant for this torch, to rewrite the
    metadata of."""
    return shutil.copytree(relu_variant_dir, tmp_path / relu_variant_dir.name)


def test_cuda_builds_load_only_on_capabilities_their_archs_cover(relu_copy):
    declare(relu_copy, {"type": "cuda", "archs": ["8.0", "9.0a", "10.0f", "12.0+PTX"]})
    results = load_relu(relu_copy, "cuda=8.6", "cuda=9.0", "cuda=10.3", "cuda=13.0", "cuda=9.1", "cuda=7.5",
                        "cuda=9.1!", "rocm=gfx90a", "none")
    for loaded in ["cuda=8.6", "cuda=9.0", "cuda=10.3", "cuda=13.0", "cuda=9.1!", "rocm=gfx90a", "none"]:
        assert results[loaded] == "LOADED", (loaded, results[loaded])
    assert results["cuda=9.1"] == (
        f"REFUSED Kernel 'relu' variant '{relu_copy.name}' does not support the current device: CUDA capability 9.1 "
        "of the current device is not supported by the architectures of the build: 8.0, 9.0a, 10.0f, 12.0+PTX. The "
        "declared architectures can be incomplete (e.g. when a kernel has a Triton fallback), pass "
        "`check_arch=False` to skip this check. Warning: the kernel may fail or crash the process at run time when "
        "it does not support the device."
    )
    assert results["cuda=7.5"].startswith("REFUSED ") and "CUDA capability 7.5 of the current device" in results[
        "cuda=7.5"]


def test_rocm_builds_match_the_gcn_arch_name_without_its_features(relu_copy):
    declare(relu_copy, {"type": "rocm", "archs": ["gfx90a", "gfx942"]})
    results = load_relu(relu_copy, "rocm=gfx90a:sramecc+:xnack-", "rocm=gfx942", "rocm=gfx1100", "rocm=gfx1100!",
                        "cuda=1.0")
    for loaded in ["rocm=gfx90a:sramecc+:xnack-", "rocm=gfx942", "rocm=gfx1100!", "cuda=1.0"]:
        assert results[loaded] == "LOADED", (loaded, results[loaded])
    assert "ROCm arch gfx1100 of the current device is not supported by the architectures of the build: gfx90a, " \
           "gfx942" in results["rocm=gfx1100"]


def test_builds_without_archs_are_not_checked(relu_copy):
    declare(relu_copy, {"type": "cuda"})
    assert load_relu(relu_copy, "cuda=1.0") == {"cuda=1.0": "LOADED"}


def test_a_malformed_test_capability_is_named(tmp_path, monkeypatch):
    variant = write_variant(tmp_path / "torch-universal", name="archs-malformed")
    declare(variant, {"type": "cuda", "archs": ["9.0"]})
    monkeypatch.setenv(CAPABILITY, "nine")
    with pytest.raises(ValueError, match=r"KB_TEST_DEVICE_CAPABILITY: `nine` is not a CUDA capability"):
        kernels.get_local_kernel(variant)


# -- the hub: has_kernel, get_kernel, layer repositories, allowlists ----------


@pytest.fixture(scope="module")
def hub(tmp_path_factory, cpu_linux_torch):
    """A loopback hub with pure-Python kernels (no shared object, so they
    load in this process): kb-examples (a trusted publisher) has one whose
    metadata declares CUDA 9.0a, shady (untrusted) and nobody (unknown to
    the hub) one CPU kernel each."""
    server = HubProcess(tmp_path_factory.mktemp("arch-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        orgs=["shady"], max_lifetime=900)
    tag = uuid.uuid4().hex[:8]
    for repo_id, backend in [
        ("kb-examples/sm90", {"type": "cuda", "archs": ["9.0a"]}),
        ("shady/pure", {"type": "cpu"}),
        ("nobody/pure", {"type": "cpu"}),
    ]:
        org, name = repo_id.split("/")
        # Ids are unique per build: a build with an imported id is that build.
        build_id = f"_{name}_{org.replace('-', '_')}_{tag}"
        metadata = {"name": name, "id": build_id, "version": 1, "license": "MIT", "python-depends": [],
                    "backend": backend}
        prefix = f"build/{cpu_linux_torch}"
        server.commit(repo_id, "v1", {f"{prefix}/metadata.json": json.dumps(metadata).encode(),
                                      f"{prefix}/__init__.py": f"WHO = {repo_id!r}\n".encode()})
    yield server
    server.stop()


@pytest.fixture
def hub_env(monkeypatch, hub, tmp_path):
    for name in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))


def test_has_kernel_and_get_kernel_check_the_device(hub_env, monkeypatch):
    monkeypatch.setenv(CAPABILITY, "8.0")
    assert not kernels.has_kernel("kb-examples/sm90", version=1)
    assert kernels.has_kernel("kb-examples/sm90", version=1, check_arch=False)
    with pytest.raises(RuntimeError, match=r"^Kernel 'sm90' variant '.*' does not support the current device: "
                                           r"CUDA capability 8\.0 of the current device is not supported by the "
                                           r"architectures of the build: 9\.0a\. "):
        kernels.get_kernel("kb-examples/sm90", version=1)
    with pytest.raises(RuntimeError, match="CUDA capability 8.0"):
        kernels.LayerRepository("kb-examples/sm90", layer_name="ReLU", version=1).load()
    with pytest.raises(RuntimeError, match="CUDA capability 8.0"):
        kernels.FuncRepository("kb-examples/sm90", func_name="relu", version=1).load()
    # Past the check, the layer lookup is what fails.
    with pytest.raises(ValueError, match="does not define any layers"):
        kernels.LayerRepository("kb-examples/sm90", layer_name="ReLU", version=1, check_arch=False).load()
    assert kernels.get_kernel("kb-examples/sm90", version=1, check_arch=False).WHO == "kb-examples/sm90"

    monkeypatch.setenv(CAPABILITY, "9.0")
    assert kernels.has_kernel("kb-examples/sm90", version=1)
    assert kernels.get_kernel("kb-examples/sm90", version=1).WHO == "kb-examples/sm90"
    # Without a device (this machine) nothing is compared.
    monkeypatch.delenv(CAPABILITY)
    assert kernels.has_kernel("kb-examples/sm90", version=1)


def test_trust_remote_code_lists_repositories_trusted_besides_trusted_publishers(hub_env):
    how = "Set trust_remote_code=True or add the repository ID to the trust_remote_code allowlist"
    with pytest.raises(ValueError, match=rf"^Kernel repository 'shady/pure' is not from a trusted publisher\. {how}"):
        kernels.get_kernel("shady/pure", version=1)
    with pytest.raises(ValueError, match=rf"^Kernel repository 'shady/pure' is not from a trusted publisher\. {how}"):
        kernels.get_kernel("shady/pure", version=1, trust_remote_code=["shady/other", "nobody/pure"])
    with pytest.raises(ValueError, match=rf"^Kernel repository 'nobody/pure' could not verify publisher trust "
                                         rf"status\. {how}"):
        kernels.get_kernel("nobody/pure", version=1, trust_remote_code=["shady/pure"])
    assert kernels.get_kernel("shady/pure", version=1, trust_remote_code=["shady/pure"]).WHO == "shady/pure"
    assert kernels.get_kernel("nobody/pure", version=1, trust_remote_code=["nobody/pure"]).WHO == "nobody/pure"
    # A trusted publisher needs no entry.
    assert kernels.get_kernel("kb-examples/sm90", version=1, trust_remote_code=["shady/pure"],
                              check_arch=False).WHO == "kb-examples/sm90"
    # Layer repositories pass their list on.
    with pytest.raises(ValueError, match="not from a trusted publisher"):
        kernels.LayerRepository("shady/pure", layer_name="ReLU", version=1, trust_remote_code=["x/y"]).load()
    with pytest.raises(ValueError, match="does not define any layers"):
        kernels.LayerRepository("shady/pure", layer_name="ReLU", version=1, trust_remote_code=["shady/pure"]).load()


def test_a_refused_token_asks_to_log_in_again(hub_env, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_expired")
    for trust in (False, ["other/kernel"]):
        with pytest.raises(PermissionError) as caught:
            kernels.get_kernel("shady/pure", version=1, trust_remote_code=trust)
        message = str(caught.value)
        assert isinstance(caught.value, OSError)
        assert "HTTP 401" in message
        assert ("Hugging Face Hub authentication failed while checking the publisher of kernel repository "
                "'shady/pure'. Your token may be invalid or expired. Run `hf auth login` to log in again. If "
                "`HF_TOKEN` is set, update or unset it.") in message
        assert "trust_remote_code" not in message


def test_locked_loaders_check_the_device(hub, hub_env, monkeypatch, tmp_path):
    sha = hub.head("kb-examples/sm90", "v1")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.kernels.dependencies]\n"kb-examples/sm90" = 1\n')
    lock = project / "kernels.lock"
    entry = {"dependency": {"repo-id": "kb-examples/sm90", "version": 1}, "lock": {"commit": sha}}
    lock.write_text(json.dumps([entry]))
    out = subprocess.run([sys.executable, "-m", "kernels", "download", str(project)], env=dict(os.environ),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr

    monkeypatch.setenv(CAPABILITY, "8.0")
    with pytest.raises(RuntimeError, match="CUDA capability 8.0 of the current device is not supported"):
        kernels.load_kernel("kb-examples/sm90", lockfile=lock)
    assert kernels.load_kernel("kb-examples/sm90", lockfile=lock, check_arch=False).WHO == "kb-examples/sm90"
    with pytest.raises(RuntimeError, match="CUDA capability 8.0 of the current device is not supported"):
        kernels.LockedLayerRepository("kb-examples/sm90", lockfile=lock, layer_name="ReLU").load()
    with pytest.raises(ValueError, match="does not define any layers"):
        kernels.LockedLayerRepository("kb-examples/sm90", lockfile=lock, layer_name="ReLU", check_arch=False).load()
    monkeypatch.setenv(CAPABILITY, "9.0")
    assert kernels.load_kernel("kb-examples/sm90", lockfile=lock).WHO == "kb-examples/sm90"


def test_a_trust_list_holds_repository_ids_only(hub_env):
    with pytest.raises(TypeError, match="trust_remote_code must be a bool or a list of repository ids, got an item 1"):
        kernels.get_kernel("shady/pure", version=1, trust_remote_code=["shady/pure", 1])


def test_the_device_is_what_torch_reports_and_is_asked_only_when_needed(tmp_path, monkeypatch):
    """The detection behind the loaders, with torch's device queries answering
    as on a GPU machine (this machine has none)."""
    import torch

    from kernels import _environment

    _environment.environment()  # resolution keeps seeing this CPU torch
    asked = []

    def capability(device=None):
        asked.append("capability")
        return (8, 6)

    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", capability)
    assert _environment.device_arch() == ((8, 6), None)

    cpu = write_variant(tmp_path / "cpu" / "torch-universal", name="archs-cpu")
    asked.clear()
    assert kernels.get_local_kernel(cpu).VALUE == 42
    assert asked == []  # a CPU build never initialises the device

    sm90 = write_variant(tmp_path / "sm90" / "torch-universal", name="archs-sm90")
    declare(sm90, {"type": "cuda", "archs": ["9.0a"]})
    with pytest.raises(RuntimeError, match="CUDA capability 8.6 of the current device is not supported"):
        kernels.get_local_kernel(sm90)
    assert asked == ["capability"]
    assert kernels.get_local_kernel(sm90, check_arch=False).VALUE == 42

    # A ROCm torch reports the gcnArchName of the current device.
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", "6.3.42131", raising=False)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda index: type("Props", (), {"gcnArchName": "gfx942:sramecc+:xnack-"})())
    assert _environment.device_arch() == (None, "gfx942:sramecc+:xnack-")
    # No usable device: nothing to compare.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _environment.device_arch() == (None, None)
