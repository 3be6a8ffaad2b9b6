"""The `Benchmark` base class that benchmark scripts subclass (runtime spec 10.1)."""
from __future__ import annotations

from typing import Any


class Benchmark:
    """A set of timed workloads for one kernel.

    A subclass defines, per workload W:
      - `benchmark_W()`: the timed call (usually writes `self.out`);
      - `setup_W()` (optional): prepares inputs, used instead of `setup()`;
      - `verify_W()` (optional): returns the reference result, compared with
        `self.out` (torch.allclose, atol 1e-2) and timed once as the reference.

    The runner (`kernels benchmark`) sets `kernel` (the loaded kernel module)
    and `device` on a fresh instance per workload, and seeds torch and
    `random` with `seed` when it is set.
    """

    seed: int | None = None
    device: str = "cpu"

    def __init__(self) -> None:
        self.kernel: Any = None
        self.out: Any = None

    def setup(self) -> None:
        """Prepares the inputs of workloads without their own setup_<workload>."""
