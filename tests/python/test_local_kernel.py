"""get_local_kernel: path rules, resolution, import mechanism, registry,
python-depends and warnings (spec 3.2, 5.2, 5.3, 5.6, 5.7)."""
import base64
import hashlib
import importlib.util
import json
import shutil
import sys
import warnings
from pathlib import Path

import pytest
import torch

import kernels
import kernels.deps
from conftest import RELU, write_variant

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def registry_entry(path):
    return [k for k in kernels.get_loaded_kernels() if Path(k.module.__file__).parent == path]


def test_repo_root_build_dir_and_variant_dir_load_the_same_module(relu_variant_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the example may be built from a dirty tree
        from_root = kernels.get_local_kernel(RELU)
        from_build = kernels.get_local_kernel(RELU / "build")
        from_variant = kernels.get_local_kernel(relu_variant_dir)
        from_str = kernels.get_local_kernel(str(RELU))
    assert from_root is from_build is from_variant is from_str
    assert Path(from_root.__file__).parent == relu_variant_dir
    assert len(registry_entry(relu_variant_dir)) == 1


def test_relu_values(relu_variant_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relu = kernels.get_local_kernel(RELU)
    x = torch.tensor([[-2.0, -0.0, 0.5], [3.0, float("nan"), -1e-9]])
    assert torch.equal(relu.relu(x).isnan(), torch.relu(x).isnan())
    assert torch.allclose(relu.relu(x).nan_to_num(), torch.relu(x).nan_to_num())
    y = torch.randn(1000, dtype=torch.float64)
    assert torch.equal(relu.relu(y), torch.relu(y))


def test_module_is_named_by_the_build_id(relu_variant_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = kernels.get_local_kernel(relu_variant_dir)
    metadata = kernels.Metadata.read_from_file(relu_variant_dir / "metadata.json")
    assert module.__name__ == metadata.id
    assert sys.modules[metadata.id] is module
    # Relative imports resolve under the unique name.
    assert sys.modules[metadata.id + "._ops"].ops is module._ops.ops


def test_loaded_kernels_lists_metadata_and_is_a_copy(relu_variant_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = kernels.get_local_kernel(relu_variant_dir)
    loaded = kernels.get_loaded_kernels()
    (entry,) = [k for k in loaded if k.module is module]
    assert isinstance(entry, kernels.LoadedKernel)
    assert entry.metadata.id == module.__name__ and str(entry.metadata.name) == "relu"
    assert entry.repo_info is None
    count = len(loaded)
    loaded.clear()
    assert len(kernels.get_loaded_kernels()) == count


def test_backend_override(relu_variant_dir):
    with pytest.raises(ValueError) as info:
        kernels.get_local_kernel(RELU, backend="xpu")
    assert str(info.value) == "Invalid backend 'xpu', system supported backends: cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert kernels.get_local_kernel(RELU, backend="cpu").__name__.startswith("_relu_cpu_")


def test_no_compatible_variant_lists_every_rejection(tmp_path, cpu_linux_torch):
    for name in ["torch299-cxx11-cu130-x86_64-linux", "torch-cuda", "torch29-cxx11-cpu-aarch64-linux"]:
        write_variant(tmp_path / "build" / name)
    torch_version = ".".join(torch.__version__.split(".")[:2])
    with pytest.raises(FileNotFoundError) as info:
        kernels.get_local_kernel(tmp_path)
    message = str(info.value)
    assert message.startswith(f"Cannot find a build variant for this system in {tmp_path}")
    if torch_version != "2.99":
        assert (
            "torch299-cxx11-cu130-x86_64-linux: Torch version (2.99) does not match environment Torch version "
            f"({torch_version})" in message
        )
    assert "torch-cuda: backend (cuda) does not match system backend (cpu) and is not universal" in message
    assert "torch29-cxx11-cpu-aarch64-linux: CPU (aarch64) does not match system CPU (x86_64)" in message


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^Could not find kernel in {tmp_path / 'nope'}"):
        kernels.get_local_kernel(tmp_path / "nope")


def test_resolved_variant_is_imported(tmp_path, cpu_linux_torch):
    write_variant(tmp_path / "build" / cpu_linux_torch, body="VALUE = 'arch'\n")
    write_variant(tmp_path / "build" / "torch-cpu", body="VALUE = 'noarch'\n")
    write_variant(tmp_path / "build" / "torch-universal", body="VALUE = 'universal'\n")
    assert kernels.get_local_kernel(tmp_path).VALUE == "arch"
    assert kernels.get_local_kernel(tmp_path / "build" / "torch-universal").VALUE == "universal"


def test_kernels_minver_newer_than_this_api_is_refused_naming_both(tmp_path):
    variant = write_variant(tmp_path / "torch-cpu", name="needs-new")
    metadata = json.loads((variant / "metadata.json").read_text())
    for minver, loads in (("0.14.0", True), (kernels._core.__version__.split("+")[0], True), ("99.0.0", False)):
        metadata["kernels-minver"] = minver
        (variant / "metadata.json").write_text(json.dumps(metadata))
        if loads:
            assert kernels.get_local_kernel(variant).VALUE == 42
            continue
        with pytest.raises(RuntimeError) as info:
            kernels.get_local_kernel(variant)
        api = kernels._core.__version__.split("+")[0]
        assert str(info.value) == (
            f"Kernel 'needs-new' variant 'torch-cpu' requires kernels>=99.0.0, but version "
            f"{kernels._core.__version__} is installed. Upgrade kb: its kernels API is {api}")
    # Not three parts: the metadata is invalid, named by key.
    metadata["kernels-minver"] = "0.19"
    (variant / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(Exception) as info:
        kernels.get_local_kernel(variant)
    assert "`kernels-minver`: expected a version with three parts (X.Y.Z), got \"0.19\"" in str(info.value)


def test_compat_layout(tmp_path):
    variant = write_variant(tmp_path / "v", name="my-kernel", layout="compat", body="VALUE = 'compat'\n")
    module = kernels.get_local_kernel(variant)
    assert module.VALUE == "compat"
    assert Path(module.__file__) == variant / "my_kernel" / "__init__.py"


def test_variant_without_module(tmp_path):
    variant = write_variant(tmp_path / "v")
    (variant / "__init__.py").unlink()
    with pytest.raises(FileNotFoundError) as info:
        kernels.get_local_kernel(variant)
    assert str(info.value) == f"No kernel module found at: `{variant}`"


def test_a_build_id_is_imported_once_and_a_different_build_with_it_is_refused(tmp_path):
    # Ids are unique per build: a second directory with the id of a loaded
    # build is that build (without digests there is nothing to compare).
    first = write_variant(tmp_path / "a", kernel_id="_same_id_test", body="VALUE = 1\n")
    second = write_variant(tmp_path / "b", kernel_id="_same_id_test", body="VALUE = 2\n")
    one = kernels.get_local_kernel(first)
    assert kernels.get_local_kernel(second) is one and one.VALUE == 1
    assert sys.modules["_same_id_test"] is one
    assert len([k for k in kernels.get_loaded_kernels() if k.module is one]) == 2  # both directories recorded
    # A build that records a digest is not the loaded one, which records none.
    third = write_variant(tmp_path / "c", kernel_id="_same_id_test", body="VALUE = 3\n")
    data = json.loads((third / "metadata.json").read_text())
    data["digest"] = {"algorithm": "sha256", "files": {
        path.name: base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
        for path in third.iterdir() if path.name != "metadata.json"}}
    (third / "metadata.json").write_text(json.dumps(data))
    with pytest.raises(RuntimeError, match=r"has the same id '_same_id_test' as a kernel that is already loaded, "
                                           r"but it is a different build: this build has a digest, but the loaded "
                                           r"build does not"):
        kernels.get_local_kernel(third)


def copy_relu_variant(relu_variant_dir, tmp_path, **changes):
    """A copy of the example variant with edited metadata (never imported:
    dependency checks fail before the import)."""
    copy = tmp_path / relu_variant_dir.name
    shutil.copytree(relu_variant_dir, copy)
    data = json.loads((copy / "metadata.json").read_text())
    data.update(changes)
    (copy / "metadata.json").write_text(json.dumps(data))
    return copy


@pytest.mark.parametrize("dependency", ["left-pad", "torch", "nvidia-cutlass-dsl"])
def test_unsupported_python_dependency(relu_variant_dir, tmp_path, dependency):
    # nvidia-cutlass-dsl exists for cuda only; the detected backend is cpu.
    copy = copy_relu_variant(relu_variant_dir, tmp_path, **{"python-depends": [dependency]})
    with pytest.raises(ValueError) as info:
        kernels.get_local_kernel(copy)
    assert str(info.value) == f"Kernel module `relu` uses unsupported kernel dependency: {dependency}"


def test_missing_python_dependency(relu_variant_dir, tmp_path):
    if importlib.util.find_spec("einops") is not None:
        pytest.skip("einops is installed")
    copy = copy_relu_variant(relu_variant_dir, tmp_path, **{"python-depends": ["einops"]})
    for path in [copy, tmp_path]:  # explicit variant directory, and resolved from build/-less parent
        with pytest.raises(ImportError) as info:
            kernels.get_local_kernel(path)
        assert type(info.value) is ImportError
        assert str(info.value) == (
            "Kernel module `relu` requires Python dependency `einops`. Please install with: pip install einops"
        )
    assert not registry_entry(copy)


def test_importability_is_asked_of_python(tmp_path, monkeypatch):
    monkeypatch.setattr(kernels.deps, "_importable", lambda name: name == "einops")
    variant = write_variant(tmp_path / "v", python_depends=["einops"])
    assert kernels.get_local_kernel(variant).VALUE == 42


def provenance(kernel_dirty, builder_dirty):
    return {
        "kernel-builder": {"version": "kb 0.1.0", "commit": COMMIT, "dirty": builder_dirty},
        "kernel": {"commit": COMMIT, "dirty": kernel_dirty},
    }


@pytest.mark.parametrize(
    "kernel_dirty,builder_dirty,sources",
    [(True, True, "kernel source, kernel-builder"), (True, False, "kernel source"), (False, True, "kernel-builder")],
)
def test_dirty_provenance_warns_on_import_only(tmp_path, kernel_dirty, builder_dirty, sources):
    variant = write_variant(
        tmp_path / "torch-cpu", name="dirty-kernel", provenance=provenance(kernel_dirty, builder_dirty)
    )
    with pytest.warns(UserWarning) as record:
        kernels.get_local_kernel(variant)
    assert [str(w.message) for w in record] == [
        f"Kernel 'dirty-kernel' variant 'torch-cpu' was built from a dirty git tree ({sources} had uncommitted "
        "changes). Its recorded git revision does not fully identify the sources it was built from, so the build "
        "may not be reproducible."
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernels.get_local_kernel(variant)  # cached: no second warning


def test_clean_provenance_does_not_warn(tmp_path):
    clean = write_variant(tmp_path / "clean", provenance=provenance(False, False))
    bare = write_variant(tmp_path / "bare")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernels.get_local_kernel(clean)
        kernels.get_local_kernel(bare)
