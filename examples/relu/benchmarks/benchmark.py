"""Times the built relu kernel against torch.relu.

    python3 benchmarks/benchmark.py [--device cpu|cuda] [--iterations N]

The kernel is loaded from this checkout's build/ with the `kernels` package
(get_local_kernel picks the variant that fits the running torch). For each size it prints the mean time per call of both
implementations and the ratio torch.relu / kernel (> 1 means the kernel is
faster).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from kernels import get_loaded_kernels, get_local_kernel

KERNEL_DIR = Path(__file__).resolve().parent.parent

SIZES = [1 << 12, 1 << 16, 1 << 20, 1 << 24]


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_per_call_ms(fn, device: str, iterations: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    synchronize(device)
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        synchronize(device)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], help="default: the loaded variant's backend")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64", "float16", "bfloat16"])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    kernel = get_local_kernel(KERNEL_DIR)
    (metadata,) = [k.metadata for k in get_loaded_kernels() if k.module is kernel]
    backend = str(metadata.backend.backend_type)
    device = args.device or backend
    if device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available", file=sys.stderr)
        return 1
    dtype = getattr(torch, args.dtype)

    print(f"kernel {metadata.id} ({backend}), torch {torch.__version__}, "
          f"device {device}, dtype {args.dtype}, median of {args.iterations} calls")
    print(f"{'elements':>12} {'kernel ms':>12} {'torch ms':>12} {'torch/kernel':>13}")
    for size in SIZES:
        x = torch.randn(size, dtype=torch.float32).to(device=device, dtype=dtype)
        out = torch.empty_like(x)
        expected = torch.relu(x.float()).to(dtype)
        kernel.relu(x, out=out)
        if not torch.equal(out, expected):
            print(f"kernel result differs from torch.relu for {size} elements", file=sys.stderr)
            return 1
        ours = time_per_call_ms(lambda: kernel.relu(x, out=out), device, args.iterations, args.warmup)
        # torch.relu has no out=; clamp_min with out= is the same op writing into a buffer.
        def reference():
            torch.clamp_min(x, 0, out=out)

        try:
            reference()
        except RuntimeError as error:  # e.g. no CPU half kernel in older torch
            print(f"{size:>12} {ours:>12.4f} {'-':>12} {'-':>13}  (torch: {error})")
            continue
        theirs = time_per_call_ms(reference, device, args.iterations, args.warmup)
        print(f"{size:>12} {ours:>12.4f} {theirs:>12.4f} {theirs / ours:>12.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
