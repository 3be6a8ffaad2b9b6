"""The public loaders.

Resolution follows the existing `kernels` package exactly (the rules live in
the C++ core). Kernels load from a path, from a repo id that LOCAL_KERNELS
maps to a path, or from the hub KB_HUB names (local, local:DIR, git+URL),
downloaded and verified into the cache by the core.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from types import ModuleType

from . import _core
from ._environment import environment, warn_all
from .deps import validate_variant_dependencies
from .hf_hub import RepoInfo
from .importer import _import_from_path
from .variants import VariantAccepted, VariantRejected, decisions, local_variants


def get_kernel(
    repo_id: str,
    revision: str | None = None,
    version: int | str | None = None,
    backend: str | None = None,
    user_agent: str | dict | None = None,
    trust_remote_code: bool | list[str] = False,
) -> ModuleType:
    """Loads the kernel `repo_id` as a module.

    A repo id mapped by LOCAL_KERNELS loads from its local directory before
    any revision, version or trust handling (and `backend` is not applied,
    as in the existing package).
    """
    local_path = _local_kernel_path(repo_id)
    if local_path is not None:
        return get_local_kernel(local_path)
    offline = _core.offline_mode()
    revision = _select_revision_or_version(repo_id, revision=revision, version=version, local_files_only=offline)
    variant_dir = install_kernel(repo_id, revision=revision, local_files_only=offline, backend=backend)
    metadata = validate_variant_dependencies(variant_dir)
    return _import_from_path(variant_dir, repo_info=RepoInfo(repo_id, revision), metadata=metadata)


def install_kernel(
    repo_id: str,
    *,
    revision: str,
    local_files_only: bool = False,
    backend: str | None = None,
    user_agent: str | dict | None = None,
    validate_dependencies: bool = False,
) -> Path:
    """Downloads the variant of `repo_id` at `revision` that fits this process
    into the cache (each file verified against the hub's hash) and returns its
    directory. Nothing is imported."""
    variant_dir, _commit, warnings = _core.install_variant(repo_id, revision, environment(backend), local_files_only)
    warn_all(warnings)
    if validate_dependencies:
        validate_variant_dependencies(Path(variant_dir))
    return Path(variant_dir)


def get_local_kernel(repo_path: Path, backend: str | None = None) -> ModuleType:
    """Loads a kernel from a repository root (holding build/), a build/
    directory or a single variant directory, choosing the variant that fits
    this process best."""
    choice = _core.choose_local_variant(Path(repo_path), environment(backend))
    warn_all(choice.resolution.warnings)
    metadata = validate_variant_dependencies(choice.variant_dir)
    return _import_from_path(choice.variant_dir, metadata=metadata)


def get_kernel_variants(
    repo_id: str,
    *,
    revision: str | None = None,
    version: int | str | None = None,
    backend: str | None = None,
) -> list[VariantAccepted | VariantRejected]:
    """Every variant of `repo_id`, accepted first and preferred first, each
    rejected one with its reason."""
    local_path = _local_kernel_path(repo_id)
    if local_path is None:
        raise _hub_unavailable(repo_id)
    env = environment(backend)
    if not local_path.exists():
        raise FileNotFoundError(f"Could not find kernel in {local_path}")
    resolution = _core.resolve(local_variants(local_path), env)
    warn_all(resolution.warnings)
    return decisions(resolution)


def _local_kernel_path(repo_id: str) -> Path | None:
    # A malformed LOCAL_KERNELS is an error even for ids it does not name.
    value = os.environ.get("LOCAL_KERNELS")
    if value is None:
        return None
    return _parse_local_kernels(value).get(repo_id)


@functools.lru_cache(maxsize=16)
def _parse_local_kernels(value: str) -> dict[str, Path]:
    return _core.parse_local_kernels(value)


def _hub_unavailable(repo_id: str) -> NotImplementedError:
    return NotImplementedError(
        f"Cannot list the variants of `{repo_id}` on a hub: not available yet in this version of kernels. "
        f"To inspect a local build, map the repo id to its directory: LOCAL_KERNELS={repo_id}=/path/to/kernel"
    )


def _select_revision_or_version(
    repo_id: str, *, revision: str | None, version: int | str | None, local_files_only: bool
) -> str:
    """The revision to fetch: `revision` verbatim, or the commit of branch v<version>."""
    if revision is not None and version is not None:
        raise ValueError("Only one of `revision` or `version` must be specified.")
    if revision is None and version is None:
        raise ValueError(
            "A kernel version or revision must be specified. Use `version=<major>` to load the newest build "
            "of a major version, or `revision=<branch, tag or commit>`."
        )
    if revision is not None:
        return revision
    return _core.resolve_version(repo_id, int(version), local_files_only)
