"""Kernels pinned by a kernels.lock (runtime spec 7).

A project declares its kernels in pyproject.toml under
[tool.kernels.dependencies]; `kernels lock PROJECT_DIR` pins each to a
commit in PROJECT_DIR/kernels.lock, with a hash per variant; installing the
project copies the lock into its package metadata (write_egg_lockfile), where
get_locked_kernel and load_kernel(lockfile=None) find it again.

Every variant loaded through a lock is checked against the lock's hash of
that variant, so a file changed in the cache or on the hub after locking is
refused instead of imported.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from . import _core
from ._environment import detected_backend, device_arch, environment, locate_reporting
from .deps import importable_now
from .hf_hub import user_agent as build_user_agent
from .importer import _import_from_path

if TYPE_CHECKING:
    import importlib.metadata

LOCK_FILE_NAME = "kernels.lock"

# The top-level package of this module: frames inside it are never "the caller".
_OWN_PACKAGE = __name__.split(".")[0]


def load_kernel(
    repo_id: str, *, lockfile: Path | None, backend: str | None = None, check_arch: bool = True
) -> ModuleType:
    """Loads the locked kernel `repo_id` from the cache only (no network).

    The commit comes from `lockfile`, or from the calling package's installed
    metadata when `lockfile` is None. The variant for this process (or for
    `backend`) must have been downloaded before, with `kernels download
    PROJECT_DIR`. `check_arch` as for get_kernel."""
    entry = _locked_entry(repo_id, lockfile)
    if entry is None:
        raise ValueError(
            f"Kernel `{repo_id}` is not locked. Please lock it with `kernels lock <project>` and then reinstall "
            "the project."
        )
    try:
        located = _locate_locked(entry, backend=backend, local_files_only=True, check_arch=check_arch)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"Locked kernel `{repo_id}` was not downloaded or does not have an applicable variant. Make sure it's "
            "downloaded locally via `kernels download <project>`."
        ) from e
    return _import_from_path(located.variant_dir, metadata=located.metadata)


def get_locked_kernel(repo_id: str, *, check_arch: bool = True) -> ModuleType:
    """Loads the kernel `repo_id` at the commit the calling package's
    installed kernels.lock pins, downloading it unless HF_HUB_OFFLINE is set.
    No publisher trust check: locking the project chose the kernel.
    `check_arch` as for get_kernel."""
    entry = _caller_locked_entry(repo_id)
    if entry is None:
        raise ValueError(f"Kernel `{repo_id}` is not locked")
    offline = _core.offline_mode()
    located = _locate_locked(
        entry,
        local_files_only=offline,
        user_agent="" if offline else build_user_agent(None),
        importable=importable_now,
        check_arch=check_arch,
    )
    return _import_from_path(located.variant_dir, metadata=located.metadata)


def _locate_locked(
    entry, *, backend=None, local_files_only, user_agent="", importable=None, check_arch=True
) -> _core.Located:
    """The core's locked path: fetch, verify against the lock, python-depends
    when `importable` is given."""
    return locate_reporting(
        _core.locate_locked,
        entry=entry,
        env=environment(None),
        backend=backend,
        detected_backend=detected_backend(),
        local_files_only=local_files_only,
        user_agent=user_agent,
        importable=importable,
        check_arch=check_arch,
        device=device_arch,
    )


def get_locked_kernel_revision(repo_id: str, lock_json: str) -> str | None:
    """The sha kernels.lock text pins `repo_id` to (its first entry), or None.
    Every entry is parsed: a malformed lock fails the lookup."""
    entry = _find(_core.parse_lock_file(lock_json), repo_id)
    return None if entry is None else entry.sha


def get_caller_locked_kernel_revision(repo_id: str) -> str | None:
    """The sha the calling package's installed kernels.lock pins `repo_id` to."""
    entry = _caller_locked_entry(repo_id)
    return None if entry is None else entry.sha


def write_egg_lockfile(cmd, basename, filename) -> None:
    """setuptools egg_info writer: copies ./kernels.lock into the project's
    metadata when ./pyproject.toml declares [tool.kernels.dependencies], so
    the installed package carries its lock."""
    pyproject = Path.cwd() / "pyproject.toml"
    if not pyproject.exists():
        return
    if _core.read_dependencies(pyproject) is None:
        return
    lock_path = Path.cwd() / LOCK_FILE_NAME
    if not lock_path.exists():
        logging.warning(f"Lock file {lock_path} does not exist")
        # None deletes a lock left by an earlier (editable) install.
        data = None
    else:
        data = lock_path.read_text()
    cmd.write_or_delete_file(basename, filename, data)


def _find(locks, repo_id: str):
    return next((lock for lock in locks if lock.repo_id == repo_id), None)


def _locked_entry(repo_id: str, lockfile: Path | None):
    """The lock entry of `repo_id` in `lockfile`, or, when None, in the lock
    installed with the calling package; None when it is not locked."""
    return _locked_entry_from_file(repo_id, lockfile) if lockfile is not None else _caller_locked_entry(repo_id)


def _locked_entry_from_file(repo_id: str, lockfile: Path):
    path = Path(lockfile)
    return _find(_core.parse_lock_file(path.read_text(), str(path)), repo_id)


def _caller_locked_entry(repo_id: str):
    # A package may come from several distributions: the first lock that
    # pins repo_id answers.
    for dist in _caller_distributions():
        text = dist.read_text(LOCK_FILE_NAME)
        if text is None:
            continue
        entry = _find(_core.parse_lock_file(text, f"{dist.metadata['Name']} {LOCK_FILE_NAME}"), repo_id)
        if entry is not None:
            return entry
    return None


def _caller_distributions() -> list[importlib.metadata.Distribution]:
    package = _caller_package()
    if package is None:
        return []
    # Imported here: it costs more than the rest of `import kernels`.
    import importlib.metadata

    names = importlib.metadata.packages_distributions().get(package)
    if not names:
        return []
    return [importlib.metadata.distribution(name) for name in dict.fromkeys(names)]


def _caller_package() -> str | None:
    """The top-level package of the first frame outside this package: the
    code that asked for a locked kernel, whichever kernels function it went
    through."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.split(".")[0] != _OWN_PACKAGE:
            return name.split(".")[0]
        frame = frame.f_back
    return None
