"""Fixtures shared by the compatibility suites that run PyPI kernels 0.19.1."""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
from hub_server.process import find_python  # noqa: E402


@pytest.fixture(scope="module")
def python019():
    """An interpreter with PyPI kernels 0.19.1 and torch (the cached test-only
    environment), and kb built; the test is skipped without them."""
    default = Path.home() / ".cache" / "kb" / "kernels-0.19-venv" / "bin" / "python"
    py = find_python(
        "KB_KERNELS019_PYTHON",
        "import importlib.metadata as m, torch, kernels._internals.cli; assert m.version('kernels') == '0.19.1'",
        extra=[str(default)],
    )
    if py is None:
        pytest.skip("no interpreter with kernels 0.19.1 and torch (set KB_KERNELS019_PYTHON)")
    kb_pythonpath = Path(os.environ.get("KB_BUILD_PYTHONPATH") or ROOT / "build" / "python")
    kb_bin = Path(os.environ.get("KB_BIN") or ROOT / "build" / "bin")
    if not (kb_pythonpath / "kernels").is_dir() or not (kb_bin / "kb").is_file():
        pytest.skip(f"{kb_pythonpath} or {kb_bin} is missing: build kb first")
    return py
