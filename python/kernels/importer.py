"""Importing a variant directory as a uniquely named Python module.

The module name is the build's id from metadata.json (for example
`_relu_cpu_6762b3f`), so several builds of one kernel load side by side,
each with its own ops namespace and shared object. Modules are cached per
variant path; there is no unloading.
"""
from __future__ import annotations

import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import _core
from ._core import Metadata
from .hf_hub import RepoInfo


@dataclass(frozen=True)
class LoadedKernel:
    """A kernel imported into this process."""

    metadata: Metadata
    module: ModuleType
    repo_info: RepoInfo | None


# Keyed by the variant path as passed (not resolved), in first-import order.
_loaded_kernels: dict[Path, LoadedKernel] = {}


def get_loaded_kernels() -> list[LoadedKernel]:
    """Every kernel imported so far, first import first (a new list)."""
    return list(_loaded_kernels.values())


def _import_from_path(
    variant_path: Path, repo_info: RepoInfo | None = None, metadata: Metadata | None = None
) -> ModuleType:
    """Imports a variant directory once; `metadata` is the variant's
    metadata.json when the caller has just read it (not read again)."""
    variant_path = Path(variant_path)
    loaded = _loaded_kernels.get(variant_path)
    if loaded is not None:
        return loaded.module

    if metadata is None:
        metadata = Metadata.read_from_file(variant_path / "metadata.json")
    _warn_if_dirty(metadata, variant_path.name)

    python_name = metadata.name.python_name
    module_file = variant_path / "__init__.py"
    if not module_file.exists():
        # Legacy layout: the package sits in a directory named after the kernel.
        module_file = variant_path / python_name / "__init__.py"
        if not module_file.exists():
            raise FileNotFoundError(f"No kernel module found at: `{variant_path}`")

    # A package spec (the file is __init__.py), so relative imports inside
    # the kernel resolve under its unique name.
    spec = importlib.util.spec_from_file_location(metadata.id, module_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"Cannot load spec for {python_name} from {module_file}")
    module = importlib.util.module_from_spec(spec)
    # Registered before execution so the kernel's own imports of itself work.
    sys.modules[metadata.id] = module
    spec.loader.exec_module(module)

    _loaded_kernels[variant_path] = LoadedKernel(metadata, module, repo_info)
    return module


def _warn_if_dirty(metadata: Metadata, variant_str: str) -> None:
    message = _core.dirty_provenance_warning(metadata, variant_str)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)
