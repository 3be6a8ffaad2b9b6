"""Workloads small/medium/large from one table of sizes per benchmark."""
from __future__ import annotations

from ..benchmark import Benchmark


class SizedBenchmark(Benchmark):
    """Subclasses define SIZES {workload: keyword arguments of prepare()},
    prepare(**size) (inputs), run() (the kernel call, sets self.out) and
    reference() (the expected result)."""

    seed = 42
    SIZES: dict = {}

    @property
    def dtype(self):
        import torch

        return torch.float32 if self.device == "cpu" else torch.float16

    def prepare(self, **size) -> None:
        raise NotImplementedError

    def run(self) -> None:
        raise NotImplementedError

    def reference(self):
        raise NotImplementedError

    def setup_small(self):
        self.prepare(**self.SIZES["small"])

    def benchmark_small(self):
        self.run()

    def verify_small(self):
        return self.reference()

    def setup_medium(self):
        self.prepare(**self.SIZES["medium"])

    def benchmark_medium(self):
        self.run()

    def verify_medium(self):
        return self.reference()

    def setup_large(self):
        self.prepare(**self.SIZES["large"])

    def benchmark_large(self):
        self.run()

    def verify_large(self):
        return self.reference()


def first_tensor(result):
    """Kernels return the output alone or first in a tuple."""
    return result[0] if isinstance(result, (tuple, list)) else result
