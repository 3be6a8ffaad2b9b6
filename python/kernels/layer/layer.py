"""Layers that kernels can replace, the repositories kernels come from, and
the per-layer step of kernelize.

A model's layer class opts in with `use_kernel_forward_from_hub("Name")`
(or `replace_kernel_forward_from_hub(cls, "Name")` for a class one does not
own). A kernel offers replacement layers in its `layers` module: stateless
`nn.Module` subclasses whose `forward` reads the replaced module's own
attributes (its weights, its epsilon). kernelize binds that forward to each
module instance; the class itself is never changed.
"""
from __future__ import annotations

import inspect
import logging
from enum import Flag
from pathlib import Path
from types import MethodType, ModuleType
from typing import TYPE_CHECKING, Callable

from ..load import get_kernel, get_local_kernel
from ..lockfile import _locked_entry
from . import globals as _globals
from ._func_module import create_func_module, use_kernelized_func
from .device import Device
from .mode import Mode
from .repos import RepositoryProtocol, _select_repository

if TYPE_CHECKING:
    from torch import nn

logger = logging.getLogger(__name__)

__all__ = [
    "KernelizeFallback",
    "LayerRepository",
    "LocalLayerRepository",
    "LockedLayerRepository",
    "replace_kernel_forward_from_hub",
    "use_kernel_forward_from_hub",
    "use_kernelized_func",
]


class KernelizeFallback(Flag):
    """When kernelize may keep a layer's own forward instead of raising.

    NO_LAYER: the mapping has no entry for the layer; NO_DEVICE: none for the
    device type; NO_COMPATIBLE_PROPERTIES: none for the device's capability;
    NO_COMPATIBLE_MODE: no repository, or no loaded layer, supports the mode;
    CANNOT_LOAD: the kernel's files cannot be found while loading it.
    DEFAULT (what `use_fallback=True` means) is all but CANNOT_LOAD; ALL is
    every case; NONE (`use_fallback=False`) raises in each."""

    NONE = 0
    NO_LAYER = 1
    NO_DEVICE = 2
    NO_COMPATIBLE_PROPERTIES = 4
    NO_COMPATIBLE_MODE = 8
    CANNOT_LOAD = 16
    DEFAULT = NO_LAYER | NO_DEVICE | NO_COMPATIBLE_PROPERTIES | NO_COMPATIBLE_MODE
    ALL = DEFAULT | CANNOT_LOAD


def _hashable_trust(trust_remote_code):
    return tuple(trust_remote_code) if isinstance(trust_remote_code, list) else trust_remote_code


def _check_pin(revision, version) -> None:
    """A hub repository names exactly one of a revision and a version."""
    if revision is not None and version is not None:
        raise ValueError("Either a revision or a version must be specified, not both.")
    if revision is None and version is None:
        raise ValueError("Either a revision or a version must be specified.")


def _pin_str(revision, version) -> str:
    return revision if revision is not None else f"version {version}"


def _copy_trust(trust_remote_code):
    # A caller's allowlist may change later; the repository keeps its own.
    return list(trust_remote_code) if isinstance(trust_remote_code, list) else trust_remote_code


def _layer_of(repo, kernel: ModuleType) -> type[nn.Module]:
    """The layer class `repo.layer_name` of a loaded kernel."""
    layers = getattr(kernel, "layers", None)
    if layers is None:
        raise ValueError(f"Kernel repo {repo} does not define any layers.")
    layer = getattr(layers, repo.layer_name, None)
    if layer is None:
        raise ValueError(f"Layer `{repo.layer_name}` not found in kernel repo {repo}.")
    return layer


class LayerRepository:
    """The layer `layer_name` of the hub kernel `repo_id`, at a `version`
    (the newest build of branch v<version>) or a `revision` (branch, tag or
    commit): exactly one of the two. Nothing is fetched until `load()`.
    `trust_remote_code` (True, or an allowlist of repo ids) and `check_arch`
    as for get_kernel."""

    def __init__(
        self,
        repo_id: str,
        *,
        layer_name: str,
        revision: str | None = None,
        version: int | None = None,
        trust_remote_code: bool | list[str] = False,
        user_agent: str | dict | None = None,
        check_arch: bool = True,
    ):
        _check_pin(revision, version)
        self._repo_id = repo_id
        self.layer_name = layer_name
        self._revision = revision
        self._version = version
        self._trust_remote_code = _copy_trust(trust_remote_code)
        self._user_agent = user_agent
        self._check_arch = check_arch

    @property
    def repo_id(self) -> str:
        return self._repo_id

    def load(self) -> type[nn.Module]:
        kernel = get_kernel(
            self._repo_id,
            revision=self._revision,
            version=self._version,
            trust_remote_code=self._trust_remote_code,
            user_agent=self._user_agent,
            check_arch=self._check_arch,
        )
        return _layer_of(self, kernel)

    def _key(self) -> tuple:
        return (
            self.layer_name,
            self._repo_id,
            self._revision,
            self._version,
            _hashable_trust(self._trust_remote_code),
            self._check_arch,
        )

    def __eq__(self, other):
        return isinstance(other, LayerRepository) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __str__(self) -> str:
        return f"`{self._repo_id}` (revision: {_pin_str(self._revision, self._version)}), layer `{self.layer_name}`"

    def __repr__(self) -> str:
        pin = f"revision={self._revision!r}" if self._revision is not None else f"version={self._version!r}"
        return f"LayerRepository({self._repo_id!r}, layer_name={self.layer_name!r}, {pin})"


class LocalLayerRepository:
    """The layer `layer_name` of a kernel on disk: a repository root with
    build/, a build/ directory or one variant directory. `check_arch` as for
    get_kernel."""

    def __init__(self, repo_path: Path, *, layer_name: str, check_arch: bool = True):
        self._repo_path = repo_path
        self.layer_name = layer_name
        self._check_arch = check_arch

    @property
    def repo_path(self) -> Path:
        return self._repo_path

    def load(self) -> type[nn.Module]:
        return _layer_of(self, get_local_kernel(self._repo_path, check_arch=self._check_arch))

    def __eq__(self, other):
        return (
            isinstance(other, LocalLayerRepository)
            and self.layer_name == other.layer_name
            and self._repo_path == other._repo_path
            and self._check_arch == other._check_arch
        )

    def __hash__(self):
        return hash((self.layer_name, self._repo_path, self._check_arch))

    def __str__(self) -> str:
        return f"`{self._repo_path}` (layer `{self.layer_name}`)"

    def __repr__(self) -> str:
        return f"LocalLayerRepository({str(self._repo_path)!r}, layer_name={self.layer_name!r})"


class _LockedRepository:
    """What both locked repositories share: the kernel at the commit a
    kernels.lock pins (looked up on creation, so an unlocked kernel is
    reported where the repository is declared), identity over (name, repo,
    commit, trust, check_arch)."""

    def __init__(self, repo_id: str, lockfile: Path | None, name: str, trust_remote_code, check_arch: bool = True):
        self.repo_id = repo_id
        self.lockfile = lockfile
        self.trust_remote_code = _copy_trust(trust_remote_code)
        self.check_arch = check_arch
        self._name = name
        # ValueError, as kernels 0.19 words it, when the lock does not name repo_id.
        _, entry = _locked_entry(repo_id, lockfile)
        self.revision = entry.sha

    def _load_kernel(self) -> ModuleType:
        return get_kernel(
            self.repo_id,
            revision=self.revision,
            trust_remote_code=self.trust_remote_code,
            check_arch=self.check_arch,
        )

    def _key(self) -> tuple:
        return (self._name, self.repo_id, self.revision, _hashable_trust(self.trust_remote_code), self.check_arch)

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class LockedLayerRepository(_LockedRepository):
    """The layer `layer_name` of the kernel `repo_id` at the commit a
    kernels.lock pins it to: `lockfile`, or the lock installed with the
    calling package. ValueError when the lock does not name `repo_id`."""

    def __init__(
        self,
        repo_id: str,
        *,
        lockfile: Path | None = None,
        layer_name: str,
        trust_remote_code: bool | list[str] = False,
        check_arch: bool = True,
    ):
        super().__init__(repo_id, lockfile, layer_name, trust_remote_code, check_arch)
        self.layer_name = layer_name

    def load(self) -> type[nn.Module]:
        """Loads the kernel at the locked commit and returns its layer class."""
        return _layer_of(self, self._load_kernel())

    def __str__(self) -> str:
        return f"`{self.repo_id}` (revision: {self.revision}), layer `{self.layer_name}`"

    def __repr__(self) -> str:
        return f"LockedLayerRepository({self.repo_id!r}, revision={self.revision!r}, layer_name={self.layer_name!r})"


def replace_kernel_forward_from_hub(cls, layer_name: str, condition: Callable[[nn.Module], bool] | None = None):
    """Makes an existing layer class replaceable under `layer_name` (prefer
    the decorator for classes you own). `condition(module)`, when given, is
    asked for every instance at kernelize time; False keeps that instance's
    own forward."""
    cls.kernel_layer_name = layer_name
    # A staticmethod, so access through an instance does not bind it.
    cls.kernel_condition = staticmethod(condition if condition is not None else _always)


def _always(module) -> bool:
    return True


def use_kernel_forward_from_hub(layer_name: str, condition: Callable[[nn.Module], bool] | None = None):
    """Decorator making a layer class replaceable by kernels mapped under
    `layer_name`. On a function, returns a module instance whose forward
    calls the function (see `use_kernelized_func` for attaching it to a
    model)."""

    def decorator(target):
        if inspect.isfunction(target):
            func_class = create_func_module(target)
            replace_kernel_forward_from_hub(func_class, layer_name, condition)
            return func_class()
        if inspect.isclass(target):
            replace_kernel_forward_from_hub(target, layer_name, condition)
            return target
        raise TypeError("@use_kernel_forward_from_hub can only be applied to classes or functions")

    return decorator


# Layer classes loaded so far, per repository (repositories compare by what
# they name): a kernel is loaded and validated once per process.
_CACHED_LAYER: dict = {}


def _get_layer_memoize(repo: RepositoryProtocol, module_class: type) -> type[nn.Module]:
    layer = _CACHED_LAYER.get(repo)
    if layer is None:
        layer = repo.load()
        _validate_layer(check_cls=module_class, cls=layer, repo=repo)
        _CACHED_LAYER[repo] = layer
    return layer


def _validate_layer(*, check_cls, cls, repo) -> None:
    """A replacement layer must be stateless (no constructor, no members
    beyond the mode flags) and take the same kinds of forward arguments as
    the layer it replaces; the reasons name the repository and the rule."""
    from torch import nn

    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise TypeError(f"Layer `{getattr(cls, '__name__', cls)}` is not a Torch layer.")
    if cls.__init__ is not nn.Module.__init__:
        raise TypeError(f"{repo} must not override nn.Module constructor.")
    # nn.Module's own members are read each time: torch.compile adds some.
    allowed = {name for name, _ in inspect.getmembers(nn.Module)}
    allowed |= {"__copy__", "__deepcopy__", "can_torch_compile", "has_backward"}
    if any(name not in allowed for name, _ in inspect.getmembers(cls)):
        raise TypeError(f"{repo} must not contain additional members compared to `{check_cls.__name__}`.")
    params = list(inspect.signature(cls.forward).parameters.values())
    reference = list(inspect.signature(check_cls.forward).parameters.values())
    if len(params) != len(reference):
        raise TypeError(
            f"Forward signature of {repo} does not match `{check_cls.__name__}`: different number of arguments."
        )
    for param, ref in zip(params, reference):
        if param.kind != ref.kind:
            raise TypeError(
                f"Forward signature of {repo} does not match `{check_cls.__name__}`: different kind of arguments "
                f"({param} ({param.kind}) and {ref} ({ref.kind})"
            )


def _check_registered_mode(layer_name: str, layer, repo, registered: Mode) -> None:
    """A layer registered for training must have a backward, one registered
    for torch.compile must support it: raised whatever the fallback policy,
    since the mapping itself is wrong."""
    if Mode.TRAINING in registered and not getattr(layer, "has_backward", True):
        raise ValueError(
            f"Function/layer from repo {repo} does not support backward.\n"
            f"Was registered for `{layer_name}` with mode `{registered}`"
        )
    if Mode.TORCH_COMPILE in registered and not getattr(layer, "can_torch_compile", False):
        raise ValueError(
            f"Function/layer from repo {repo} does not support torch.compile.\n"
            f"Was registered for `{layer_name}` with mode `{registered}`"
        )


class _Replacement:
    """What kernelize decided for a module class: its own forward (layer
    None) or a kernel layer's, with the repository it came from."""

    __slots__ = ("layer", "repo")

    def __init__(self, layer=None, repo=None):
        self.layer = layer
        self.repo = repo


_OWN_FORWARD = _Replacement()


def bind_forward(module: nn.Module, layer: type | None, repo) -> None:
    """Binds `layer`'s forward to `module` (its own class's for None), and
    records the repository where get_kernelized_layers finds it."""
    if layer is None:
        module.forward = MethodType(type(module).forward, module)
        module.__dict__.pop("_kernel_repo", None)
    else:
        module.forward = MethodType(layer.forward, module)
        module.__dict__["_kernel_repo"] = repo


def plan_layer(
    module: nn.Module,
    *,
    mode: Mode,
    device_type: Device,
    use_fallback: KernelizeFallback,
    device_index: int | None = None,
) -> _Replacement:
    """Decides which forward modules of `module`'s class get; raises where
    the fallback policy does not allow keeping their own."""
    module_class = type(module)
    layer_name = module_class.kernel_layer_name
    if _globals._DISABLE_KERNEL_MAPPING:
        return _OWN_FORWARD

    def fall_back(case: KernelizeFallback, error: str) -> _Replacement:
        if case not in use_fallback:
            raise ValueError(error)
        return _OWN_FORWARD

    device_repos = _globals._KERNEL_MAPPING.get().get(str(layer_name))
    if device_repos is None:
        logger.warning(
            "\nNo kernel mapping found for layer `%s`. Check if the layer name matches one of the kernels in the "
            "mapping or add the kernel you want to use to the mapping. Defaulting to original forward implementation.",
            layer_name,
        )
        return fall_back(KernelizeFallback.NO_LAYER, f"No layer mapping for `{layer_name}`")
    property_repos = device_repos.get(device_type.type)
    if property_repos is None:
        return fall_back(
            KernelizeFallback.NO_DEVICE, f"No layer mapping for `{layer_name}` with device type `{device_type}`"
        )
    repos = property_repos.repos_for_device(device_index)
    if repos is None:
        return fall_back(
            KernelizeFallback.NO_COMPATIBLE_PROPERTIES,
            f"No layer mapping for `{layer_name}` device `{device_type}` with the right properties",
        )
    selected = _select_repository(repos, mode=mode)
    if selected is None:
        return fall_back(
            KernelizeFallback.NO_COMPATIBLE_MODE, f"No repository for `{layer_name}` for configuration mode={mode}"
        )
    repo, registered = selected
    logger.info("Using function/layer from repo %s", repo)
    logger.debug("kernelize mode: %s, repo mode: %s", mode, registered)
    try:
        layer = _get_layer_memoize(repo, module_class)
    except FileNotFoundError:
        if KernelizeFallback.CANNOT_LOAD not in use_fallback:
            raise
        logger.info(
            "Kernel for layer `%s` on %s could not be loaded; using the original forward.", layer_name, device_type.type
        )
        return _OWN_FORWARD
    _check_registered_mode(layer_name, layer, repo, registered)

    lacks_compile = Mode.TORCH_COMPILE in mode and not getattr(layer, "can_torch_compile", False)
    lacks_backward = Mode.TRAINING in mode and not getattr(layer, "has_backward", True)
    if lacks_compile or lacks_backward:
        if KernelizeFallback.NO_COMPATIBLE_MODE not in use_fallback:
            raise ValueError(f"Available kernel does not support mode: {mode}")
        if lacks_compile:
            logger.info("Layer does not support torch.compile, using fallback")
        if lacks_backward:
            logger.info("Layer does not support backward, using fallback")
        return _OWN_FORWARD
    return _Replacement(layer, repo)


def kernelize_layer(
    module: nn.Module,
    *,
    mode: Mode,
    device_type: Device,
    use_fallback: KernelizeFallback,
    device_index: int | None = None,
) -> None:
    """Kernelizes one module (see `kernelize`)."""
    decision = plan_layer(
        module, mode=mode, device_type=device_type, use_fallback=use_fallback, device_index=device_index
    )
    bind_forward(module, decision.layer, decision.repo)
