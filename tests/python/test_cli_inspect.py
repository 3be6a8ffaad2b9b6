"""`kernels cache ls`, `kernels info` and `kernels describe-api`, and the
symbols.json `kb build` writes for them: over kb builds of examples/relu (and
a pure-Python kernel with layers), a loopback Hugging Face Hub and a fresh
cache per test. describe-api and info never import the kernel."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, write_variant
from hub_server.process import HubProcess
from kernels import _core
from kernels.cli import main

BIN = Path(os.environ.get("KB_BIN", REPO / "build" / "bin"))
TOKEN = "hf_kb_test"
UPSTREAM_KERNELS = Path(os.environ.get("KB_KERNELS_019_VENV", Path.home() / ".cache/kb/kernels-0.19-venv")) / "bin/kernels"


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def relu(kernel_builds, cpu_linux_torch):
    """A kb build of examples/relu and its variant directory for this torch."""
    return kernel_builds["relu_a"], kernel_builds["relu_a"] / "build" / cpu_linux_torch


# --- symbols.json ------------------------------------------------------------------------------------------------


def test_kb_build_writes_symbols_json_whose_functions_are_the_kernels_ops(relu):
    kernel_dir, variant_dir = relu
    symbols = json.loads((variant_dir / "symbols.json").read_text())
    metadata = json.loads((variant_dir / "metadata.json").read_text())
    assert symbols["schema_version"] == 1
    assert symbols["module"] == metadata["id"]
    assert [f["name"] for f in symbols["functions"]] == ["relu"]
    assert symbols["layers"] == []
    relu_symbol = symbols["functions"][0]
    assert relu_symbol["kind"] == "function"
    assert relu_symbol["doc"].startswith("Returns max(x, 0) element-wise")
    assert [(p["name"], p["default"]) for p in relu_symbol["signature"]["parameters"]] == [("x", None), ("out", "None")]
    assert relu_symbol["signature"]["return_annotation"] == "torch.Tensor"
    # Each function is the kernel's public API and calls the op of the same
    # name registered in the build's own namespace.
    ops_source = (variant_dir / "_ops.py").read_text()
    assert f"torch.ops.{metadata['id']}" in ops_source
    import torch  # noqa: F401  (loads the registry the op lives in)

    torch.ops.load_library(str(next(variant_dir.glob("*.so"))))
    namespace = getattr(torch.ops, metadata["id"])
    for function in symbols["functions"]:
        assert hasattr(namespace, function["name"])
    # The file is part of the variant: metadata.json's digest covers it.
    assert "symbols.json" in metadata["digest"]["files"]


def test_kb_symbols_records_layers_and_their_attributes(tmp_path):
    variant = write_variant(tmp_path / "build" / "torch-cpu", name="norms", body=(
        "import torch\n"
        "def scale(x: torch.Tensor, factor: float = 2.0) -> torch.Tensor:\n"
        "    '''Scales x.'''\n"
        "    return x * factor\n"
        "def _private():\n"
        "    pass\n"
    ))
    (variant / "layers.py").write_text(
        "import torch\n"
        "from torch import nn\n"
        "class Norm(nn.Module):\n"
        "    has_backward = False\n"
        "    can_torch_compile = True\n"
        "    def forward(self, x):\n"
        "        return x\n"
        "class Plain(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x\n"
        "class NotALayer:\n"
        "    pass\n"
    )
    result = subprocess.run([str(BIN / "kb-symbols"), str(tmp_path), "--python", sys.executable],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "torch-cpu: 1 function(s), 2 layer(s)" in result.stderr
    symbols = json.loads((variant / "symbols.json").read_text())
    assert [f["name"] for f in symbols["functions"]] == ["scale"]
    assert symbols["functions"][0]["signature"]["parameters"][1] == {
        "name": "factor", "kind": "POSITIONAL_OR_KEYWORD", "default": "2.0", "annotation": "float"}
    assert {layer["name"]: layer["attributes"] for layer in symbols["layers"]} == {
        "Norm": {"has_backward": False, "can_torch_compile": True},
        "Plain": {"has_backward": None, "can_torch_compile": None},
    }
    assert not list(variant.rglob("__pycache__"))  # importing left no bytecode in the variant


def test_a_variant_that_cannot_be_imported_gets_a_warning_not_a_failure(tmp_path):
    variant = write_variant(tmp_path / "build" / "torch-cpu", name="broken", body="import no_such_module_here\n")
    (variant / "symbols.json").write_text("{}")  # stale: must not survive
    stream = json.dumps({"event": "variant-built", "tool": "t", "variant": "torch-cpu", "dir": str(variant),
                         "python": sys.executable})
    result = subprocess.run([str(BIN / "kb-symbols")], input=stream + "\n", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["warning", "variant-built", "finished"]
    assert "no symbols.json for torch-cpu: cannot import it with" in events[0]["message"]
    assert "No module named 'no_such_module_here'" in events[0]["message"]
    assert events[2]["success"] is True
    assert not (variant / "symbols.json").exists()


# --- describe-api --------------------------------------------------------------------------------------------------


def test_describe_api_of_a_local_kernel(relu, capsys):
    kernel_dir, variant_dir = relu
    code, out, err = run_cli(capsys, "describe-api", str(kernel_dir))
    assert (code, err) == (0, "")
    assert out == (f"Path: {kernel_dir}\nVariant: {variant_dir.name}\n\n"
                   "Functions:\n  relu\n\nLayers:\n  (none)\n")
    code, out, _ = run_cli(capsys, "describe-api", str(variant_dir), "--json")
    symbols = json.loads((variant_dir / "symbols.json").read_text())
    assert json.loads(out) == {**symbols, "path": str(variant_dir), "variant": variant_dir.name}


def test_describe_api_prints_layer_flags_and_unknowns(tmp_path, capsys):
    variant = write_variant(tmp_path / "torch-cpu", name="layered")
    (variant / "symbols.json").write_text(json.dumps({"schema_version": 1, "functions": [], "layers": [
        {"name": "Fast", "attributes": {"has_backward": True, "can_torch_compile": False}},
        {"name": "Vague", "attributes": {"has_backward": None}}]}))
    code, out, _ = run_cli(capsys, "describe-api", str(variant))
    assert code == 0
    assert out.endswith("Functions:\n  (none)\n\nLayers:\n"
                        "  Fast  has_backward=True  can_torch_compile=False\n"
                        "  Vague  has_backward=unknown  can_torch_compile=unknown\n")


@pytest.mark.parametrize("content, message", [
    ("{invalid", "Invalid symbols.json"),
    ("[]", "Unsupported symbols.json schema"),
    ('{"schema_version": 2}', "Unsupported symbols.json schema"),
    ('{"schema_version": 1, "functions": null, "layers": []}', "functions must be a list of named symbols"),
    ('{"schema_version": 1, "functions": [{}], "layers": []}', "functions must be a list of named symbols"),
    ('{"schema_version": 1, "functions": [], "layers": [{"name": "L", "attributes": []}]}',
     "layer attributes must be booleans or null"),
])
def test_describe_api_rejects_a_bad_symbols_json_naming_it(tmp_path, capsys, content, message):
    variant = write_variant(tmp_path / "torch-cpu", name="bad")
    (variant / "symbols.json").write_text(content)
    code, out, err = run_cli(capsys, "describe-api", str(variant))
    assert (code, out) == (1, "")
    assert err.startswith("Error: ") and message in err
    assert str(variant / "symbols.json") in err


def test_describe_api_errors(tmp_path, capsys, relu):
    variant = write_variant(tmp_path / "build" / "torch-cpu", name="nosymbols")
    code, _, err = run_cli(capsys, "describe-api", str(tmp_path))
    assert code == 1
    assert err.startswith(f"Error: No symbols.json found in {tmp_path} (variant: {variant.name}).")
    code, _, err = run_cli(capsys, "describe-api", str(relu[0]), "--version", "1")
    assert (code, err) == (1, "Error: `revision` and `version` cannot be used with a local path\n")
    code, _, err = run_cli(capsys, "describe-api", str(tmp_path / "missing"))
    assert (code, err) == (1, f"Error: Not a local kernel directory: {tmp_path / 'missing'}\n")
    with pytest.raises(SystemExit) as exit:
        main(["describe-api", "org/name", "--revision", "main", "--version", "1"])
    assert exit.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


# --- info ----------------------------------------------------------------------------------------------------------


def test_info_of_a_local_kernel(relu, capsys):
    kernel_dir, variant_dir = relu
    code, out, err = run_cli(capsys, "info", str(kernel_dir), "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "name": "relu", "version": 1, "kernels_minver": "0.14.0", "license": "Apache-2.0", "upstream": None,
        "source": None, "python_depends": [], "backends": ["cpu"], "variant": variant_dir.name,
        "kernel_depends": [], "path": str(kernel_dir)}
    code, out, _ = run_cli(capsys, "info", str(kernel_dir))
    assert out == (f"Path: {kernel_dir}\nVariant: {variant_dir.name}\nName: relu\nVersion: 1\n"
                   "Minimum kernels version: 0.14.0\nLicense: Apache-2.0\nUpstream: -\nSource: -\n"
                   "Kernel dependencies: -\nPython dependencies: -\nBackends: cpu\n")


def test_info_reports_dependencies_minver_and_every_backend(tmp_path, capsys, local_kernels):
    kernel = tmp_path / "kernel"
    variant = write_variant(kernel / "build" / "torch-cpu", name="deps", python_depends=["einops"])
    write_variant(kernel / "build" / "torch-cuda", name="deps")
    metadata = json.loads((variant / "metadata.json").read_text())
    metadata.update({"kernels-minver": "0.17.0", "upstream": "https://example.com/deps",
                     "kernel-depends": [{"repo-id": "org/b", "version": 1}, {"repo-id": "org/a", "revision": "main"}]})
    (variant / "metadata.json").write_text(json.dumps(metadata))
    # The dependencies (from LOCAL_KERNELS): theirs count too.
    write_variant(tmp_path / "a" / "build" / "torch-cpu", name="dep-a", python_depends=["numpy"])
    write_variant(tmp_path / "b" / "build" / "torch-cpu", name="dep-b")
    local_kernels(f"org/a={tmp_path / 'a'}:org/b={tmp_path / 'b'}")
    code, out, err = run_cli(capsys, "info", str(kernel), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["variant"] == "torch-cpu"
    assert info["kernels_minver"] == "0.17.0"
    assert info["upstream"] == "https://example.com/deps"
    assert info["kernel_depends"] == ["org/a", "org/b"]
    assert info["python_depends"] == ["einops", "numpy"]
    assert info["backends"] == ["cpu", "cuda"]


def test_info_errors(tmp_path, capsys):
    code, _, err = run_cli(capsys, "info", str(tmp_path), "--revision", "main")
    assert (code, err) == (1, "Error: --revision and --version cannot be used with a local path\n")
    code, _, err = run_cli(capsys, "info", str(tmp_path))
    assert code == 1 and err.startswith("Error: ")


# --- over the hub and its cache ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory, kernel_builds):
    server = HubProcess(tmp_path_factory.mktemp("hf-hub"), token=TOKEN, trusted_orgs=["kb-examples"],
                        orgs=["shady"], max_lifetime=900)
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": TOKEN}
    env.pop("KB_HUB", None)
    for repo_id in ["kb-examples/relu", "shady/relu"]:
        up = subprocess.run([str(BIN / "kb"), "upload", str(kernel_builds["relu_a"]), "--repo-id", repo_id,
                             "--allow-nonportable", "-q"], env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
    yield server
    server.stop()


@pytest.fixture
def hf_env(monkeypatch, hub, tmp_path):
    for name in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "300")
    return tmp_path / "cache"


def test_describe_api_and_info_from_the_hub(hf_env, relu, capsys):
    variant = relu[1].name
    symbols = json.loads((relu[1] / "symbols.json").read_text())
    code, out, err = run_cli(capsys, "describe-api", "kb-examples/relu", "--json")
    assert code == 0, err
    assert json.loads(out) == {**symbols, "repo_id": "kb-examples/relu", "revision": "v1", "variant": variant}
    code, out, _ = run_cli(capsys, "describe-api", "kb-examples/relu", "--version", "1")
    assert out.startswith(f"Repository: kb-examples/relu\nRevision: v1\nVariant: {variant}\n\nFunctions:\n  relu\n")

    code, out, err = run_cli(capsys, "info", "kb-examples/relu", "--json")
    assert code == 0, err
    info = json.loads(out)
    assert (info["repo_id"], info["revision"], info["variant"], info["name"]) == ("kb-examples/relu", "v1", variant,
                                                                                  "relu")
    assert info["backends"] == ["cpu"]
    code, out, _ = run_cli(capsys, "info", "kb-examples/relu", "--revision", "v1")
    assert out.startswith(f"Repository: kb-examples/relu\nRevision: v1\nVariant: {variant}\nName: relu\n")


def test_describe_api_refuses_untrusted_publishers_unless_asked(hf_env, capsys):
    code, out, err = run_cli(capsys, "describe-api", "shady/relu", "--version", "1")
    assert (code, out) == (1, "")
    assert err.startswith("Error: Cannot resolve shady/relu (version: 1, revision: v1): ")
    assert "not from a trusted publisher" in err
    code, out, err = run_cli(capsys, "describe-api", "shady/relu", "--version", "1", "--trust-remote-code", "--json")
    assert code == 0, err
    assert json.loads(out)["functions"][0]["name"] == "relu"
    code, _, err = run_cli(capsys, "describe-api", "kb-examples/relu", "--version", "7")
    assert code == 1 and "Cannot resolve kb-examples/relu (version: 7, revision: v7)" in err


def test_cache_ls_lists_what_get_kernel_cached_and_finds_tampering(hf_env, relu, capsys):
    code, out, err = run_cli(capsys, "cache", "ls")
    assert (code, out, err) == (0, f"No cached kernel versions found in {hf_env}.\n", "")
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    assert json.loads(out) == {"cache_dir": str(hf_env), "repos": []}

    import kernels

    commit, _ = _core.resolve_version("kb-examples/relu", 1, False)  # records refs/v1, as get_kernel(version=1)
    kernels.install_kernel("kb-examples/relu", revision=commit)
    code, out, err = run_cli(capsys, "cache", "ls", "--json")
    assert (code, err) == (0, "")
    listing = json.loads(out)
    assert [repo["repo_id"] for repo in listing["repos"]] == ["kb-examples/relu"]
    (version,) = listing["repos"][0]["versions"]
    assert (version["version"], version["variants"]) == ("v1", [relu[1].name])
    assert version["verification"] == {"status": "verified", "mismatched": [], "unrecorded": []}
    assert version["size_on_disk"] == listing["repos"][0]["size_on_disk"] > 0

    code, out, err = run_cli(capsys, "cache", "ls")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SIZE", "LAST_ACCESSED", "LAST_MODIFIED", "VERSION", "VERIFIED", "VARIANTS"]
    assert lines[2].split()[0] == "kernel/kb-examples/relu"
    assert lines[2].split()[-3:] == ["v1", "yes", relu[1].name]
    assert err == ""

    # A cached file changed after it was verified is reported, named.
    snapshot = next((hf_env / "kernels--kb-examples--relu" / "snapshots").iterdir())
    init = snapshot / "build" / relu[1].name / "__init__.py"
    blob = init.resolve()
    blob.write_text(blob.read_text() + "\n# changed\n")
    code, out, err = run_cli(capsys, "cache", "ls", "--json")
    assert json.loads(out)["repos"][0]["versions"][0]["verification"]["mismatched"] == [
        f"build/{relu[1].name}/__init__.py"]
    code, out, err = run_cli(capsys, "cache", "ls")
    assert out.splitlines()[2].split()[-2] == "NO"
    assert f"kernel/kb-examples/relu v1: cached files differ" in err

    # The kb tool prints the same.
    tool = subprocess.run([str(BIN / "kb"), "cache", "ls", "--json"], capture_output=True, text=True)
    assert tool.returncode == 0
    assert tool.stdout == run_cli(capsys, "cache", "ls", "--json")[1]


def test_cache_ls_warns_about_inconsistent_repositories(hf_env, capsys):
    broken = hf_env / "kernels--org--broken"
    (broken / "snapshots" / ("a" * 40)).mkdir(parents=True)
    (broken / "snapshots" / ("a" * 40) / "README.md").symlink_to("../../blobs/" + "b" * 40)
    (broken / "refs").mkdir()
    (broken / "refs" / "v1").write_text("a" * 40)
    code, out, err = run_cli(capsys, "cache", "ls")
    assert code == 0
    assert "No cached kernel versions found" in out
    assert err == "Warning: Found 1 cache inconsistencies. Re-run with `--show-warnings` to display them.\n"
    code, out, err = run_cli(capsys, "cache", "ls", "--show-warnings", "--json")
    assert err.startswith("Warning: Blob missing (broken symlink): ") and err.endswith(". Repo ignored.\n")
    file = hf_env.parent / "file"
    file.write_text("x")
    code, out, err = run_cli(capsys, "cache", "ls", "--cache-dir", str(file))
    assert (code, out) == (1, "")
    assert err.startswith("Cannot scan kernel cache: Scan cache expects a directory but found a file")


@pytest.mark.skipif(not UPSTREAM_KERNELS.exists(), reason="the kernels 0.19 test environment is not installed")
def test_cache_ls_json_matches_the_kernels_package(hf_env, relu, capsys):
    import kernels

    commit, _ = _core.resolve_version("kb-examples/relu", 1, False)  # records refs/v1, as get_kernel(version=1)
    kernels.install_kernel("kb-examples/relu", revision=commit)
    code, out, _ = run_cli(capsys, "cache", "ls", "--json")
    ours = json.loads(out)
    # The kernels package of that environment, not this one (PYTHONPATH).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", KERNELS_CACHE=str(hf_env))
    theirs = subprocess.run([str(UPSTREAM_KERNELS), "cache", "ls", "--json"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    for repo in ours["repos"]:
        for version in repo["versions"]:
            assert version.pop("verification")["status"] == "verified"
    assert ours == json.loads(theirs.stdout)


@pytest.mark.skipif(not UPSTREAM_KERNELS.exists(), reason="the kernels 0.19 test environment is not installed")
def test_the_kernels_package_reads_the_symbols_json_kb_writes(relu, capsys):
    variant_dir = relu[1]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    theirs = subprocess.run([str(UPSTREAM_KERNELS), "describe-api", str(variant_dir), "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert theirs.returncode == 0, theirs.stderr
    code, out, _ = run_cli(capsys, "describe-api", str(variant_dir), "--json")
    assert code == 0
    assert json.loads(theirs.stdout) == json.loads(out)
