"""Per-device containers of a kernel mapping, and which registered mode
serves a requested one.

A layer's mapping holds, per device type, the repositories registered for
each mode. CUDA and ROCm containers key them by a range of compute
capabilities (libkb's CapabilityRanges picks the narrowest range holding the
device's capability); other devices hold one mode dict, replaced wholesale
by a new registration."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

from .. import _core
from .device import CUDAProperties, Device, ROCMProperties
from .mode import Mode

if TYPE_CHECKING:
    from torch import nn


class RepositoryProtocol(Protocol):
    """What a mapping needs of a repository: `load()` returns a layer class."""

    def load(self) -> type[nn.Module]: ...


class DeviceRepos:
    """The repositories of one layer for one device type."""

    # Device types kernelize can target; cuda and rocm select by capability.
    DEVICE_TYPES = ("cpu", "cuda", "mps", "neuron", "npu", "rocm", "tpu", "xpu")

    @staticmethod
    def create_repo(device: Device) -> DeviceRepos:
        if device.type == "cuda":
            return _CapabilityRepos("cuda", CUDAProperties)
        if device.type == "rocm":
            return _CapabilityRepos("rocm", ROCMProperties)
        if device.type in DeviceRepos.DEVICE_TYPES:
            return _SingleRepos(device.type)
        raise ValueError(f"Unknown device type: {device.type}")

    def repos_for_device(self, device_index: int | None = None) -> dict[Mode, RepositoryProtocol] | None:
        """The mode dict for the device (`None`: the current device), or
        None when no registration applies to it."""
        raise NotImplementedError

    def insert(self, device: Device, repos: dict[Mode, RepositoryProtocol]) -> None:
        raise NotImplementedError


class _SingleRepos(DeviceRepos):
    def __init__(self, device_type: str):
        self._type = device_type
        self._repos: dict[Mode, RepositoryProtocol] = {}

    def repos_for_device(self, device_index: int | None = None) -> dict[Mode, RepositoryProtocol] | None:
        return self._repos

    def insert(self, device: Device, repos: dict[Mode, RepositoryProtocol]) -> None:
        if device.type != self._type:
            raise ValueError(f"Device type must be '{self._type}', got {device.type}")
        self._repos = repos


class _CapabilityRepos(DeviceRepos):
    def __init__(self, device_type: str, properties_type: type):
        self._type = device_type
        self._properties_type = properties_type
        self._ranges = _core.CapabilityRanges()
        self._slots: list[dict[Mode, RepositoryProtocol]] = []

    def repos_for_device(self, device_index: int | None = None) -> dict[Mode, RepositoryProtocol] | None:
        slot = self._ranges.find_narrowest(device_capability(device_index))
        return None if slot is None else self._slots[slot]

    def insert(self, device: Device, repos: dict[Mode, RepositoryProtocol]) -> None:
        if device.type != self._type:
            raise ValueError(f"Device type must be '{self._type}', got {device.type}")
        properties = device.properties
        if properties is None:
            low, high = 0, sys.maxsize
        elif isinstance(properties, self._properties_type):
            low, high = properties.min_capability, properties.max_capability
        else:
            raise ValueError(f"{type(properties).__name__} cannot describe a '{self._type}' device")
        slot = self._ranges.insert(low, high)
        if slot == len(self._slots):
            self._slots.append(repos)
        else:
            self._slots[slot] = repos


def device_capability(device_index: int | None = None) -> int:
    """The compute capability of a CUDA/ROCm device as major * 10 + minor
    (`None`: the current device). Asked on every lookup: the devices of one
    machine may differ."""
    import torch

    major, minor = torch.cuda.get_device_capability(device_index)
    return major * 10 + minor


# Requested mode -> the registered modes that may serve it, best first.
_MODE_FALLBACK_PRIORITY = {
    Mode.INFERENCE: [
        Mode.INFERENCE,
        Mode.INFERENCE | Mode.TORCH_COMPILE,
        Mode.TRAINING,
        Mode.TRAINING | Mode.TORCH_COMPILE,
        Mode.FALLBACK,
    ],
    Mode.TRAINING: [Mode.TRAINING, Mode.TRAINING | Mode.TORCH_COMPILE, Mode.FALLBACK],
    Mode.INFERENCE | Mode.TORCH_COMPILE: [
        Mode.INFERENCE | Mode.TORCH_COMPILE,
        Mode.TRAINING | Mode.TORCH_COMPILE,
        Mode.FALLBACK,
    ],
    Mode.TRAINING | Mode.TORCH_COMPILE: [Mode.TRAINING | Mode.TORCH_COMPILE, Mode.FALLBACK],
}

# Modes a mapping may register repositories under.
REGISTRABLE_MODES = frozenset(_MODE_FALLBACK_PRIORITY) | {Mode.FALLBACK}


def _select_repository(
    repositories: dict[Mode, RepositoryProtocol], *, mode: Mode
) -> tuple[RepositoryProtocol, Mode] | None:
    """The repository serving `mode` and the mode it was registered under."""
    candidates = _MODE_FALLBACK_PRIORITY.get(mode)
    if candidates is None:
        raise ValueError(f"Unsupported mode: {mode}")
    for registered in candidates:
        repo = repositories.get(registered)
        if repo is not None:
            return repo, registered
    return None
