"""kernels: load compute kernels for PyTorch.

Importing this package never imports torch; torch is imported when a kernel
is first resolved or loaded.
"""
from ._core import Metadata, __version__
from .hf_hub import RepoInfo
from .importer import LoadedKernel, get_loaded_kernels
from .layer_repositories import LockedFuncRepository, LockedLayerRepository
from .load import get_kernel, get_kernel_variants, get_local_kernel, has_kernel, install_kernel
from .lockfile import get_locked_kernel, load_kernel
from .variants import VariantAccepted, VariantRejected

__all__ = [
    "__version__",
    "LoadedKernel",
    "LockedFuncRepository",
    "LockedLayerRepository",
    "Metadata",
    "RepoInfo",
    "VariantAccepted",
    "VariantRejected",
    "get_kernel",
    "get_kernel_variants",
    "get_loaded_kernels",
    "get_local_kernel",
    "get_locked_kernel",
    "has_kernel",
    "install_kernel",
    "load_kernel",
]
