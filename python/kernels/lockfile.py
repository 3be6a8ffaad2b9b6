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
from .importer import import_located

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
    locks, entry = _locked_entry(repo_id, lockfile)
    try:
        located = _locate_locked(locks, entry, backend=backend, local_files_only=True, check_arch=check_arch)
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"Locked kernel `{repo_id}` was not downloaded or does not have an applicable variant. Make sure it's "
            "downloaded locally via `kernels download <project>`."
        ) from e
    return import_located(located)


def get_locked_kernel(
    repo_id: str,
    *,
    lockfile: Path | None,
    trust_remote_code: bool | list[str] = False,
    user_agent: str | dict | None = None,
    check_arch: bool = True,
) -> ModuleType:
    """Loads the kernel `repo_id` at the commit `lockfile` (or, when None, the
    calling package's installed kernels.lock) pins, with the kernel
    dependencies the lock pins, downloading unless HF_HUB_OFFLINE is set. No
    publisher trust check: locking the project chose the kernel
    (`trust_remote_code` applies only when UNSTABLE_KERNELS_ALL_LATEST
    overrides the lock). `check_arch` as for get_kernel."""
    locks, entry = _locked_entry(repo_id, lockfile)
    return _load_locked(locks, entry, trust_remote_code=trust_remote_code, user_agent=user_agent,
                        check_arch=check_arch)


def _load_locked(locks, entry, *, trust_remote_code=False, user_agent=None, check_arch=True) -> ModuleType:
    """Fetches (unless offline) and imports a locked kernel and the kernel
    dependencies `locks` pins."""
    offline = _core.offline_mode()
    located = _locate_locked(
        locks,
        entry,
        local_files_only=offline,
        user_agent="" if offline else build_user_agent(user_agent),
        importable=importable_now,
        check_arch=check_arch,
        trust_remote_code=trust_remote_code,
    )
    return import_located(located)


def _locate_locked(
    locks,
    entry,
    *,
    backend=None,
    local_files_only,
    user_agent="",
    importable=None,
    trust_remote_code=False,
    check_arch=True,
) -> _core.Located:
    """The core's locked path: fetch, verify against the lock, python-depends
    when `importable` is given, dependencies from `locks`."""
    return locate_reporting(
        _core.locate_locked,
        helper_frames=1,
        entry=entry,
        env=environment(None),
        backend=backend,
        detected_backend=detected_backend(),
        local_files_only=local_files_only,
        user_agent=user_agent,
        importable=importable,
        check_arch=check_arch,
        device=device_arch,
        locks=locks,
        trust_remote_code=trust_remote_code,
    )


def get_locked_kernel_revision(repo_id: str, lock_json: str) -> str | None:
    """The sha kernels.lock text pins `repo_id` to (its first entry), or None.
    Every entry is parsed: a malformed lock fails the lookup."""
    entry = _find(_core.parse_lock_file(lock_json), repo_id)
    return None if entry is None else entry.sha


def get_caller_locked_kernel_revision(repo_id: str) -> str | None:
    """The sha the calling package's installed kernels.lock pins `repo_id` to."""
    found = _caller_locked_entry(repo_id)
    return None if found is None or found[1] is None else found[1].sha


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
    """(every entry, the entry of `repo_id`) of `lockfile`, or, when None, of
    the lock installed with the calling package. ValueError when it is not
    locked."""
    if lockfile is not None:
        path = Path(lockfile)
        found = _core.parse_lock_file(path.read_text(), str(path)), None
        found = found[0], _find(found[0], repo_id)
    else:
        found = _caller_locked_entry(repo_id)
        if found is None:
            raise ValueError(
                "Could not find a `kernels.lock` file in the caller's package metadata. Please lock kernels with "
                "`kernels lock <project>` and then reinstall the project."
            )
    if found[1] is None:
        raise ValueError(
            f"Kernel `{repo_id}` is not locked. Please lock it with `kernels lock <project>` and then reinstall "
            "the project."
        )
    return found


def _caller_locked_entry(repo_id: str):
    """(entries, entry of `repo_id` or None) of the first lock installed with
    the calling package's distributions; None when none has a lock."""
    found = None
    for dist in _caller_distributions():
        text = dist.read_text(LOCK_FILE_NAME)
        if text is None:
            continue
        locks = _core.parse_lock_file(text, f"{dist.metadata['Name']} {LOCK_FILE_NAME}")
        entry = _find(locks, repo_id)
        # A package may come from several distributions: the first lock that
        # pins repo_id answers.
        if entry is not None:
            return locks, entry
        found = found or (locks, None)
    return found


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
