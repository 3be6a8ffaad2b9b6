"""The zip build layout: examples/relu built by `kb build` with
`[general] build-layout = "zip"` (once per session), then loaded from the
archive by this repository's kernels package (get_local_kernel, and
get_kernel through a local hub), and by PyPI kernels 0.19.1 (its test
environment ~/.cache/kb/kernels-0.19-venv or KB_KERNELS_019_PYTHON, with
torch 2.14; skipped when it is absent). Also hostile and broken archives.

Loads of the built kernel run in fresh interpreters: its op namespace can
be registered only once per process."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest

import kernels
from conftest import REPO, RELU, torch_variant

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
KERNELS_019_PYTHON = Path(
    os.environ.get("KB_KERNELS_019_PYTHON", Path.home() / ".cache" / "kb" / "kernels-0.19-venv" / "bin" / "python")
)
# The torch 2.14 interpreter the kernels 0.19.1 environment takes torch from.
TORCH2_PYTHON = Path(os.environ.get("KB_TORCH2_PYTHON", Path.home() / ".cache" / "kb" / "cuda-torch-venv" / "bin" / "python"))
UNIQUE_ID = "kbzip01"


def python_torch_variant(python) -> str:
    out = subprocess.run(
        [str(python), "-c", "import torch; v = torch.__version__.split('.');"
         " print(f'torch{v[0]}{v[1]}' + ('-cxx11' if torch.compiled_with_cxx11_abi() else '-cxx98'))"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip() + "-cpu-x86_64-linux"


def kernels_019_available() -> bool:
    return KERNELS_019_PYTHON.is_file() and TORCH2_PYTHON.is_file()


@pytest.fixture(scope="session")
def zip_relu(tmp_path_factory, cpu_linux_torch):
    """examples/relu with build-layout = "zip", built once: for this
    interpreter's torch and, when the kernels 0.19.1 environment exists, for
    its torch 2.14 too. (kernel dir, {python: variant})."""
    kernel = tmp_path_factory.mktemp("zip-build") / "relu"
    shutil.copytree(RELU, kernel, ignore=shutil.ignore_patterns("build", "__pycache__"))
    # build-layout is an edition 6 key: upgrade the example first.
    upgraded = subprocess.run([str(KB), "update-build", str(kernel)], capture_output=True, text=True)
    assert upgraded.returncode == 0, upgraded.stderr
    toml = (kernel / "build.toml").read_text()
    assert "edition = 6" in toml
    (kernel / "build.toml").write_text(toml.replace("[general]\n", '[general]\nbuild-layout = "zip"\n', 1))
    variants = {sys.executable: cpu_linux_torch}
    if kernels_019_available():
        variants[str(TORCH2_PYTHON)] = python_torch_variant(TORCH2_PYTHON)
    command = [str(KB), "build", str(kernel), "--unique-id", UNIQUE_ID]
    for python, variant in variants.items():
        command += ["--python", python, "--variant", variant]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"kb build failed:\n{result.stdout}\n{result.stderr}"
    return kernel, variants


def run_python(code: str, python=sys.executable, **env) -> list:
    full = {**os.environ, **env}
    full.pop("LOCAL_KERNELS", None)
    out = subprocess.run([str(python), "-c", textwrap.dedent(code)], env=full, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.splitlines()


def test_kb_build_writes_the_package_into_a_reproducible_archive(zip_relu, cpu_linux_torch):
    kernel, _ = zip_relu
    variant = kernel / "build" / cpu_linux_torch
    metadata = json.loads((variant / "metadata.json").read_text())
    kernel_id = metadata["id"]
    assert re.fullmatch(r"_relu_cpu_\w+", kernel_id)
    # The key order of the current builder: build-layout right after version.
    assert list(metadata)[:5] == ["name", "id", "version", "build-layout", "kernels-minver"]
    assert metadata["build-layout"] == "zip" and metadata["kernels-minver"] == "0.19.0"
    assert sorted(p.name for p in variant.iterdir()) == sorted(
        [f"{kernel_id}.abi3.so", f"{kernel_id}.zip", "metadata.json"])
    assert sorted(metadata["digest"]["files"]) == [f"{kernel_id}.abi3.so", f"{kernel_id}.zip"]

    archive = variant / f"{kernel_id}.zip"
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None
        names = z.namelist()
        assert names == sorted(names) and "__init__.py" in names and "_ops.py" in names
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist())
    check = subprocess.run(["unzip", "-t", str(archive)], capture_output=True, text=True)
    assert check.returncode == 0 and "No errors detected" in check.stdout

    # Finalizing again (as a rebuild does) gives the same bytes and digest.
    before = archive.read_bytes()
    again = subprocess.run([str(KB), "hash", str(kernel)], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert archive.read_bytes() == before
    assert json.loads((variant / "metadata.json").read_text())["digest"] == metadata["digest"]


LOCAL = """
import importlib.resources, inspect, sys, warnings
warnings.simplefilter("ignore")
import torch, kernels
relu = kernels.get_local_kernel(__import__("pathlib").Path({kernel!r}))
x = torch.linspace(-2, 2, 9)
assert torch.equal(relu.relu(x), torch.relu(x))
(entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
assert entry.metadata.build_layout == kernels._core.BuildLayout.ZIP
assert relu.__name__ == entry.metadata.id and sys.modules[relu.__name__] is relu
assert relu.__file__.endswith(entry.metadata.id + ".zip/__init__.py"), relu.__file__
# Relative imports resolved inside the archive and the shared object on disk.
assert relu._ops.__file__.endswith(".zip/_ops.py"), relu._ops.__file__
so = sys.modules[relu.__name__ + "." + entry.metadata.id]
assert so.__file__.endswith(entry.metadata.id + ".abi3.so") and ".zip" not in so.__file__
# Resources of the package are read from the archive.
assert "def " in (importlib.resources.files(relu.__name__) / "__init__.py").read_text()
print("ok")
"""


def test_get_local_kernel_imports_from_the_archive_and_relu_works(zip_relu):
    kernel, _ = zip_relu
    assert run_python(LOCAL.format(kernel=str(kernel))) == ["ok"]


def test_get_kernel_through_a_local_hub_loads_the_zip_variant(zip_relu, tmp_path, cpu_linux_torch):
    kernel, _ = zip_relu
    hub = f"local:{tmp_path / 'hub'}"
    up = subprocess.run([str(KB), "upload", str(kernel), "--allow-nonportable", "-q", "--repo-id", "kb-zip/relu"],
                        env={**os.environ, "KB_HUB": hub}, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    lines = run_python("""
        import warnings
        warnings.simplefilter("ignore")
        import torch, kernels
        relu = kernels.get_kernel("kb-zip/relu", version=1, trust_remote_code=True)
        x = torch.linspace(-2, 2, 9)
        assert torch.equal(relu.relu(x), torch.relu(x))
        print(relu.__file__)
    """, KB_HUB=hub, KERNELS_CACHE=str(tmp_path / "cache"))
    archive = Path(lines[-1]).parent
    assert archive.suffix == ".zip" and archive.parent.name == cpu_linux_torch
    assert tmp_path / "cache" in archive.parents


def test_pypi_kernels_019_loads_kbs_zip_build(zip_relu):
    if not kernels_019_available():
        pytest.skip(f"no PyPI kernels 0.19 environment at {KERNELS_019_PYTHON} (with torch from {TORCH2_PYTHON})")
    kernel, variants = zip_relu
    out = run_python(f"""
        import json, warnings
        warnings.simplefilter("ignore")
        from pathlib import Path
        import torch, kernels
        assert kernels.__version__ == "0.19.1", kernels.__version__
        relu = kernels.get_local_kernel(Path({str(kernel)!r}), backend="cpu")
        x = torch.linspace(-2, 2, 9)
        assert torch.equal(relu.relu(x), torch.relu(x))
        (loaded,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
        print(json.dumps([relu.__file__, str(loaded.metadata.build_layout)]))
    """, python=KERNELS_019_PYTHON, PYTHONPATH="", **{"KERNELS_CACHE": str(kernel / "no-cache")})
    file, layout = json.loads(out[-1])
    assert file.endswith(".zip/__init__.py") and variants[str(TORCH2_PYTHON)] in file
    assert "ZIP" in layout.upper()


# -- hostile and broken archives (no build needed) ------------------------------------
def zip_variant(root: Path, entries: dict, *, name="fake", symlinks=()) -> Path:
    """A pure-Python zip-layout variant under root/build/<variant>."""
    variant = root / "build" / torch_variant()
    variant.mkdir(parents=True)
    kernel_id = f"_{name}_cpu_{uuid.uuid4().hex[:8]}"
    (variant / "metadata.json").write_text(json.dumps({
        "name": name, "id": kernel_id, "version": 1, "build-layout": "zip", "kernels-minver": "0.19.0",
        "license": "MIT", "python-depends": [], "backend": {"type": "cpu"}}))
    with zipfile.ZipFile(variant / f"{kernel_id}.zip", "w") as z:
        for entry, text in entries.items():
            z.writestr(entry, text)
        for entry, target in symlinks:
            info = zipfile.ZipInfo(entry)
            info.create_system = 3
            info.external_attr = 0o120777 << 16
            z.writestr(info, target)
    return variant


def loaded_names():
    return {k.metadata.id for k in kernels.get_loaded_kernels()}


@pytest.mark.parametrize("entries,symlinks,problem", [
    ({"__init__.py": "X = 1\n", "../evil.py": "boom"}, (), "entry `../evil.py`: path escapes the archive (`..`)"),
    ({"__init__.py": "X = 1\n", "a/../../evil.py": ""}, (), "entry `a/../../evil.py`: path escapes the archive"),
    ({"__init__.py": "X = 1\n"}, [("_ops.py", "/etc/passwd")], "entry `_ops.py`: symbolic links are not allowed"),
    ({"_ops.py": "X = 1\n"}, (), "no top-level __init__.py"),
])
def test_hostile_archives_are_refused_naming_the_entry(tmp_path, entries, symlinks, problem, cpu_linux_torch):
    variant = zip_variant(tmp_path, entries, symlinks=symlinks)
    before_modules = set(sys.modules)
    before_files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError) as info:
        kernels.get_local_kernel(tmp_path)
    message = str(info.value)
    assert "Invalid kernel archive `" in message and str(variant) in message and problem in message, message
    assert set(sys.modules) == before_modules
    # Nothing was extracted or written next to the kernel.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before_files


def test_a_corrupt_or_missing_archive_is_refused(tmp_path, cpu_linux_torch):
    variant = zip_variant(tmp_path, {"__init__.py": "X = 1\n"})
    (archive,) = variant.glob("*.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"Invalid kernel archive `.*\.zip`: not a ZIP archive"):
        kernels.get_local_kernel(tmp_path)
    archive.unlink()
    with pytest.raises(FileNotFoundError, match=r"No kernel archive found at: `.*\.zip`"):
        kernels.get_local_kernel(tmp_path)


def test_an_unknown_layout_names_the_file_and_value(tmp_path, cpu_linux_torch):
    variant = zip_variant(tmp_path, {"__init__.py": "X = 1\n"})
    metadata = json.loads((variant / "metadata.json").read_text())
    metadata["build-layout"] = "squashfs"
    (variant / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(Exception) as info:
        kernels.get_local_kernel(tmp_path)
    assert str(variant / "metadata.json") in str(info.value)
    assert 'unknown build layout "squashfs"' in str(info.value)


def test_a_pure_python_zip_variant_imports_with_relative_imports_and_resources(tmp_path, cpu_linux_torch):
    import importlib.resources
    import pkgutil

    zip_variant(tmp_path, {
        "__init__.py": "import inspect\nfrom ._ops import OPS\nfrom .layers import LAYER\n\n\n"
                       "def answer():\n    return 42\n\n\nSOURCE = inspect.getsource(answer)\n",
        "_ops.py": "OPS = 'ops'\n",
        "layers/__init__.py": "LAYER = 'layer'\n",
        "configs/device.json": '{"block_size": 1024}',
    }, name="zipped")
    module = kernels.get_local_kernel(tmp_path)
    assert (module.OPS, module.LAYER) == ("ops", "layer")
    assert module.SOURCE == "def answer():\n    return 42\n"
    configs = importlib.resources.files(module.__name__) / "configs"
    assert [p.name for p in configs.iterdir()] == ["device.json"]
    assert json.loads((configs / "device.json").read_text()) == {"block_size": 1024}
    assert pkgutil.get_data(module.__name__, "configs/device.json") == b'{"block_size": 1024}'


def test_a_failed_import_leaves_nothing_in_sys_modules(tmp_path, cpu_linux_torch):
    variant = zip_variant(tmp_path, {"__init__.py": "from . import helper\nraise RuntimeError('kernel broke')\n",
                                     "helper.py": "H = 1\n"}, name="broken")
    kernel_id = json.loads((variant / "metadata.json").read_text())["id"]
    with pytest.raises(RuntimeError, match="kernel broke"):
        kernels.get_local_kernel(tmp_path)
    assert not [n for n in sys.modules if n == kernel_id or n.startswith(kernel_id + ".")]
    assert kernel_id not in loaded_names()
