"""Layers and kernelize: replace the forward of a model's layers with
kernels from the hub or from disk, per device and mode."""
from .device import CUDAProperties, Device, ROCMProperties
from .func import FuncRepository, LocalFuncRepository, LockedFuncRepository, use_kernel_func_from_hub
from .inspect import KernelizedFunc, KernelizedLayer, KernelizedLayers, get_kernelized_layers
from .kernelize import kernelize, register_kernel_mapping, use_kernel_mapping
from .layer import (
    KernelizeFallback,
    LayerRepository,
    LocalLayerRepository,
    LockedLayerRepository,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernelized_func,
)
from .mode import Mode

__all__ = [
    "CUDAProperties",
    "Device",
    "FuncRepository",
    "KernelizeFallback",
    "KernelizedFunc",
    "KernelizedLayer",
    "KernelizedLayers",
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
]
