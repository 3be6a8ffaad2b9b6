"""The kernel mapping (which repository serves which layer, device and mode)
and `kernelize`, which binds mapped kernel layers to a model's modules."""
from __future__ import annotations

import contextlib
import logging
from copy import deepcopy
from typing import TYPE_CHECKING, Iterator, Union

from . import globals as _globals
from .device import Device
from .layer import KernelizeFallback, bind_forward, plan_layer
from .mode import Mode
from .repos import REGISTRABLE_MODES, DeviceRepos, RepositoryProtocol

if TYPE_CHECKING:
    import torch
    from torch import nn

logger = logging.getLogger(__name__)

Mapping = dict[str, dict[Union[Device, str], Union[RepositoryProtocol, dict[Mode, RepositoryProtocol]]]]


def register_kernel_mapping(mapping: Mapping, inherit_mapping: bool = True) -> None:
    """Adds `mapping` ({layer name: {device: repository or {mode:
    repository}}}) to the mapping in effect; `inherit_mapping=False` clears
    that first. A bare repository is registered for Mode.FALLBACK. For a
    layer and device type already mapped, a new entry replaces the old one
    (for CUDA and ROCm: the entry of the same capability range).

    The whole mapping is checked before anything is registered, so a bad
    entry (unknown device type, a mode that cannot be registered, a value
    that is not a repository) leaves the mapping in effect unchanged."""
    entries = list(_entries(mapping))
    if not inherit_mapping:
        _globals._KERNEL_MAPPING.set({})
    current = _globals._KERNEL_MAPPING.get()
    for layer_name, device, modes in entries:
        device_repos = current.setdefault(layer_name, {})
        container = device_repos.get(device.type)
        if container is None:
            container = device_repos[device.type] = DeviceRepos.create_repo(device)
        container.insert(device, modes)


def _entries(mapping: Mapping) -> Iterator[tuple[str, Device, dict]]:
    for layer_name, devices in mapping.items():
        for device_key, value in devices.items():
            device = Device(type=device_key) if isinstance(device_key, str) else device_key
            if not isinstance(device, Device):
                raise ValueError(
                    f"Kernel mapping for layer `{layer_name}`: {device_key!r} is not a device (use a device type "
                    "such as \"cuda\" or a Device)"
                )
            if device.type not in DeviceRepos.DEVICE_TYPES:
                raise ValueError(
                    f"Unknown device type: {device.type} (kernel mapping for layer `{layer_name}`; known types: "
                    f"{', '.join(DeviceRepos.DEVICE_TYPES)})"
                )
            modes = value if isinstance(value, dict) else {Mode.FALLBACK: value}
            for mode, repo in modes.items():
                where = f"Kernel mapping for layer `{layer_name}` on device `{device.type}`"
                if not isinstance(mode, Mode) or mode not in REGISTRABLE_MODES:
                    raise ValueError(
                        f"{where}: {mode!r} cannot be registered for {repo}; register Mode.INFERENCE or "
                        "Mode.TRAINING (either optionally | Mode.TORCH_COMPILE) or Mode.FALLBACK"
                    )
                if not callable(getattr(repo, "load", None)):
                    raise ValueError(
                        f"{where} with mode {mode}: {repo!r} is not a repository (an object with a load() method, "
                        "such as LayerRepository)"
                    )
            yield layer_name, device, modes


@contextlib.contextmanager
def _mapping_scope(mapping: Mapping, inherit_mapping: bool):
    base = deepcopy(_globals._KERNEL_MAPPING.get()) if inherit_mapping else {}
    token = _globals._KERNEL_MAPPING.set(base)
    try:
        register_kernel_mapping(mapping)
        yield
    finally:
        _globals._KERNEL_MAPPING.reset(token)


def use_kernel_mapping(mapping: Mapping, *, inherit_mapping: bool = True):
    """Context manager: `mapping` is in effect inside the block, on top of
    the enclosing mapping (or alone with `inherit_mapping=False`); the
    enclosing mapping is back unchanged after it."""
    return _mapping_scope(mapping, inherit_mapping)


_SUPPORTED_DEVICE_TYPES = ("cpu", "cuda", "mps", "neuron", "npu", "rocm", "tpu", "xpu")


def kernelize(
    model: nn.Module,
    *,
    mode: Mode,
    device: str | torch.device | None = None,
    use_fallback: bool | KernelizeFallback = True,
) -> nn.Module:
    """Binds the mapped kernel layers to the replaceable modules of `model`
    (in place) and returns it.

    `mode` is INFERENCE or TRAINING, optionally | TORCH_COMPILE. `device`
    (a type name or a torch.device) defaults to the device of the model's
    first parameter. `use_fallback` says in which cases a module keeps its
    own forward instead of raising (see KernelizeFallback; True is DEFAULT,
    False is NONE). Every module is decided before any is changed: when
    kernelize raises, the model is as it was."""
    if mode == Mode.FALLBACK:
        raise ValueError("Mode.FALLBACK can only be used to register kernel mappings.")
    if Mode.INFERENCE not in mode and Mode.TRAINING not in mode:
        raise ValueError("kernelize mode must contain Mode.INFERENCE or Mode.TRAINING.")
    if device is None:
        device_type = _find_device(model)
    elif isinstance(device, str):
        if device not in _SUPPORTED_DEVICE_TYPES:
            raise ValueError(
                f"Unsupported device type '{device}'. Supported device types are: {', '.join(_SUPPORTED_DEVICE_TYPES)}"
            )
        device_type = Device(type=device)
    else:
        device_type = _device_type_from_torch(device.type)
    if isinstance(use_fallback, bool):
        use_fallback = KernelizeFallback.DEFAULT if use_fallback else KernelizeFallback.NONE
    device_index = None if device is None or isinstance(device, str) else device.index

    # What a module gets depends on its class only (its layer name), so it
    # is decided once per class: loading, validation and errors included.
    decided: dict = {}

    def plan(module):
        key = type(module)
        replacement = decided.get(key)
        if replacement is None:
            replacement = decided[key] = plan_layer(
                module, mode=mode, device_type=device_type, use_fallback=use_fallback, device_index=device_index
            )
        return replacement.layer, replacement.repo

    plans = []
    for module in model.modules():
        for func_module in module.__dict__.get("_kernel_funcs", {}).values():
            plans.append((func_module, *plan(func_module)))
        module_class = type(module)
        if not hasattr(module_class, "kernel_layer_name"):
            continue
        condition = getattr(module_class, "kernel_condition", None)
        if condition is not None and not condition(module):
            logger.info(
                "Skipping kernelization for `%s` using `%s` due to kernel_condition.",
                module_class.__name__,
                module_class.kernel_layer_name,
            )
            continue
        plans.append((module, *plan(module)))
    for module, layer, repo in plans:
        bind_forward(module, layer, repo)
    return model


def _find_device(model: nn.Module) -> Device:
    try:
        param = next(model.parameters())
    except StopIteration:
        raise ValueError("Cannot determine model device, provide as `device` argument to `kernelize`.") from None
    return _device_type_from_torch(param.device.type)


def _device_type_from_torch(device_type: str) -> Device:
    """A torch device type as a mapping's device type: ROCm GPUs are "cuda"
    to torch."""
    if device_type == "cuda":
        import torch

        if getattr(torch.version, "hip", None) is not None:
            return Device(type="rocm")
    return Device(type=device_type)
