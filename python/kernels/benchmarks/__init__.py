"""Ready-made benchmarks for common kernel interfaces (runtime spec 10.1).

A kernel's benchmarks/benchmark.py subclasses one of them to time its kernel:

    from kernels.benchmarks import SiluAndMulBenchmark

    class ActivationBenchmark(SiluAndMulBenchmark):
        pass

Each has the workloads small, medium and large, seed 42, and a plain torch
reference (verify_<workload>). Tensors are float16 on an accelerator and
float32 on the CPU, whose half-precision support varies between torch
versions; the sizes stay small enough for a CPU run.
"""
from .activation import SiluAndMulBenchmark
from .attention import FlashAttentionBenchmark, FlashAttentionCausalBenchmark, FlashAttentionVarlenBenchmark
from .normalization import LayerNormBenchmark, RMSNormBenchmark

__all__ = [
    "FlashAttentionBenchmark",
    "FlashAttentionCausalBenchmark",
    "FlashAttentionVarlenBenchmark",
    "LayerNormBenchmark",
    "RMSNormBenchmark",
    "SiluAndMulBenchmark",
]
