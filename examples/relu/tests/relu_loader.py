"""Finds and imports a built variant of the relu kernel without the kernels package.

The variant directory is $RELU_VARIANT_DIR when set, otherwise the one under
examples/relu/build/ that matches the running Torch (for example
torch211-cxx11-cu130-x86_64-linux). It is imported as a package named by the
ops id from its metadata.json, as the kernels loader does.
"""
import importlib.util
import json
import os
import platform
import re
import sys
from pathlib import Path

import torch

KERNEL_DIR = Path(__file__).resolve().parent.parent


def _flat_version(version: str) -> str:
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise RuntimeError(f"cannot read a version from {version!r}")
    return match.group(1) + (match.group(2) or "0")


def variant_name() -> str:
    """The build variant name that fits the running Torch."""
    torch_part = "torch" + _flat_version(torch.__version__)
    if torch.version.cuda:
        compute = "cu" + _flat_version(torch.version.cuda)
    elif getattr(torch.version, "hip", None):
        compute = "rocm" + _flat_version(torch.version.hip)
    else:
        compute = "cpu"
    cpu = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine().lower())
    if sys.platform == "darwin":
        return f"{torch_part}-{compute}-{cpu}-darwin"
    abi = "cxx11" if torch.compiled_with_cxx11_abi() else "cxx98"
    return f"{torch_part}-{abi}-{compute}-{cpu}-linux"


def variant_dir() -> Path:
    override = os.environ.get("RELU_VARIANT_DIR")
    if override:
        return Path(override).resolve()
    return KERNEL_DIR / "build" / variant_name()


def load_variant(directory: Path):
    """Imports build/<variant>/ as the package named by its metadata id."""
    metadata_path = directory / "metadata.json"
    if not metadata_path.is_file():
        built = sorted(p.parent.name for p in (KERNEL_DIR / "build").glob("*/metadata.json"))
        raise FileNotFoundError(
            f"no built relu kernel at {directory} (built variants: {built or 'none'}); "
            "build it with `kb build` in examples/relu or set RELU_VARIANT_DIR"
        )
    metadata = json.loads(metadata_path.read_text())
    ops_id = metadata["id"]
    if ops_id in sys.modules:
        return sys.modules[ops_id], metadata
    spec = importlib.util.spec_from_file_location(
        ops_id, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    module = importlib.util.module_from_spec(spec)
    # Registered first so the package's relative imports (._ops, the .so) resolve.
    sys.modules[ops_id] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[ops_id]
        raise
    return module, metadata
