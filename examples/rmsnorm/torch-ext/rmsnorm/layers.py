"""Kernel layers: stateless modules whose forward runs on the attributes of
the module they replace (kernelize binds it to that module)."""
import torch
from torch import nn

from . import rms_norm


class RMSNorm(nn.Module):
    """For Llama-style RMSNorm layers: reads the replaced module's `weight`
    and `variance_epsilon`."""

    weight: torch.Tensor
    variance_epsilon: float

    # Differentiable (autograd.Function with a compiled backward) and
    # traceable by torch.compile (fake kernels for its ops).
    has_backward = True
    can_torch_compile = True

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return rms_norm(hidden_states, self.weight.to(hidden_states.dtype), self.variance_epsilon)
