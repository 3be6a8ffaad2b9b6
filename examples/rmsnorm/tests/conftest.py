"""pytest fixtures: the built rmsnorm kernel, loaded the way users load it
(LOCAL_KERNELS maps kb-examples/rmsnorm to this checkout unless set)."""
import os
from pathlib import Path

import pytest

KERNEL_DIR = Path(__file__).resolve().parent.parent
REPO_ID = "kb-examples/rmsnorm"

os.environ.setdefault("LOCAL_KERNELS", f"{REPO_ID}={KERNEL_DIR}")


def pytest_configure(config):
    config.addinivalue_line("markers", "kernels_ci: mark a test as a kernel CI test")


@pytest.fixture(scope="session")
def rmsnorm_kernel():
    from kernels import get_kernel

    return get_kernel(REPO_ID, version=1)
