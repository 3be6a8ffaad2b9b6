"""Hub repositories as the loaders see them: where a loaded kernel came from,
the user agent sent with every hub request, and the publisher trust check."""
from __future__ import annotations

import os
import platform
import sys
import warnings
from dataclasses import dataclass

from . import _core
from .compat import has_torch, has_tvm_ffi


@dataclass(frozen=True)
class RepoInfo:
    """Where a kernel loaded through `get_kernel` came from."""

    repo_id: str
    revision: str


_TRUTHY = {"1", "on", "yes", "true"}


def telemetry_disabled() -> bool:
    return os.environ.get("HF_HUB_DISABLE_TELEMETRY", "").strip().lower() in _TRUTHY


def user_agent(caller: str | dict | None = None) -> str:
    """The User-Agent of hub requests: the caller's part first, then what the
    hub's statistics use (runtime spec 4.1). With HF_HUB_DISABLE_TELEMETRY
    only the package and its version are sent, the caller's part included."""
    if telemetry_disabled():
        return f"kernels/{_core.__version__}"
    parts: list[str] = []
    if isinstance(caller, dict):
        parts.extend(f"{k}/{v}" for k, v in caller.items())
    elif isinstance(caller, str) and caller:
        parts.append(caller)
    parts.extend(_environment_parts())
    return "; ".join(parts)


def _environment_parts() -> list[str]:
    from ._environment import environment

    env = environment(None)
    parts = [
        f"kernels/{_core.__version__}",
        f"python/{sys.version_info.major}.{sys.version_info.minor}",
        f"backend/{env.backend}",
        f"platform/{env.cpu}-{env.os}",
        "file_type/kernel",
    ]
    if has_torch:
        import torch

        parts.append(f"torch/{torch.__version__}")
    if has_tvm_ffi:
        import tvm_ffi

        parts.append(f"tvm-ffi/{tvm_ffi.__version__}")
    libc, version = platform.libc_ver()
    if libc == "glibc" and version:
        parts.append(f"glibc/{version}")
    return parts


# Publishers found trusted in this process: trust is asked once per
# organisation, not on every get_kernel.
_trusted_publishers: set[tuple[str, str]] = set()


def check_trust_remote_code(repo_id: str, *, local_files_only: bool, trust_remote_code, agent: str = "") -> None:
    """Raises ValueError unless `repo_id` may be loaded (runtime spec 4.5).

    Hubs without publishers (the local hub, git servers the user chose) trust
    what they hold; the Hugging Face Hub answers through the publisher's
    organisation overview."""
    if trust_remote_code is True:
        return
    if isinstance(trust_remote_code, list):
        warnings.warn(
            "Signing identity verification is not yet implemented. The provided signing identities will be "
            "ignored and the kernel will be treated as untrusted. Use trust_remote_code=True to bypass trust checks.",
            UserWarning,
            stacklevel=3,
        )
    if local_files_only:
        warnings.warn(
            f"Skipping publisher trust check for '{repo_id}' because Hugging Face Hub is in offline mode.",
            UserWarning,
            stacklevel=3,
        )
        return
    publisher = repo_id.split("/", 1)[0]
    key = (os.environ.get("KB_HUB", "") + "|" + os.environ.get("HF_ENDPOINT", ""), publisher)
    if key in _trusted_publishers:
        return
    try:
        trusted = _core.publisher_trusted(publisher, agent)
    except Exception as e:
        raise ValueError(
            f"Kernel repository '{repo_id}' could not verify publisher trust status. "
            "Set trust_remote_code=True to allow loading kernels from untrusted sources."
        ) from e
    if trusted is None:
        return
    if not trusted:
        raise ValueError(
            f"Kernel repository '{repo_id}' is not from a trusted publisher. "
            "Set trust_remote_code=True to allow loading kernels from untrusted sources."
        )
    _trusted_publishers.add(key)
