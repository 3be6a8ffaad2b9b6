"""LOCAL_KERNELS and the repo-id loaders (spec 2.1, 5.4)."""
import warnings

import pytest

import kernels
from conftest import RELU, write_variant
from kernels import VariantAccepted, VariantRejected
from kernels._core import Variant

FORMAT = "Expected format: repo_id_1=path_1:repo_id_2=path_2"


def test_one_entry_loads_without_a_hub(local_kernels, relu_variant_dir):
    local_kernels(f"kb-examples/relu={RELU}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = kernels.get_kernel("kb-examples/relu", version=1)
        assert module is kernels.get_local_kernel(RELU)
    (entry,) = [k for k in kernels.get_loaded_kernels() if k.module is module]
    assert entry.repo_info is None  # as in the existing package: no repo info for local overrides


def test_backend_is_not_forwarded(local_kernels, tmp_path):
    # The existing package ignores `backend` for LOCAL_KERNELS ids, so even
    # an unsupported one does not fail.
    local_kernels(f"org/fake={write_variant(tmp_path / 'v')}")
    assert kernels.get_kernel("org/fake", backend="xpu", revision="main").VALUE == 42


def test_several_entries(local_kernels, kernel_builds):
    local_kernels(f"org/relu-a={kernel_builds['relu_a']}:org/relu-b={kernel_builds['relu_b']}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = kernels.get_kernel("org/relu-a", version=1)
        b = kernels.get_kernel("org/relu-b", version=1)
    assert (a.__name__, b.__name__) == ("_relu_cpu_kbtesta", "_relu_cpu_kbtestb")


def test_later_duplicates_win(local_kernels, tmp_path):
    first = write_variant(tmp_path / "first", body="VALUE = 1\n")
    second = write_variant(tmp_path / "second", body="VALUE = 2\n")
    local_kernels(f"org/dup={first}:org/dup={second}")
    assert kernels.get_kernel("org/dup", version=1).VALUE == 2


@pytest.mark.parametrize("value,entry", [("org/a=/x:bogus", "bogus"), ("", ""), ("org/a=/x::org/b=/y", "")])
def test_malformed_entry_names_it_even_for_other_ids(local_kernels, value, entry):
    local_kernels(value)
    for call in [lambda: kernels.get_kernel("org/a", version=1), lambda: kernels.get_kernel_variants("org/zzz")]:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"Invalid LOCAL_KERNELS entry: {entry}. {FORMAT}"


def test_mapped_path_that_does_not_exist(local_kernels):
    local_kernels("org/gone=/non/existing")
    with pytest.raises(FileNotFoundError) as info:
        kernels.get_kernel("org/gone", version=1)
    assert str(info.value) == "Could not find kernel in /non/existing"
    with pytest.raises(FileNotFoundError, match="^Could not find kernel in /non/existing$"):
        kernels.get_kernel_variants("org/gone")


@pytest.mark.parametrize("set_env", [False, True])
def test_unmapped_ids_go_to_the_hub(local_kernels, monkeypatch, set_env):
    if set_env:
        local_kernels("org/other=/x")
    # Unset KB_HUB means the Hugging Face Hub at HF_ENDPOINT: here a loopback
    # port nothing listens on, so every request fails to connect.
    monkeypatch.delenv("KB_HUB", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("KB_HUB_MAX_ATTEMPTS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ValueError, match="could not verify publisher trust status"):
        kernels.get_kernel("org/relu", version=1)
    with pytest.raises(ValueError, match="127.0.0.1:9"):
        kernels.get_kernel("org/relu", version=1, trust_remote_code=True)
    with pytest.raises(ValueError, match="127.0.0.1:9"):
        kernels.get_kernel_variants("org/relu", revision="main")


def test_kernel_variants_of_a_mapped_id(local_kernels, tmp_path, cpu_linux_torch):
    names = [
        "torch299-cxx11-cu130-x86_64-linux",
        "torch-cuda",
        "torch-universal",
        cpu_linux_torch.replace("x86_64-linux", "aarch64-darwin").replace("-cxx11", ""),
        "torch-cpu",
        cpu_linux_torch,
        "not-a-variant",
    ]
    for name in names:
        (tmp_path / "build" / name).mkdir(parents=True)
    (tmp_path / "torch-ext").mkdir()  # a repository root's source dir is not a variant
    local_kernels(f"org/k={tmp_path}")
    import torch

    torch_version = ".".join(torch.__version__.split(".")[:2])
    darwin = names[3]
    expected = [
        VariantAccepted(Variant.parse(cpu_linux_torch)),
        VariantAccepted(Variant.parse("torch-cpu")),
        VariantAccepted(Variant.parse("torch-universal")),
        VariantRejected(Variant.parse(darwin), "CPU (aarch64) does not match system CPU (x86_64)"),
        VariantRejected(
            Variant.parse("torch299-cxx11-cu130-x86_64-linux"),
            f"Torch version (2.99) does not match environment Torch version ({torch_version})",
        ),
        VariantRejected(
            Variant.parse("torch-cuda"), "backend (cuda) does not match system backend (cpu) and is not universal"
        ),
    ]
    assert kernels.get_kernel_variants("org/k") == expected
    # The build/ directory and a variant directory work too.
    local_kernels(f"org/k={tmp_path / 'build'}:org/v={write_variant(tmp_path / 'build' / 'torch-cpu')}")
    assert kernels.get_kernel_variants("org/k", version=1) == expected
    assert kernels.get_kernel_variants("org/v") == [VariantAccepted(Variant.parse("torch-cpu"))]
    with pytest.raises(ValueError, match="^Invalid backend 'cuda', system supported backends: cpu$"):
        kernels.get_kernel_variants("org/k", backend="cuda")
