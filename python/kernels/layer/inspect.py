"""Which layers of a model run kernels, and from which repositories."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MethodType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

    from .repos import RepositoryProtocol


@dataclass(frozen=True)
class KernelizedLayer:
    """A module running a kernel layer's forward, and where it came from."""

    module: nn.Module
    repo: RepositoryProtocol


@dataclass(frozen=True)
class KernelizedFunc:
    """A model's private copy of a kernelized function, and where its kernel
    came from."""

    module: nn.Module
    repo: RepositoryProtocol


@dataclass(frozen=True)
class KernelizedLayers:
    """The kernels a model uses: `layers` by module name (as
    `named_modules` spells it), `funcs` by (module name, function name)."""

    layers: dict[str, KernelizedLayer] = field(default_factory=dict)
    funcs: dict[tuple[str, str], KernelizedFunc] = field(default_factory=dict)


def _kernel_repo(module):
    """The repository whose layer runs as `module`'s forward, or None. A
    module restored by pickle keeps its record but not the bound forward
    (bound methods pickle by name): it is not reported as kernelized."""
    repo = module.__dict__.get("_kernel_repo")
    forward = module.__dict__.get("forward")
    if repo is None or not isinstance(forward, MethodType) or forward.__self__ is not module:
        return None
    if forward.__func__ is getattr(type(module), "forward", None):
        return None
    return repo


def get_kernelized_layers(model: nn.Module) -> KernelizedLayers:
    """The layers and functions of `model` that run kernels after kernelize."""
    found = KernelizedLayers()
    for name, module in model.named_modules():
        repo = _kernel_repo(module)
        if repo is not None:
            found.layers[name] = KernelizedLayer(module, repo)
        # Functions attached by use_kernelized_func are not submodules.
        for func_name, func_module in module.__dict__.get("_kernel_funcs", {}).items():
            repo = _kernel_repo(func_module)
            if repo is not None:
                found.funcs[(name, func_name)] = KernelizedFunc(func_module, repo)
    return found
