"""ReLU as a compiled PyTorch kernel (CPU and CUDA)."""
from typing import Optional

import torch

from ._ops import ops


def relu(x: torch.Tensor, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Returns max(x, 0) element-wise; NaN stays NaN, as with `torch.relu`.

    `x` may be strided. If `out` is given it must have the shape, dtype and
    device of `x`; the result is written into it and `out` is returned.
    `out=x` computes in place. On CUDA, `out` must be contiguous.
    """
    if out is None:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
    # The CPU kernel handles strided input itself; the CUDA kernel expects
    # contiguous memory.
    ops.relu(out, x if x.device.type == "cpu" else x.contiguous())
    return out


__all__ = ["relu"]
