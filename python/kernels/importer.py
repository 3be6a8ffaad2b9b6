"""Importing a variant directory as a uniquely named Python module.

The module name is the build's id from metadata.json (for example
`_relu_cpu_6762b3f`), so several builds of one kernel load side by side,
each with its own ops namespace and shared object. Modules are cached per
variant path; there is no unloading.

A variant in the zip build layout keeps its package in `<id>.zip` and its
shared objects next to the archive: the package is imported from the archive
(zipimport, nothing is extracted) with the variant directory first on its
search path, so `from . import _<id>` loads the shared object from disk.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
import zipfile
import zipimport
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import _core
from ._core import BuildLayout, Metadata
from .hf_hub import RepoInfo

if sys.version_info >= (3, 11):
    from importlib.resources.abc import TraversableResources
else:
    from importlib.abc import TraversableResources


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
    if metadata.build_layout == BuildLayout.ZIP:
        spec = _zip_package_spec(variant_path, metadata)
    else:
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
        raise ImportError(f"Cannot load spec for {python_name} from {variant_path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before execution so the kernel's own imports of itself work;
    # removed again (with its submodules) when execution fails, so that a
    # retry starts from scratch.
    before = set(sys.modules)
    sys.modules[metadata.id] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        prefix = metadata.id + "."
        for name in [n for n in sys.modules if n not in before and (n == metadata.id or n.startswith(prefix))]:
            del sys.modules[name]
        raise

    _loaded_kernels[variant_path] = LoadedKernel(metadata, module, repo_info)
    return module


def _warn_if_dirty(metadata: Metadata, variant_str: str) -> None:
    message = _core.dirty_provenance_warning(metadata, variant_str)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)


class _ArchiveResources(TraversableResources):
    """importlib.resources for a package whose files are in a ZIP archive."""

    def __init__(self, archive: Path):
        self._archive = archive

    def files(self):
        return zipfile.Path(self._archive)


class _ArchivePackageLoader(importlib.abc.Loader):
    """Runs the `__init__.py` at the top of a kernel archive as the package.

    Submodules are found through the package's search path (the variant
    directory, then the archive), by the standard path finders.
    """

    def __init__(self, archive: Path):
        self._archive = archive
        self._zip = zipimport.zipimporter(str(archive))

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module: ModuleType) -> None:
        exec(self._zip.get_code("__init__"), module.__dict__)

    # What inspect/linecache (get_source) and pkgutil.get_data ask a loader for.
    def get_source(self, fullname: str) -> str | None:
        return self._zip.get_source("__init__")

    def get_data(self, path: str) -> bytes:
        return self._zip.get_data(path)

    def get_resource_reader(self, fullname: str) -> _ArchiveResources:
        return _ArchiveResources(self._archive)


def _zip_package_spec(variant_path: Path, metadata: Metadata) -> importlib.machinery.ModuleSpec:
    archive = variant_path / f"{metadata.id}.zip"
    if not archive.is_file():
        raise FileNotFoundError(f"No kernel archive found at: `{archive}`")
    # Refuses hostile or corrupt archives (naming the entry) before any code runs.
    _core.check_zip_variant_archive(variant_path, metadata)
    spec = importlib.machinery.ModuleSpec(
        metadata.id, _ArchivePackageLoader(archive), origin=f"{archive}/__init__.py", is_package=True
    )
    # Shared objects are loaded from the variant directory, the rest from the archive.
    spec.submodule_search_locations = [str(variant_path), str(archive)]
    spec.has_location = True  # __file__ is the archive's __init__.py
    return spec
