"""examples/cpp-app, a libtorch program without Python, loads examples/relu
from the loopback Hugging Face Hub the way get_kernel does in Python: by
version, into the cache, with the publisher trust check."""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, RELU
from hub_server.process import HubProcess

BIN = Path(os.environ.get("KB_BIN", REPO / "build" / "bin"))
APP = BIN / "kb-cpp-app-example"
TOKEN = "hf_kb_cpp_app"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, relu_variant_dir):
    if not APP.is_file():
        pytest.skip(f"{APP} is not built (needs libtorch)")
    server = HubProcess(tmp_path_factory.mktemp("cpp-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        orgs=["shady"], max_lifetime=600)
    env = {k: v for k, v in os.environ.items() if k not in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE")}
    env.update(HF_ENDPOINT=server.url, HF_TOKEN=TOKEN)
    for repo_id in ("kb-examples/relu", "shady/relu"):
        up = subprocess.run([str(BIN / "kb"), "upload", str(RELU), "--repo-id", repo_id, "--allow-nonportable", "-q"],
                            env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, up.stderr
    yield server, env
    server.stop()


def run_app(env, tmp_path, *args, **extra):
    full = {**env, "KERNELS_CACHE": str(tmp_path / "cache"), **extra}
    return subprocess.run([str(APP), *args], env=full, capture_output=True, text=True, timeout=300)


def test_the_cpp_app_loads_relu_from_the_hub_by_version(hub, tmp_path):
    server, env = hub
    out = run_app(env, tmp_path, "--hub", "kb-examples/relu", "--version", "1")
    assert out.returncode == 0, out.stderr
    assert "from: kb-examples/relu at " in out.stdout
    assert "relu matches torch::relu" in out.stdout
    assert list((tmp_path / "cache").glob("kernels--kb-examples--relu/snapshots/*/build/*/metadata.json"))
    # Warm and offline: the cache is enough.
    again = run_app(env, tmp_path, "--hub", "kb-examples/relu", "--version", "1", HF_HUB_OFFLINE="1",
                    HF_ENDPOINT="http://127.0.0.1:9")
    assert again.returncode == 0, again.stderr
    assert "relu matches torch::relu" in again.stdout


def test_the_cpp_app_refuses_an_untrusted_publisher_unless_told_to_trust_it(hub, tmp_path):
    server, env = hub
    out = run_app(env, tmp_path, "--hub", "shady/relu", "--version", "1")
    assert out.returncode == 1
    assert "error: Kernel repository 'shady/relu' is not from a trusted publisher." in out.stderr
    trusted = run_app(env, tmp_path, "--hub", "shady/relu", "--version", "1", "--trust-remote-code")
    assert trusted.returncode == 0, trusted.stderr


def test_the_cpp_app_names_usage_errors(hub, tmp_path):
    server, env = hub
    out = run_app(env, tmp_path, "--hub", "kb-examples/relu", "--bogus")
    assert out.returncode == 2
    assert "error: unexpected argument: --bogus" in out.stderr
