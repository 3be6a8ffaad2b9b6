"""pytest fixtures: the built relu kernel, loaded by relu_loader."""
import pytest
import torch

from relu_loader import load_variant, variant_dir


def pytest_configure(config):
    config.addinivalue_line("markers", "kernels_ci: mark a test as a kernel CI test")


@pytest.fixture(scope="session")
def relu_variant():
    """(module, metadata) of the built kernel."""
    return load_variant(variant_dir())


@pytest.fixture(scope="session")
def relu_kernel(relu_variant):
    return relu_variant[0]


@pytest.fixture(scope="session")
def kernel_backend(relu_variant):
    return relu_variant[1]["backend"]["type"]


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
