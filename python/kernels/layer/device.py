"""Devices of a kernel mapping: a device type, and for CUDA and ROCm an
optional range of compute capabilities (major * 10 + minor: 75 is 7.5).

The classes are frozen dataclasses whose fields are type-checked on
construction, as the existing package's (strict) dataclasses are."""
from __future__ import annotations

from dataclasses import dataclass, fields


class StrictDataclassFieldValidationError(TypeError):
    """A field of a device class was given a value of the wrong type."""


class StrictDataclassClassValidationError(ValueError):
    """A device class's own rule rejected the values (the cause says which)."""


def _check_field_types(instance, types: dict) -> None:
    for f in fields(instance):
        value = getattr(instance, f.name)
        expected = types[f.name]
        # bool is an int to isinstance, but never a capability.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            options = expected if isinstance(expected, tuple) else (expected,)
            names = " | ".join("None" if t is type(None) else t.__name__ for t in options)
            raise StrictDataclassFieldValidationError(
                f"Validation error for field '{f.name}':\n    TypeError: Field '{f.name}' expected {names}, "
                f"got {type(value).__name__} (value: {value!r})"
            )


class _CapabilityRange:
    """Shared by CUDAProperties and ROCMProperties: the field checks and the
    range rule; equality only between instances of the same class."""

    min_capability: int
    max_capability: int

    def __post_init__(self):
        _check_field_types(self, {"min_capability": int, "max_capability": int})
        try:
            self.validate_capability_range()
        except ValueError as e:
            raise StrictDataclassClassValidationError(
                f"Class validation error for validator 'validate_capability_range':\n    ValueError: {e}"
            ) from e

    def validate_capability_range(self) -> None:
        if self.min_capability > self.max_capability:
            raise ValueError(
                f"min_capability ({self.min_capability}) must be <= max_capability ({self.max_capability})"
            )

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return (self.min_capability, self.max_capability) == (other.min_capability, other.max_capability)

    def __hash__(self):
        return hash((self.min_capability, self.max_capability))


@dataclass(frozen=True, eq=False)
class CUDAProperties(_CapabilityRange):
    """The CUDA compute capabilities a kernel supports, both ends inclusive
    (`CUDAProperties(min_capability=75, max_capability=90)`: 7.5 to 9.0)."""

    min_capability: int
    max_capability: int


@dataclass(frozen=True, eq=False)
class ROCMProperties(_CapabilityRange):
    """The ROCm compute capabilities a kernel supports, both ends inclusive."""

    min_capability: int
    max_capability: int


@dataclass(frozen=True)
class Device:
    """A device type ("cuda", "rocm", "cpu", "mps", "xpu", "npu", "neuron",
    "tpu") and, for CUDA and ROCm, the capabilities a mapping applies to."""

    type: str
    properties: CUDAProperties | ROCMProperties | None = None

    def __post_init__(self):
        _check_field_types(self, {"type": str, "properties": (CUDAProperties, ROCMProperties, type(None))})
        if isinstance(self.properties, CUDAProperties) and self.type != "cuda":
            raise ValueError("CUDAProperties is only supported for 'cuda' devices.")
        if isinstance(self.properties, ROCMProperties) and self.type != "rocm":
            raise ValueError("ROCMProperties is only supported for 'rocm' devices.")
