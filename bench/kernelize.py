#!/usr/bin/env python3
"""Times kernels.kernelize on a model of N mapped layers against a plain
Python loop that binds the same kernel forward to the same N modules, in one
run, and prints both and their ratio (goal: <= 2x).

    PYTHONPATH=build/python /usr/bin/python3 bench/kernelize.py [--layers N] [--runs R] [KERNEL_DIR]

KERNEL_DIR defaults to examples/rmsnorm (build it first: `kb build examples/rmsnorm`
or `ctest -R example/rmsnorm/build`). The repository is loaded once before
timing (warm: kernelize's layer cache holds it), so what is timed is
kernelize's own work per module: walking named_modules, the mapping lookup,
mode selection, the fallback and mode checks, and the rebinding. The
baseline walks the same list of modules and rebinds, nothing else.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path
from types import MethodType

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kernel_dir", nargs="?", type=Path, default=REPO / "examples" / "rmsnorm")
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    import torch
    from torch import nn

    import kernels
    from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_forward_from_hub, use_kernel_mapping

    @use_kernel_forward_from_hub("RMSNorm")
    class RMSNorm(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(width))
            self.variance_epsilon = 1e-6

        def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
            variance = hidden_states.pow(2).mean(-1, keepdim=True)
            return self.weight * hidden_states * torch.rsqrt(variance + self.variance_epsilon)

    # Mapped layers among unmapped ones, as in a transformer.
    model = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), RMSNorm(8)) for _ in range(args.layers)])
    repo = LocalLayerRepository(repo_path=args.kernel_dir, layer_name="RMSNorm")
    layer = repo.load()
    norms = [m for m in model.modules() if isinstance(m, RMSNorm)]
    assert len(norms) == args.layers

    def plain_loop():
        for module in model.modules():
            if isinstance(module, RMSNorm):
                module.forward = MethodType(layer.forward, module)

    def run_kernelize():
        kernelize(model, mode=Mode.INFERENCE, device="cpu")

    with use_kernel_mapping({"RMSNorm": {"cpu": repo}}):
        run_kernelize()  # loads and validates the layer once: the warm state
        assert all(m.forward.__func__ is layer.forward for m in norms)
        timings = {"kernelize": [], "plain loop": []}
        for _ in range(args.runs):
            for name, fn in (("kernelize", run_kernelize), ("plain loop", plain_loop)):
                t0 = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - t0)

    median = {name: statistics.median(values) for name, values in timings.items()}
    print(f"kernels {kernels.__version__}, torch {torch.__version__}, {args.layers} mapped layers "
          f"among {sum(1 for _ in model.modules())} modules, median of {args.runs}")
    for name, value in median.items():
        print(f"  {name:<11} {value * 1e3:8.3f} ms")
    ratio = median["kernelize"] / median["plain loop"]
    print(f"  ratio       {ratio:8.2f}x (goal <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
