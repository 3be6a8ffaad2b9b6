"""Process state of the layer machinery: the kernel mapping in effect (per
context, so `use_kernel_mapping` blocks nest and threads or tasks may each
have their own) and the DISABLE_KERNEL_MAPPING switch, read at import."""
from __future__ import annotations

import os
from contextvars import ContextVar


def _read_disable_switch() -> bool:
    value = os.environ.get("DISABLE_KERNEL_MAPPING", "0")
    try:
        return bool(int(value))
    except ValueError:
        raise ValueError(
            f"DISABLE_KERNEL_MAPPING must be an integer (0 keeps kernel mappings, 1 disables them), got {value!r}"
        ) from None


# When set, kernelize restores every layer's own forward.
_DISABLE_KERNEL_MAPPING: bool = _read_disable_switch()

# {layer name: {device type: DeviceRepos}}. The default is one shared dict, so
# registrations outside any `use_kernel_mapping` block are seen everywhere.
_KERNEL_MAPPING: ContextVar[dict] = ContextVar("_KERNEL_MAPPING", default={})
