"""Layer norm and RMS norm through `kernel.dropout_add_ln_fwd` (the interface
of the layer-norm kernels: no dropout, no residual here)."""
from __future__ import annotations

from ._sized import SizedBenchmark, first_tensor

_SIZES = {
    "small": {"batch": 2, "seq": 32, "hidden": 256},
    "medium": {"batch": 4, "seq": 64, "hidden": 768},
    "large": {"batch": 8, "seq": 128, "hidden": 1024},
}


class _NormBenchmark(SizedBenchmark):
    SIZES = _SIZES
    eps = 1e-5
    rms = False

    def prepare(self, batch: int, seq: int, hidden: int) -> None:
        import torch

        self.shape = (batch, seq, hidden)
        self.x = torch.randn(*self.shape, device=self.device, dtype=self.dtype)
        self.weight = torch.ones(hidden, device=self.device, dtype=self.dtype)
        self.out = torch.empty_like(self.x)

    def run(self) -> None:
        batch, seq, hidden = self.shape
        result = self.kernel.dropout_add_ln_fwd(
            input=self.x.view(-1, hidden),
            gamma=self.weight,
            beta=None,
            rowscale=None,
            colscale=None,
            x0_subset=None,
            z_subset=None,
            dropout_p=0.0,
            epsilon=self.eps,
            rowscale_const=1.0,
            z_numrows=seq,
            gen=None,
            residual_in_fp32=False,
            is_rms_norm=self.rms,
        )
        self.out = first_tensor(result).view(batch, seq, hidden)


class LayerNormBenchmark(_NormBenchmark):
    def reference(self):
        import torch

        return torch.nn.functional.layer_norm(self.x, [self.shape[-1]], self.weight, eps=self.eps)


class RMSNormBenchmark(_NormBenchmark):
    rms = True

    def reference(self):
        import torch

        variance = self.x.float().pow(2).mean(-1, keepdim=True)
        return (self.x.float() * torch.rsqrt(variance + self.eps)).to(self.x.dtype) * self.weight
