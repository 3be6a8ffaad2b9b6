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


# What kernels 0.18 exports, less what kb does not provide yet (Benchmark):
# absent rather than a stub.
NOT_YET = {"Benchmark"}
KERNELS_0_18_ALL = {
    "__version__", "Benchmark", "CUDAProperties", "Device", "KernelizeFallback", "KernelizedFunc",
    "KernelizedLayer", "KernelizedLayers", "ROCMProperties", "FuncRepository", "LayerRepository", "LoadedKernel",
    "LocalFuncRepository", "LocalLayerRepository", "LockedFuncRepository", "LockedLayerRepository", "Metadata",
    "Mode", "RepoInfo", "VariantAccepted", "VariantRejected", "get_kernel", "get_kernel_dep", "get_kernel_variants",
    "get_kernelized_layers", "get_loaded_kernels", "get_local_kernel", "get_locked_kernel", "has_kernel",
    "install_kernel", "kernelize", "load_kernel", "register_kernel_mapping", "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub", "use_kernel_func_from_hub", "use_kernel_mapping", "use_kernelized_func",
}

# What transformers 5.23 imports from kernels when it finds a usable one.
TRANSFORMERS_IMPORTS = [
    "CUDAProperties", "Device", "KernelizeFallback", "LayerRepository", "LocalLayerRepository", "Mode",
    "ROCMProperties", "register_kernel_mapping", "replace_kernel_forward_from_hub", "use_kernel_mapping",
    "get_kernel", "kernelize", "use_kernel_forward_from_hub", "use_kernelized_func",
]


def test_all_lists_only_what_works():
    assert set(kernels.__all__) == KERNELS_0_18_ALL - NOT_YET
    for name in kernels.__all__:
        assert hasattr(kernels, name), name
    for name in NOT_YET:
        assert not hasattr(kernels, name), name
    for name in TRANSFORMERS_IMPORTS:
        assert name in kernels.__all__, name


def test_the_layer_module_paths_of_the_existing_package_import():
    from kernels.layer import __all__ as layer_all
    from kernels.layer.func import LockedFuncRepository  # noqa: F401
    from kernels.layer.kernelize import kernelize, register_kernel_mapping, use_kernel_mapping  # noqa: F401
    from kernels.layer.layer import KernelizeFallback, LayerRepository  # noqa: F401
    from kernels.layer.mode import Mode  # noqa: F401

    assert set(layer_all) <= set(kernels.__all__)


def test_version_is_the_api_level_plus_the_kb_version():
    cmake = (REPO / "CMakeLists.txt").read_text()
    kb = re.search(r"project\(kb VERSION ([0-9.]+)", cmake).group(1)
    api = re.search(r"set\(KB_KERNELS_API_VERSION ([0-9.]+)\)", cmake).group(1)
    assert kernels.__version__ == f"{api}+kb.{kb}"
    assert kernels._core.kb_version == kb


def test_version_matches_the_distribution_metadata_and_transformers_range():
    from importlib.metadata import version

    assert version("kernels") == kernels.__version__
    # transformers 5.23 accepts 0.18.2 <= version < 0.19.0; a local version
    # label compares as its public version.
    from packaging.version import Version

    assert Version("0.18.2") <= Version(kernels.__version__) < Version("0.19.0")


# The signatures of the current kernels release (0.19): everything after the
# repository is keyword-only. kb adds require_signature, keyword-only, last.
def test_get_kernel_signature():
    assert params(kernels.get_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, None),
        ("version", P.KEYWORD_ONLY, None),
        ("backend", P.KEYWORD_ONLY, None),
        ("user_agent", P.KEYWORD_ONLY, None),
        ("trust_remote_code", P.KEYWORD_ONLY, False),
        ("check_arch", P.KEYWORD_ONLY, True),
        ("require_signature", P.KEYWORD_ONLY, False),
    ]


def test_get_local_kernel_signature():
    # trust_remote_code and user_agent apply to the kernel's hub dependencies.
    assert params(kernels.get_local_kernel) == [
        ("repo_path", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("backend", P.KEYWORD_ONLY, None),
        ("trust_remote_code", P.KEYWORD_ONLY, False),
        ("user_agent", P.KEYWORD_ONLY, None),
        ("check_arch", P.KEYWORD_ONLY, True),
        ("require_signature", P.KEYWORD_ONLY, False),
    ]


def test_get_kernel_variants_signature():
    assert params(kernels.get_kernel_variants) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, None),
        ("version", P.KEYWORD_ONLY, None),
        ("backend", P.KEYWORD_ONLY, None),
    ]


def test_install_kernel_signature():
    # Keyword-only, so the order is not part of the API.
    assert sorted(params(kernels.install_kernel), key=str) == sorted([
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, None),
        ("version", P.KEYWORD_ONLY, None),
        ("backend", P.KEYWORD_ONLY, None),
        ("local_files_only", P.KEYWORD_ONLY, False),
        ("user_agent", P.KEYWORD_ONLY, None),
        ("trust_remote_code", P.KEYWORD_ONLY, False),
    ], key=str)


def test_has_kernel_signature():
    assert params(kernels.has_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("revision", P.KEYWORD_ONLY, None),
        ("version", P.KEYWORD_ONLY, None),
        ("backend", P.KEYWORD_ONLY, None),
        ("trust_remote_code", P.KEYWORD_ONLY, False),
        ("check_arch", P.KEYWORD_ONLY, True),
    ]


def test_load_kernel_signature():
    # lockfile is keyword-only without a default: it must be passed, possibly as None.
    assert params(kernels.load_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("lockfile", P.KEYWORD_ONLY, P.empty),
        ("backend", P.KEYWORD_ONLY, None),
        ("check_arch", P.KEYWORD_ONLY, True),
    ]


def test_get_locked_kernel_signature():
    assert params(kernels.get_locked_kernel) == [
        ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
        ("lockfile", P.KEYWORD_ONLY, P.empty),
        ("trust_remote_code", P.KEYWORD_ONLY, False),
        ("user_agent", P.KEYWORD_ONLY, None),
        ("check_arch", P.KEYWORD_ONLY, True),
    ]


def test_get_loaded_kernels_signature():
    assert params(kernels.get_loaded_kernels) == []


def test_get_kernel_dep_outside_a_kernel_import():
    assert params(kernels.get_kernel_dep) == [("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty)]
    with pytest.raises(RuntimeError, match=r"^`get_kernel_dep` only works during kernel loading\.$"):
        kernels.get_kernel_dep("org/dep")


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


def test_the_layer_api_is_imported_on_first_use():
    import kernels.layer

    assert kernels._LAYER_NAMES == set(kernels.layer.__all__)
    code = (
        "import sys, kernels\n"
        "assert 'kernels.layer' not in sys.modules, 'imported eagerly'\n"
        "from kernels import Mode, kernelize\n"
        "assert 'kernels.layer' in sys.modules and kernels.Mode is Mode\n"
        "assert 'kernelize' in dir(kernels)\n"
        "ns = {}\n"
        "exec('from kernels import *', ns)\n"
        "assert ns['LayerRepository'] is kernels.layer.LayerRepository\n"
        "try:\n"
        "    kernels.Nope\n"
        "except AttributeError as e:\n"
        "    assert str(e) == \"module 'kernels' has no attribute 'Nope'\"\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
