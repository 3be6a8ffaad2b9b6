"""Hub repositories as the loaders see them: where a loaded kernel came from,
and the user agent sent with every hub request (the publisher trust check is
in the C++ core, libkb/load)."""
from __future__ import annotations

import os
import platform
import sys
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
