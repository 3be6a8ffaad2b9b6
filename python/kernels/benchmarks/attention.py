"""Scaled dot-product attention through the flash-attention interface:
`flash_attn_func(q, k, v, causal=...)` on (batch, seq, heads, dim) tensors and
`flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_q, max_k)`
on packed sequences. The reference is plain matmul/softmax attention, which
every torch version has."""
from __future__ import annotations

import math

from ._sized import SizedBenchmark, first_tensor


def reference_attention(q, k, v, causal: bool = False):
    """softmax(q k^T / sqrt(d)) v on (batch, seq, heads, dim), computed in float32."""
    import torch

    dtype = q.dtype
    q, k, v = (t.float().transpose(1, 2) for t in (q, k, v))  # (batch, heads, seq, dim)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if causal:
        sq, sk = scores.shape[-2:]
        mask = torch.ones(sq, sk, dtype=torch.bool, device=q.device).tril(sk - sq)
        scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ v).transpose(1, 2).contiguous().to(dtype)


class FlashAttentionBenchmark(SizedBenchmark):
    SIZES = {
        "small": {"batch": 1, "seq": 64, "heads": 4, "dim": 32},
        "medium": {"batch": 2, "seq": 128, "heads": 8, "dim": 64},
        "large": {"batch": 2, "seq": 256, "heads": 8, "dim": 64},
    }
    causal = False

    def prepare(self, batch: int, seq: int, heads: int, dim: int) -> None:
        import torch

        shape = (batch, seq, heads, dim)
        self.q, self.k, self.v = (torch.randn(*shape, device=self.device, dtype=self.dtype) for _ in range(3))
        self.out = torch.empty(*shape, device=self.device, dtype=self.dtype)

    def run(self) -> None:
        self.out = first_tensor(self.kernel.flash_attn_func(self.q, self.k, self.v, causal=self.causal))

    def reference(self):
        return reference_attention(self.q, self.k, self.v, causal=self.causal)


class FlashAttentionCausalBenchmark(FlashAttentionBenchmark):
    causal = True


class FlashAttentionVarlenBenchmark(SizedBenchmark):
    SIZES = {
        "small": {"seqlens": (16, 24, 32), "heads": 4, "dim": 32},
        "medium": {"seqlens": (32, 64, 96, 128), "heads": 8, "dim": 64},
        "large": {"seqlens": (64, 128, 192, 256), "heads": 8, "dim": 64},
    }
    causal = False

    def prepare(self, seqlens: tuple, heads: int, dim: int) -> None:
        import torch

        total = sum(seqlens)
        self.q, self.k, self.v = (
            torch.randn(total, heads, dim, device=self.device, dtype=self.dtype) for _ in range(3)
        )
        offsets = [0]
        for length in seqlens:
            offsets.append(offsets[-1] + length)
        self.cu_seqlens = torch.tensor(offsets, device=self.device, dtype=torch.int32)
        self.max_seqlen = max(seqlens)
        self.out = torch.empty(total, heads, dim, device=self.device, dtype=self.dtype)

    def run(self) -> None:
        self.out = first_tensor(
            self.kernel.flash_attn_varlen_func(
                self.q, self.k, self.v, self.cu_seqlens, self.cu_seqlens, self.max_seqlen, self.max_seqlen
            )
        )

    def reference(self):
        import torch

        out = torch.empty_like(self.q)
        bounds = self.cu_seqlens.tolist()
        for start, end in zip(bounds, bounds[1:]):
            piece = [t[start:end].unsqueeze(0) for t in (self.q, self.k, self.v)]
            out[start:end] = reference_attention(*piece, causal=self.causal).squeeze(0)
        return out
