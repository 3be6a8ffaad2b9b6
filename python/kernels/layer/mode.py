"""The modes a model is kernelized for, and the modes a mapping registers."""
from __future__ import annotations

from enum import Flag


class Mode(Flag):
    """What a kernel is used for.

    `kernelize` takes INFERENCE or TRAINING, optionally with TORCH_COMPILE.
    Mappings register repositories under those modes, or under FALLBACK for a
    repository used when no mode-specific one fits. INFERENCE and TRAINING
    exclude each other, and FALLBACK combines with nothing.
    """

    _NONE = 0
    FALLBACK = 1
    TRAINING = 2
    INFERENCE = 4
    TORCH_COMPILE = 8

    def __or__(self, other: "Mode") -> "Mode":
        combined = super().__or__(other)
        if Mode.INFERENCE in combined and Mode.TRAINING in combined:
            raise ValueError("Mode.INFERENCE and Mode.TRAINING are mutually exclusive.")
        if Mode.FALLBACK in combined and combined != Mode.FALLBACK:
            raise ValueError("Mode.FALLBACK cannot be combined with other modes.")
        return combined
