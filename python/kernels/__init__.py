"""kernels: load compute kernels for PyTorch, and swap model layers for them.

Importing this package never imports torch; torch is imported when a kernel
is first resolved or loaded, or when a model is kernelized. The layer API
(kernels.layer) is imported on first use of one of its names, so loaders
that never kernelize do not pay for it.
"""
from ._core import Metadata, __version__
from .hf_hub import RepoInfo
from .importer import LoadedKernel, get_kernel_dep, get_loaded_kernels
from .load import get_kernel, get_kernel_variants, get_local_kernel, has_kernel, install_kernel
from .lockfile import get_locked_kernel, load_kernel
from .variants import VariantAccepted, VariantRejected

_LAYER_NAMES = frozenset(
    {
        "CUDAProperties",
        "Device",
        "FuncRepository",
        "KernelizedFunc",
        "KernelizedLayer",
        "KernelizedLayers",
        "KernelizeFallback",
        "LayerRepository",
        "LocalFuncRepository",
        "LocalLayerRepository",
        "LockedFuncRepository",
        "LockedLayerRepository",
        "Mode",
        "ROCMProperties",
        "get_kernelized_layers",
        "kernelize",
        "register_kernel_mapping",
        "replace_kernel_forward_from_hub",
        "use_kernel_forward_from_hub",
        "use_kernel_func_from_hub",
        "use_kernel_mapping",
        "use_kernelized_func",
    }
)


def __getattr__(name: str):
    if name in _LAYER_NAMES:
        from . import layer

        value = getattr(layer, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAYER_NAMES)


__all__ = [
    "__version__",
    "LoadedKernel",
    "Metadata",
    "RepoInfo",
    "VariantAccepted",
    "VariantRejected",
    "get_kernel",
    "get_kernel_dep",
    "get_kernel_variants",
    "get_loaded_kernels",
    "get_local_kernel",
    "get_locked_kernel",
    "has_kernel",
    "install_kernel",
    "load_kernel",
    *sorted(_LAYER_NAMES),
]
