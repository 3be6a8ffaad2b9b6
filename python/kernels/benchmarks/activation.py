"""silu(x[..., :d]) * x[..., d:] through `kernel.silu_and_mul(out, x)`."""
from __future__ import annotations

from ._sized import SizedBenchmark


class SiluAndMulBenchmark(SizedBenchmark):
    SIZES = {
        "small": {"tokens": 64, "width": 512},
        "medium": {"tokens": 256, "width": 1024},
        "large": {"tokens": 1024, "width": 2048},
    }

    def prepare(self, tokens: int, width: int) -> None:
        import torch

        self.x = torch.randn(tokens, 2 * width, device=self.device, dtype=self.dtype)
        self.out = torch.empty(tokens, width, device=self.device, dtype=self.dtype)

    def run(self) -> None:
        self.kernel.silu_and_mul(self.out, self.x)

    def reference(self):
        import torch

        d = self.x.shape[-1] // 2
        return torch.nn.functional.silu(self.x[..., :d]) * self.x[..., d:]
