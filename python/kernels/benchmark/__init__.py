"""Kernel benchmarks: the `Benchmark` base class of benchmark scripts and the
runner behind `kernels benchmark`. Importing this package imports neither
torch nor tabulate; the runner imports them when it runs."""
from .base import Benchmark
from .runner import (
    BenchmarkFailure,
    CompareResult,
    RunResult,
    Target,
    compare_kernels,
    missing_dependencies,
    resolve_target,
    run_benchmark,
)

__all__ = [
    "Benchmark",
    "BenchmarkFailure",
    "CompareResult",
    "RunResult",
    "Target",
    "compare_kernels",
    "missing_dependencies",
    "resolve_target",
    "run_benchmark",
]
