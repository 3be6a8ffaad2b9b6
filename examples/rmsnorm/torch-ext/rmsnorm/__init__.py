"""RMS normalisation as a compiled PyTorch kernel (CPU), with a backward, and
as a kernel layer (`layers.RMSNorm`) that kernelize can put in place of a
model's own RMSNorm."""
from typing import Tuple

import torch

from ._ops import add_op_namespace_prefix, ops


class _RMSNormFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        ops.rms_norm(out, x, weight, eps)
        ctx.save_for_backward(x, weight)
        ctx.eps = eps
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, None]:
        x, weight = ctx.saved_tensors
        grad_x = torch.empty_like(x, memory_format=torch.contiguous_format)
        grad_weight = torch.empty_like(weight, memory_format=torch.contiguous_format)
        ops.rms_norm_backward(grad_x, grad_weight, grad_out.contiguous(), x, weight, ctx.eps)
        return grad_x, grad_weight, None


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """weight * x / sqrt(mean(x^2, last dim) + eps), differentiable in x and
    weight. x, weight and the result share a dtype."""
    return _RMSNormFunction.apply(x, weight, eps)


def _register_fake_kernels() -> None:
    # torch.compile traces with fake tensors; the ops write into tensors they
    # are given, so their fake versions have nothing to do.
    register_fake = getattr(torch.library, "register_fake", None)
    if register_fake is None:  # torch < 2.4: no torch.compile support
        return

    @register_fake(add_op_namespace_prefix("rms_norm"))
    def _(out, x, weight, eps):
        return None

    @register_fake(add_op_namespace_prefix("rms_norm_backward"))
    def _(grad_x, grad_weight, grad_out, x, weight, eps):
        return None


_register_fake_kernels()

from . import layers  # noqa: E402  (layers use rms_norm)

__all__ = ["layers", "rms_norm"]
