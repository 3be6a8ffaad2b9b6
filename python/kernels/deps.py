"""python-depends validation: a kernel may only need packages from the
curated dependency table, and they must be installed. The table and the
rules live in the C++ core; Python answers whether a module is importable."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from . import _core
from ._environment import detected_backend


def _importable(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def importable_now(name: str) -> bool:
    """Whether `name` can be imported; looked up on each call, so tests can
    replace `_importable`."""
    return _importable(name)


def validate_dependencies(python_name: str, dependencies: list[str], backend: str) -> None:
    """ValueError for a dependency outside the table, ImportError for one
    whose package is not installed."""
    _core.validate_python_depends(python_name, dependencies, backend, _importable)


def validate_variant_dependencies(variant_path: Path) -> _core.Metadata:
    """Checks a variant's python-depends against the detected backend (an
    override does not change which packages a build needs). Returns the
    metadata it read."""
    metadata = _core.Metadata.read_from_file(Path(variant_path) / "metadata.json")
    depends = metadata.python_depends
    if depends:
        validate_dependencies(metadata.name.python_name, depends, detected_backend())
    return metadata
