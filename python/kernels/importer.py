"""Importing a variant directory as a uniquely named Python module.

The module name is the build's id from metadata.json (for example
`_relu_cpu_6762b3f`), so several builds of one kernel load side by side,
each with its own ops namespace and shared object. A build is imported once
per process: another variant directory with the same id is the same build
(checked by its digest) and gets the same module. A kernel's dependencies
(metadata kernel-depends) are imported before it, and while it imports,
`get_kernel_dep` hands them to it. There is no unloading.

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
import threading
import warnings
import zipfile
import zipimport
from contextvars import ContextVar
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
# The metadata of each imported build, by id: what another directory
# claiming the same id is compared with.
_loaded_metadata: dict[str, Metadata] = {}

# One import at a time, so a kernel executes once and no thread sees it half
# initialised; reentrant, since a kernel may load another while it imports.
_import_lock = threading.RLock()

# The dependencies of the kernel being imported (None outside an import).
_kernel_deps: ContextVar[dict[str, ModuleType] | None] = ContextVar("_kernel_deps", default=None)


def get_loaded_kernels() -> list[LoadedKernel]:
    """Every kernel imported so far, first import first (a new list)."""
    return list(_loaded_kernels.values())


def get_kernel_dep(repo_id: str) -> ModuleType:
    """The module of kernel dependency `repo_id`, for a kernel's own code
    while it is being imported (its build.toml lists the dependency, so its
    metadata.json pins it and the loader imported it first)."""
    deps = _kernel_deps.get()
    if deps is None:
        raise RuntimeError("`get_kernel_dep` only works during kernel loading.")
    module = deps.get(repo_id)
    if module is None:
        raise RuntimeError(
            f"Dependency '{repo_id}' not found in kernel dependencies. Ensure the dependency is added to "
            "`kernel-deps` in build.toml."
        )
    return module


def import_located(located: _core.Located) -> ModuleType:
    """Imports what the core located: its dependency tree first (each build
    once), then the kernel itself, each with the hub origin the core found
    (none for local kernels)."""
    with _import_lock:
        return _import_tree(located, {})


def _import_tree(located: _core.Located, done: dict[str, ModuleType]) -> ModuleType:
    deps: dict[str, ModuleType] = {}
    for repo_id, dependency in located.dependencies:
        module = done.get(dependency.metadata.id)
        if module is None:
            module = _import_tree(dependency, done)
            done[dependency.metadata.id] = module
        deps[repo_id] = module
    repo_info = None if located.repo_info is None else RepoInfo(*located.repo_info)
    return _import_from_path(located.variant_dir, repo_info=repo_info, metadata=located.metadata, deps=deps)


def _import_from_path(
    variant_path: Path,
    repo_info: RepoInfo | None = None,
    metadata: Metadata | None = None,
    deps: dict[str, ModuleType] | None = None,
) -> ModuleType:
    """Imports a variant directory once; `metadata` is the variant's
    metadata.json when the caller has just read it (not read again)."""
    variant_path = Path(variant_path)
    with _import_lock:
        loaded = _loaded_kernels.get(variant_path)
        if loaded is not None:
            return loaded.module

        if metadata is None:
            metadata = Metadata.read_from_file(variant_path / "metadata.json")
        module = sys.modules.get(metadata.id)
        if module is not None and metadata.id in _loaded_metadata:
            _check_same_build(variant_path, metadata)
        else:
            _warn_if_dirty(metadata, variant_path.name)
            module = _execute(variant_path, metadata, deps or {}, repo_info)
            _loaded_metadata[metadata.id] = metadata

        _loaded_kernels[variant_path] = LoadedKernel(metadata, module, repo_info)
        return module


def _execute(variant_path: Path, metadata: Metadata, deps: dict[str, ModuleType], repo_info) -> ModuleType:
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
    token = _kernel_deps.set(deps)
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        prefix = metadata.id + "."
        for name in [n for n in sys.modules if n not in before and (n == metadata.id or n.startswith(prefix))]:
            del sys.modules[name]
        origin = f" ({repo_info.repo_id}, revision: {repo_info.revision})" if repo_info else ""
        if hasattr(e, "add_note"):
            e.add_note(f"while importing kernel '{metadata.name}', variant '{variant_path.name}'{origin}")
        raise
    finally:
        _kernel_deps.reset(token)
    return module


def _check_same_build(variant_path: Path, metadata: Metadata) -> None:
    """Another directory with the id of an imported build must be that
    build: ids are unique per build, so a different digest means one of the
    two was changed without rebuilding."""
    loaded = _loaded_metadata[metadata.id]
    if loaded.digest is None and metadata.digest is None:
        return
    conflict = (
        f"Kernel '{metadata.name}' at `{variant_path}` has the same id '{metadata.id}' as a kernel that is "
        "already loaded, but it is a different build"
    )
    hint = "Was the kernel modified without rebuilding it?"
    if loaded.digest is None:
        raise RuntimeError(f"{conflict}: this build has a digest, but the loaded build does not. {hint}")
    if metadata.digest is None:
        raise RuntimeError(f"{conflict}: the loaded build has a digest, but this build does not. {hint}")
    if str(loaded.digest.algorithm) != str(metadata.digest.algorithm):
        raise RuntimeError(
            f"{conflict}: its digest uses {metadata.digest.algorithm}, the loaded build's "
            f"{loaded.digest.algorithm}. {hint}"
        )
    ours, theirs = metadata.digest.files, loaded.digest.files
    differences = [
        f"{name}: {'missing' if name not in ours else 'extra' if name not in theirs else 'differs'}"
        for name in sorted(set(ours) | set(theirs))
        if ours.get(name) != theirs.get(name)
    ]
    if differences:
        raise RuntimeError(f"{conflict}. {hint}\nDifferences with the loaded build:\n" + "\n".join(differences))


def _warn_if_dirty(metadata: Metadata, variant_str: str) -> None:
    message = _core.dirty_provenance_warning(metadata, variant_str)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=4)


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
