"""pytest fixtures: the built relu kernel, loaded the way users load it.

The tests call `get_kernel("kb-examples/relu", version=1)`. LOCAL_KERNELS
points that repo id at this checkout (unless it is already set), so the
`kernels` loader picks the variant of build/ that fits the running torch
without any hub.
"""
import os
from pathlib import Path

import pytest
import torch

KERNEL_DIR = Path(__file__).resolve().parent.parent
REPO_ID = "kb-examples/relu"

os.environ.setdefault("LOCAL_KERNELS", f"{REPO_ID}={KERNEL_DIR}")


def pytest_configure(config):
    config.addinivalue_line("markers", "kernels_ci: mark a test as a kernel CI test")


@pytest.fixture(scope="session")
def relu_kernel():
    from kernels import get_kernel

    return get_kernel(REPO_ID, version=1)


@pytest.fixture(scope="session")
def kernel_backend(relu_kernel):
    from kernels import get_loaded_kernels

    (loaded,) = [k for k in get_loaded_kernels() if k.module is relu_kernel]
    return str(loaded.metadata.backend.backend_type)


@pytest.fixture
def cpu_kernel(relu_kernel, kernel_backend):
    if kernel_backend != "cpu":
        pytest.skip(f"the loaded variant is built for {kernel_backend}, not cpu")
    return relu_kernel


@pytest.fixture
def cuda_kernel(relu_kernel, kernel_backend):
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    if kernel_backend != "cuda":
        pytest.skip(f"the loaded variant is built for {kernel_backend}, not cuda")
    return relu_kernel
