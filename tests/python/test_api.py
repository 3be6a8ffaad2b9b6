"""The public names and signatures match the existing kernels package (spec 2)."""
import dataclasses
import inspect
import re
import subprocess
import sys
from types import ModuleType

import pytest

import kernels
from conftest import REPO

P = inspect.Parameter


def params(func):
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]


def test_all_lists_only_what_works():
    assert sorted(kernels.__all__) == sorted(
        [
            "__version__",
            "LoadedKernel",
            "LockedFuncRepository",
            "LockedLayerRepository",
            "Metadata",
            "RepoInfo",
            "VariantAccepted",
            "VariantRejected",
            "get_kernel",
            "get_kernel_variants",
            "get_loaded_kernels",
            "get_local_kernel",
            "get_locked_kernel",
            "has_kernel",
            "install_kernel",
            "load_kernel",
        ]
    )
    for name in kernels.__all__:
        assert hasattr(kernels, name), name
    # Not implemented yet, so not present (no stubs).
    for name in ["kernelize", "LayerRepository", "LocalLayerRepository", "FuncRepository", "LocalFuncRepository"]:
        assert not hasattr(kernels, name), name


def test_version_is_the_kb_version():
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert kernels.__version__ == re.search(r"project\(kb VERSION ([0-9.]+)", cmake).group(1)


def test_get_kernel_signature():
    assert params(kernels.get_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.POSITIONAL_OR_KEYWORD, None),
        ("version", P.POSITIONAL_OR_KEYWORD, None),
        ("backend", P.POSITIONAL_OR_KEYWORD, None),
        ("user_agent", P.POSITIONAL_OR_KEYWORD, None),
        ("trust_remote_code", P.POSITIONAL_OR_KEYWORD, False),
    ]


def test_get_local_kernel_signature():
    assert params(kernels.get_local_kernel) == [
        ("repo_path", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("backend", P.POSITIONAL_OR_KEYWORD, None),
    ]


def test_get_kernel_variants_signature():
    assert params(kernels.get_kernel_variants) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, None),
        ("version", P.KEYWORD_ONLY, None),
        ("backend", P.KEYWORD_ONLY, None),
    ]


def test_install_kernel_signature():
    assert params(kernels.install_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, P.empty),
        ("local_files_only", P.KEYWORD_ONLY, False),
        ("backend", P.KEYWORD_ONLY, None),
        ("user_agent", P.KEYWORD_ONLY, None),
        ("validate_dependencies", P.KEYWORD_ONLY, False),
    ]


def test_load_kernel_signature():
    # lockfile is keyword-only without a default: it must be passed, possibly as None.
    assert params(kernels.load_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("lockfile", P.KEYWORD_ONLY, P.empty),
        ("backend", P.KEYWORD_ONLY, None),
    ]


def test_get_locked_kernel_signature():
    assert params(kernels.get_locked_kernel) == [("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty)]


def test_get_loaded_kernels_signature():
    assert params(kernels.get_loaded_kernels) == []


def test_data_classes():
    assert [f.name for f in dataclasses.fields(kernels.RepoInfo)] == ["repo_id", "revision"]
    assert [f.name for f in dataclasses.fields(kernels.LoadedKernel)] == ["metadata", "module", "repo_info"]
    info = kernels.RepoInfo("org/relu", "abc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.revision = "def"
    assert info == kernels.RepoInfo("org/relu", "abc")
    loaded = kernels.LoadedKernel(None, ModuleType("m"), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.repo_info = info

    assert [f.name for f in dataclasses.fields(kernels.VariantAccepted)] == ["variant"]
    assert [f.name for f in dataclasses.fields(kernels.VariantRejected)] == ["variant", "reason"]
    variant = kernels._core.Variant.parse("torch-cpu")
    # unsafe_hash: hashable and compared by value.
    assert {kernels.VariantAccepted(variant), kernels.VariantAccepted(kernels._core.Variant.parse("torch-cpu"))} == {
        kernels.VariantAccepted(variant)
    }
    assert hash(kernels.VariantRejected(variant, "r")) == hash(kernels.VariantRejected(variant, "r"))
    assert variant.variant_str == "torch-cpu"


def test_variant_names_round_trip_and_bad_names_are_value_errors():
    for name in [
        "torch211-cxx11-cu128-x86_64-linux",
        "torch-stable-abi29-cpu-aarch64-darwin",
        "tvm-ffi01-cu128-x86_64-linux",
    ]:
        assert kernels._core.Variant.parse(name).variant_str == name
    with pytest.raises(ValueError, match="tvm-ffi-cpu"):
        kernels._core.Variant.parse("tvm-ffi-cpu")


def test_import_does_not_import_torch():
    code = "import sys, kernels; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
