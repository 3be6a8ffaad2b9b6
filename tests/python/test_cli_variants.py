"""`kernels variants REPO`: each build variant on the hub decided for this
environment, as text and as JSON, against the loopback hub fixture with
version branches holding legacy, dotted, abi3t, SDK and noarch names."""
import json
import os
import sys

import pytest

from hub_server.process import HubProcess
from kernels.cli import main

TOKEN = "hf_kb_variants"
REPO_ID = "kb-examples/variants"


def _names(torch_variant: str) -> dict:
    """The variant names of the fixture repository, for the running torch
    (CPU, x86_64 Linux): torch113-cxx11-cpu-x86_64-linux and its dotted
    twins."""
    legacy = torch_variant
    framework, tag = legacy.split("-")[:2]
    version = f"{framework[5]}.{framework[6:]}"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return {
        "legacy": legacy,
        "dotted": f"torch-{version}-{tag}-cpu-cpython-3.9-abi3-x86_64-linux",
        "abi3t": f"torch-{version}-{tag}-cpu-cpython-3.15-abi3t-x86_64-linux",
        "python": python,
    }


@pytest.fixture(scope="module")
def hub(tmp_path_factory, cpu_linux_torch):
    names = _names(cpu_linux_torch)
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-examples"], max_lifetime=600)
    meta = b'{"version": 1}\n'
    server.commit(REPO_ID, "v1", {f"build/{n}/metadata.json": meta for n in [names["legacy"], "torch-cpu"]})
    server.commit(
        REPO_ID,
        "v2",
        {
            f"build/{n}/metadata.json": meta
            for n in [
                names["legacy"],
                names["dotted"],
                names["abi3t"],
                "torch-cpu",
                "torch210-metal-aarch64-darwin",
                "sdk-cuda",
            ]
        },
    )
    server.commit(REPO_ID, "main", {"build/torch-universal/metadata.json": meta})
    server.commit("kb-examples/unversioned", "main", {"build/torch-cpu/metadata.json": meta})
    yield server, names
    server.stop()


@pytest.fixture
def cli(hub, monkeypatch, tmp_path, capsys):
    server, _ = hub
    monkeypatch.delenv("KB_HUB", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))

    def run(*args):
        code = main(["variants", *args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def v2_text(names, only_compatible=False):
    accepted = [
        f"{names['dotted']} compatible, preferred ✅",
        f"{names['legacy']} compatible, preferred ✅",  # the same build as the dotted name
        "torch-cpu compatible ✅",
    ]
    rejected = [
        "torch210-metal-aarch64-darwin: CPU (aarch64) does not match system CPU (x86_64)",
        f"{names['abi3t']}: Python 3.15 or later is required, system Python version is {names['python']}",
        "sdk-cuda: backend (cuda) does not match system backend (cpu)",
    ]
    return "Version 2:\n\n" + "\n".join(accepted + ([] if only_compatible else rejected)) + "\n"


def test_latest_version_by_default(cli, hub):
    _, names = hub
    if sys.version_info >= (3, 15):
        pytest.skip("expected traces are written for a Python before 3.15")
    for selection in [[], ["--version", "latest"], ["--version", "2"]]:
        code, out, err = cli(REPO_ID, *selection)
        assert code == 0, err
        assert out == v2_text(names)
        assert err == ""


def test_all_versions_in_order_and_only_compatible(cli, hub):
    _, names = hub
    if sys.version_info >= (3, 15):
        pytest.skip("expected traces are written for a Python before 3.15")
    code, out, _ = cli(REPO_ID, "--all-versions")
    assert code == 0
    v1 = f"Version 1:\n\n{names['legacy']} compatible, preferred ✅\ntorch-cpu compatible ✅\n"
    assert out == v1 + v2_text(names)
    code, out, _ = cli(REPO_ID, "--all-versions", "--only-compatible")
    assert out == v1 + v2_text(names, only_compatible=True)


def test_a_revision_is_labelled_by_name(cli):
    code, out, _ = cli(REPO_ID, "--revision", "main")
    assert code == 0
    assert out == "Revision main:\n\ntorch-universal compatible, preferred ✅\n"


def test_nothing_found_and_nothing_compatible(cli, hub):
    server, _ = hub
    server.commit("kb-examples/empty", "v1", {"README.md": b"no builds\n"})
    server.commit("kb-examples/metal-only", "v1", {"build/torch-metal/metadata.json": b"{}\n"})
    assert cli("kb-examples/empty")[:2] == (0, "Version 1:\n\nNo build variants found.\n")
    assert cli("kb-examples/metal-only", "--only-compatible")[:2] == (0, "Version 1:\n\nNo compatible variants found.\n")


def test_json_output(cli, hub):
    _, names = hub
    if sys.version_info >= (3, 15):
        pytest.skip("expected traces are written for a Python before 3.15")
    code, out, err = cli(REPO_ID, "--json", "--all-versions")
    assert code == 0, err
    assert err == ""
    document = json.loads(out)
    assert out == json.dumps(document, indent=2) + "\n"

    def entry(name, reason=None, preferred=False):
        return {"variant": name, "compatible": reason is None, "preferred": preferred, "reason": reason}

    v2 = [
        entry(names["dotted"], preferred=True),
        entry(names["legacy"], preferred=True),
        entry("torch-cpu"),
        entry("torch210-metal-aarch64-darwin", "CPU (aarch64) does not match system CPU (x86_64)"),
        entry(names["abi3t"], f"Python 3.15 or later is required, system Python version is {names['python']}"),
        entry("sdk-cuda", "backend (cuda) does not match system backend (cpu)"),
    ]
    assert document == {
        "repo_id": REPO_ID,
        "revisions": [
            {"version": 1, "revision": "refs/heads/v1",
             "variants": [entry(names["legacy"], preferred=True), entry("torch-cpu")]},
            {"version": 2, "revision": "refs/heads/v2", "variants": v2},
        ],
    }
    code, out, _ = cli(REPO_ID, "--json", "--revision", "main", "--only-compatible")
    assert json.loads(out) == {
        "repo_id": REPO_ID,
        "revisions": [{"version": None, "revision": "main", "variants": [entry("torch-universal", preferred=True)]}],
    }


def test_missing_versions_are_errors(cli):
    for extra in [[], ["--json"]]:
        code, out, err = cli(REPO_ID, "--version", "3", *extra)
        assert (code, out) == (1, "")
        assert err == "Version 3 not found, available versions: 1, 2\n"
        code, out, err = cli("kb-examples/unversioned", *extra)
        assert (code, out) == (1, "")
        assert err == "Repository does not support kernel versions: kb-examples/unversioned\n"


@pytest.mark.parametrize(
    "selection",
    [
        ["--version", "2", "--revision", "main"],
        ["--all-versions", "--version", "2"],
        ["--all-versions", "--revision", "main"],
        ["--version", "invalid"],
    ],
)
def test_conflicting_or_invalid_selections_are_usage_errors(cli, selection, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(REPO_ID, *selection)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_runs_as_a_command(hub, tmp_path):
    import subprocess

    server, _ = hub
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": TOKEN, "KERNELS_CACHE": str(tmp_path)}
    env.pop("KB_HUB", None)
    out = subprocess.run([sys.executable, "-m", "kernels", "variants", REPO_ID, "--revision", "main"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Revision main:\n\ntorch-universal compatible, preferred ✅\n"
