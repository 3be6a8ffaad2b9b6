"""Layers and functions of kernels pinned by a kernels.lock (runtime spec 8.4).

A repository object names a kernel and one layer (or function) in it; its
`load()` returns an `nn.Module` subclass. The locked commit is looked up when
the object is created, from the lock file given or from the calling
package's installed kernels.lock, so a kernel that is not locked is reported
where the repository is declared rather than when it is first loaded.

torch is imported only by `load()` and `func_module_class`.
"""
from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Callable

from .lockfile import _load_locked, _locked_entry

if TYPE_CHECKING:
    from torch import nn


def func_module_class(func: Callable, layer_name: str | None = None) -> type[nn.Module]:
    """A new `nn.Module` subclass named "Func" whose `forward` calls `func`.

    The class carries the flags kernelize reads (`can_torch_compile`, default
    False; `has_backward`, default True) from `func` when it sets them, and
    `forward` reports `func`'s signature with `self` in front, so that layer
    validation compares it with the layer it replaces. `kernel_layer_name`
    is set only when `layer_name` is given: a class loaded from a kernel must
    not carry members beyond those flags."""
    from torch import nn

    def forward(self, *args, **kwargs):
        return func(*args, **kwargs)

    signature = inspect.signature(func)
    forward.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *signature.parameters.values()],
        return_annotation=signature.return_annotation,
    )
    forward.__qualname__ = "Func.forward"
    members = {
        "__module__": __name__,
        "__qualname__": "Func",
        "can_torch_compile": getattr(func, "can_torch_compile", False),
        "has_backward": getattr(func, "has_backward", True),
        "forward": forward,
    }
    if layer_name is not None:
        members["kernel_layer_name"] = layer_name
    return type("Func", (nn.Module,), members)


def _hashable(trust_remote_code):
    # trust_remote_code may be a list: an allowlist of repo ids.
    return tuple(trust_remote_code) if isinstance(trust_remote_code, list) else trust_remote_code


class _LockedRepository:
    """What both locked repositories share: the kernel at its locked commit
    (looked up on creation), identity over (name, repo, commit, trust)."""

    def __init__(self, repo_id: str, lockfile: Path | None, name: str, trust_remote_code):
        self.repo_id = repo_id
        self.lockfile = lockfile
        self.trust_remote_code = trust_remote_code
        self._name = name
        self._locks, self._entry = _locked_entry(repo_id, lockfile)
        self.revision = self._entry.sha

    def _load_kernel(self) -> ModuleType:
        return _load_locked(self._locks, self._entry, trust_remote_code=self.trust_remote_code)

    def _key(self) -> tuple:
        return (self._name, self.repo_id, self.revision, _hashable(self.trust_remote_code))

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class LockedLayerRepository(_LockedRepository):
    """The layer `layer_name` of the kernel `repo_id` at the commit a
    kernels.lock pins it to.

    `lockfile` is the path of a kernels.lock; without it, the lock installed
    with the calling package is used. Raises ValueError when the lock does
    not name `repo_id`."""

    def __init__(
        self,
        repo_id: str,
        *,
        lockfile: Path | None = None,
        layer_name: str,
        trust_remote_code: bool | list[str] = False,
    ):
        super().__init__(repo_id, lockfile, layer_name, trust_remote_code)
        self.layer_name = layer_name

    def load(self) -> type[nn.Module]:
        """Loads the kernel at the locked commit and returns its layer class."""
        layers = getattr(self._load_kernel(), "layers", None)
        if layers is None:
            raise ValueError(f"Kernel repo {self} does not define any layers.")
        layer = getattr(layers, self.layer_name, None)
        if layer is None:
            raise ValueError(f"Layer `{self.layer_name}` not found in kernel repo {self}.")
        return layer

    def __str__(self) -> str:
        return f"`{self.repo_id}` (revision: {self.revision}), layer `{self.layer_name}`"

    def __repr__(self) -> str:
        return f"LockedLayerRepository({self.repo_id!r}, revision={self.revision!r}, layer_name={self.layer_name!r})"


class LockedFuncRepository(_LockedRepository):
    """The function `func_name` of the kernel `repo_id` at the commit a
    kernels.lock pins it to, loaded as an `nn.Module` class ("Func") whose
    `forward` calls it.

    Deprecated: use LockedLayerRepository."""

    def __init__(
        self,
        repo_id: str,
        *,
        lockfile: Path | None = None,
        func_name: str,
        trust_remote_code: bool | list[str] = False,
    ):
        warnings.warn(
            "LockedFuncRepository is deprecated and will be removed in kernels 0.17. "
            "Use [`LockedLayerRepository`] instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(repo_id, lockfile, func_name, trust_remote_code)
        self.func_name = func_name

    def load(self) -> type[nn.Module]:
        """Loads the kernel at the locked commit and returns a module class
        wrapping its function."""
        return _func_class_from_kernel(self, self._load_kernel())

    def __str__(self) -> str:
        return f"`{self.repo_id}` (revision: {self.revision}), function `{self.func_name}`"

    def __repr__(self) -> str:
        return f"LockedFuncRepository({self.repo_id!r}, revision={self.revision!r}, func_name={self.func_name!r})"


def _func_class_from_kernel(repo, kernel: ModuleType) -> type[nn.Module]:
    func = getattr(kernel, repo.func_name, None)
    if func is None:
        raise ValueError(f"Function `{repo.func_name}` not found in `{repo}`")
    return func_module_class(func)
