"""Deprecated function repositories: a kernel's plain function loaded as a
layer ("Func" module) for a mapping. Use the layer repositories instead."""
from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..load import get_kernel, get_local_kernel
from ._func_module import create_func_module
from .layer import _check_pin, _copy_trust, _hashable_trust, _LockedRepository, _pin_str, use_kernel_forward_from_hub

if TYPE_CHECKING:
    from torch import nn

logger = logging.getLogger(__name__)


def _deprecated(name: str, replacement: str) -> None:
    logger.warning(f"{name} is deprecated and will be removed in kernels 0.17. Use {replacement} instead.")


def _func_layer(repo, kernel: ModuleType) -> type[nn.Module]:
    func = getattr(kernel, repo.func_name, None)
    if func is None:
        raise ValueError(f"Function `{repo.func_name}` not found in `{repo}`")
    return create_func_module(func)


class FuncRepository:
    """The function `func_name` of the hub kernel `repo_id` at a `version`
    or a `revision`. Deprecated: use LayerRepository."""

    def __init__(
        self,
        repo_id: str,
        *,
        func_name: str,
        revision: str | None = None,
        version: int | None = None,
        trust_remote_code: bool | list[str] = False,
        check_arch: bool = True,
    ):
        _deprecated("FuncRepository", "LayerRepository")
        _check_pin(revision, version)
        self._repo_id = repo_id
        self.func_name = func_name
        self._revision = revision
        self._version = version
        self._trust_remote_code = _copy_trust(trust_remote_code)
        self._check_arch = check_arch

    def load(self) -> type[nn.Module]:
        kernel = get_kernel(
            self._repo_id,
            revision=self._revision,
            version=self._version,
            trust_remote_code=self._trust_remote_code,
            check_arch=self._check_arch,
        )
        return _func_layer(self, kernel)

    def _key(self) -> tuple:
        return (
            self.func_name,
            self._repo_id,
            self._revision,
            self._version,
            _hashable_trust(self._trust_remote_code),
            self._check_arch,
        )

    def __eq__(self, other):
        return isinstance(other, FuncRepository) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self) -> str:
        return f"`{self._repo_id}` (revision: {_pin_str(self._revision, self._version)}), function `{self.func_name}`"


class LocalFuncRepository:
    """The function `func_name` of a kernel on disk. Deprecated: use
    LocalLayerRepository."""

    def __init__(self, repo_path: Path, *, func_name: str, check_arch: bool = True):
        _deprecated("LocalFuncRepository", "LocalLayerRepository")
        self._repo_path = repo_path
        self.func_name = func_name
        self._check_arch = check_arch

    def load(self) -> type[nn.Module]:
        return _func_layer(self, get_local_kernel(self._repo_path, check_arch=self._check_arch))

    def __eq__(self, other):
        return (
            isinstance(other, LocalFuncRepository)
            and self.func_name == other.func_name
            and self._repo_path == other._repo_path
            and self._check_arch == other._check_arch
        )

    def __hash__(self):
        return hash((self.func_name, self._repo_path, self._check_arch))

    def __str__(self) -> str:
        return f"`{self._repo_path}` (function `{self.func_name}`)"


class LockedFuncRepository(_LockedRepository):
    """The function `func_name` of the kernel `repo_id` at the commit a
    kernels.lock pins it to. Deprecated: use LockedLayerRepository."""

    def __init__(
        self,
        repo_id: str,
        *,
        lockfile: Path | None = None,
        func_name: str,
        trust_remote_code: bool | list[str] = False,
        check_arch: bool = True,
    ):
        _deprecated("LockedFuncRepository", "LockedLayerRepository")
        super().__init__(repo_id, lockfile, func_name, trust_remote_code, check_arch)
        self.func_name = func_name

    def load(self) -> type[nn.Module]:
        """Loads the kernel at the locked commit and returns a module class
        wrapping its function."""
        return _func_layer(self, self._load_kernel())

    def __str__(self) -> str:
        return f"`{self.repo_id}` (revision: {self.revision}), function `{self.func_name}`"

    def __repr__(self) -> str:
        return f"LockedFuncRepository({self.repo_id!r}, revision={self.revision!r}, func_name={self.func_name!r})"


def use_kernel_func_from_hub(func_name: str):
    """Deprecated spelling of `use_kernel_forward_from_hub` for functions."""
    _deprecated("use_kernel_func_from_hub", "[`use_kernel_forward_from_hub`]")
    return use_kernel_forward_from_hub(func_name)
