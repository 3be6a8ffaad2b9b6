"""Times the relu kernel against torch's own relu; run with

    kernels benchmark examples/relu            (or ORG/NAME@v1 once published)
    python3 examples/relu/benchmarks/benchmark.py [--iterations N] [--warmup N]

Each workload times `kernel.relu(x, out=out)` on a float32 tensor of its size;
`verify_<workload>` returns torch.relu(x), which the runner compares with the
kernel's output and times once as the reference (the Speedup column).
"""
import sys
from pathlib import Path

import torch
from kernels.benchmark import Benchmark

SIZES = {"small": 1 << 12, "medium": 1 << 16, "large": 1 << 20}


class ReluBenchmark(Benchmark):
    seed = 42

    def _prepare(self, numel: int) -> None:
        self.x = torch.randn(numel, dtype=torch.float32, device=self.device)
        self.out = torch.empty_like(self.x)

    def _run(self) -> None:
        self.kernel.relu(self.x, out=self.out)

    def _reference(self) -> torch.Tensor:
        return torch.relu(self.x)

    def setup_small(self) -> None:
        self._prepare(SIZES["small"])

    def benchmark_small(self) -> None:
        self._run()

    def verify_small(self) -> torch.Tensor:
        return self._reference()

    def setup_medium(self) -> None:
        self._prepare(SIZES["medium"])

    def benchmark_medium(self) -> None:
        self._run()

    def verify_medium(self) -> torch.Tensor:
        return self._reference()

    def setup_large(self) -> None:
        self._prepare(SIZES["large"])

    def benchmark_large(self) -> None:
        self._run()

    def verify_large(self) -> torch.Tensor:
        return self._reference()


if __name__ == "__main__":
    # Run directly: the same as `kernels benchmark <this kernel's directory> ARGS`.
    from kernels.cli import main

    sys.exit(main(["benchmark", str(Path(__file__).resolve().parent.parent), *sys.argv[1:]]))
