"""The public loaders.

Resolution follows the existing `kernels` package exactly (the rules live in
the C++ core). Kernels load from a path, from a repo id that LOCAL_KERNELS
maps to a path, or from the hub KB_HUB names (the Hugging Face Hub by
default; local, local:DIR, git+URL), downloaded and verified into the cache
by the core.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from types import ModuleType

from . import _core
from ._environment import detected_backend, device_arch, emit_warnings, environment, locate_reporting, warn_all
from . import deps
from .hf_hub import user_agent as build_user_agent
from .importer import import_located
from .variants import VariantAccepted, VariantRejected, decisions, local_variants


def get_kernel(
    repo_id: str,
    *,
    revision: str | None = None,
    version: int | str | None = None,
    backend: str | None = None,
    user_agent: str | dict | None = None,
    trust_remote_code: bool | list[str] = False,
    check_arch: bool = True,
    require_signature: bool = False,
) -> ModuleType:
    """Loads the kernel `repo_id` as a module.

    A repo id mapped by LOCAL_KERNELS loads from its local directory before
    any revision, version or trust handling (and `backend` is not applied,
    as in the existing package). Otherwise the publisher must be trusted
    (or `trust_remote_code`), `revision` or `version` selects the commit,
    and the variant for this process is fetched into the cache, verified.

    `trust_remote_code`: False trusts only repositories of publishers the
    hub lists as trusted, True every repository, a list of repo ids those
    repositories besides the trusted publishers' ones.

    `check_arch`: a CUDA or ROCm build whose metadata.json declares
    architectures the current device cannot run (CUDA capability, ROCm
    gcnArchName) is refused with a RuntimeError naming both. The declared
    architectures can be incomplete (a kernel with a Triton fallback, say):
    `check_arch=False` skips the check.

    Every load checks the build's signature (metadata.json.sigstore, against
    the policy of KB_SIGNATURE_POLICY or the kernels-community workflows) and
    its files' digest. A digest mismatch is an error, a signature problem a
    warning; `require_signature=True` (or KERNELS_REQUIRE_SIGNATURE=1) makes
    a missing or failing signature a RuntimeError, local builds included.

    The kernel's dependencies (metadata kernel-depends) load first, found
    the same way.
    """
    located = _locate(
        repo_id,
        revision=revision,
        version=version,
        backend=backend,
        trust_remote_code=trust_remote_code,
        local_files_only=_core.offline_mode(),
        user_agent=user_agent,
        importable=deps.importable_now,
        check_arch=check_arch,
        device=device_arch,
        require_signature=require_signature,
    )
    return import_located(located)


def install_kernel(
    repo_id: str,
    *,
    revision: str | None = None,
    version: int | str | None = None,
    backend: str | None = None,
    local_files_only: bool = False,
    user_agent: str | dict | None = None,
    trust_remote_code: bool | list[str] = False,
) -> Path:
    """Downloads the variant of `repo_id` at `revision` (or the newest of
    major `version`) that fits this process into the cache, each file
    verified against the hub's hash, after the publisher trust check, with
    its kernel dependencies; returns its directory. Nothing is imported."""
    located = _locate(
        repo_id,
        revision=revision,
        version=version,
        backend=backend,
        trust_remote_code=trust_remote_code,
        local_files_only=local_files_only or _core.offline_mode(),
        user_agent=user_agent,
    )
    return Path(located.variant_dir)


def _locate(repo_id, *, revision, version, backend, trust_remote_code, local_files_only, user_agent, **checks):
    """The core's hub path (LOCAL_KERNELS first) for this process, warnings
    shown at the public loader's caller; `checks` are the importability and
    device checks of a load."""
    return locate_reporting(
        _core.locate,
        helper_frames=1,
        repo_id=repo_id,
        revision=revision,
        version=None if version is None else int(version),
        env=environment(None),
        backend=backend,
        detected_backend=detected_backend(),
        trust_remote_code=trust_remote_code,
        local_files_only=local_files_only,
        user_agent=build_user_agent(user_agent),
        **checks,
    )


def has_kernel(
    repo_id: str,
    *,
    revision: str | None = None,
    version: int | str | None = None,
    backend: str | None = None,
    trust_remote_code: bool | list[str] = False,
    check_arch: bool = True,
) -> bool:
    """Whether `repo_id` and its whole dependency tree have a build for this
    process (or for `backend`): a repo id LOCAL_KERNELS maps is looked up in
    its directory, any other on the hub (publisher trust as for get_kernel),
    reading only each build's metadata.json. Unless `check_arch=False`, the
    architectures a build declares must run on the current device."""
    env = environment(backend)
    agent = build_user_agent(None)
    offline = _core.offline_mode()
    available: dict[tuple, bool] = {}  # shared dependencies are looked at once

    def tree_available(kernel: tuple, path: list[tuple]) -> bool:
        if kernel in path:
            names = [repo for repo, _, _ in path[path.index(kernel):]] + [kernel[0]]
            raise ValueError("Cyclic kernel dependency detected: " + " -> ".join(names))
        if len(path) > _MAX_TREE_DEPTH:
            raise ValueError(f"Kernel dependency tree deeper than {_MAX_TREE_DEPTH} levels")
        if kernel not in available:
            metadata = _available_build(*kernel, env, agent, offline, trust_remote_code, check_arch)
            available[kernel] = metadata is not None and all(
                tree_available((dep.repo_id, dep.revision, dep.version), path + [kernel])
                for dep in metadata.kernel_depends
            )
        return available[kernel]

    return tree_available((repo_id, revision, version), [])


# As the core's tree walk: deeper than any real tree.
_MAX_TREE_DEPTH = 64


def _available_build(repo_id, revision, version, env, agent, offline, trust_remote_code, check_arch):
    """The metadata of the build of `repo_id` that would load here, or None."""
    local = _local_kernel_path(repo_id)
    if local is not None:
        try:
            choice = _core.choose_local_variant(path=local, env=env)
        except FileNotFoundError:
            return None
        metadata = _core.Metadata.read_from_file(choice.variant_dir / "metadata.json")
        variant = choice.variant_dir.name
    else:
        if not offline:  # offline the hub cannot be asked, as for get_kernel
            _check_trust(repo_id, trust_remote_code, agent)
        revision = _select_revision_or_version(
            repo_id, revision=revision, version=version, local_files_only=offline, agent=agent
        )
        best = _core.resolve(_core.hub_variants(repo_id, revision, agent), env).best
        if best is None:
            return None
        variant = best.variant_str
        metadata = _core.hub_variant_metadata(repo_id=repo_id, revision=revision, variant=variant, user_agent=agent)
        if metadata is None:
            return None
    if check_arch and _core.arch_refusal(metadata=metadata, variant=variant, device=device_arch) is not None:
        return None
    return metadata


def _check_trust(repo_id: str, trust_remote_code: bool | list[str], agent: str) -> None:
    if trust_remote_code is True or (isinstance(trust_remote_code, list) and repo_id in trust_remote_code):
        return
    if _core.publisher_trusted(org=repo_id.split("/", 1)[0], user_agent=agent) is False:
        raise ValueError(
            f"Kernel repository '{repo_id}' is not from a trusted publisher. Set trust_remote_code=True or add the "
            "repository ID to the trust_remote_code allowlist to allow loading kernels from untrusted sources."
        )


def get_local_kernel(
    repo_path: Path,
    *,
    backend: str | None = None,
    trust_remote_code: bool | list[str] = False,
    user_agent: str | dict | None = None,
    check_arch: bool = True,
    require_signature: bool = False,
) -> ModuleType:
    """Loads a kernel from a repository root (holding build/), a build/
    directory or a single variant directory, choosing the variant that fits
    this process best. Its kernel dependencies load first, as get_kernel
    finds them (LOCAL_KERNELS, else the hub with `trust_remote_code`).
    `check_arch` and `require_signature` as for get_kernel (a local build's
    signature is checked only when required)."""
    located = locate_reporting(
        _core.locate_local,
        path=Path(repo_path),
        env=environment(None),
        backend=backend,
        detected_backend=detected_backend(),
        importable=deps.importable_now,
        check_arch=check_arch,
        device=device_arch,
        trust_remote_code=trust_remote_code,
        local_files_only=_core.offline_mode(),
        user_agent=build_user_agent(user_agent),
        require_signature=require_signature,
    )
    return import_located(located)


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
    env = environment(backend)
    if local_path is not None:
        if not local_path.exists():
            raise FileNotFoundError(f"Could not find kernel in {local_path}")
        variants = local_variants(local_path)
    else:
        agent = build_user_agent(None)
        revision = _select_revision_or_version(
            repo_id, revision=revision, version=version, local_files_only=_core.offline_mode(), agent=agent
        )
        variants = _core.hub_variants(repo_id, revision, agent)
    resolution = _core.resolve(variants, env)
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


def _select_revision_or_version(
    repo_id: str, *, revision: str | None, version: int | str | None, local_files_only: bool, agent: str = ""
) -> str:
    """The revision to fetch: `revision` verbatim, or the commit of branch v<version>."""
    selected, warnings = _core.select_revision(
        repo_id=repo_id,
        revision=revision,
        version=None if version is None else int(version),
        local_files_only=local_files_only,
        user_agent=agent,
    )
    emit_warnings(warnings)
    return selected
