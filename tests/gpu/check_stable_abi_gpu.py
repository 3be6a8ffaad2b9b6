"""Loads the relu-stable-abi fixture built by kb (torch-stable-abi211-cuXYZ)
and runs it on CUDA tensors (tests/gpu/run-on-device.sh; not part of `make
test`).

  python check_stable_abi_gpu.py KERNEL_DIR EXPECTED_VARIANT

Exits 0 on success, 1 on a failed check, 77 when no GPU is visible outside a
rehearsal (KB_GPU_REHEARSAL=1 checks only which variant loads)."""
import os
import sys
from pathlib import Path


def fail(message: str) -> None:
    print(f"check_stable_abi_gpu: FAIL: {message}", flush=True)
    sys.exit(1)


def main() -> None:
    kernel_dir, expected = sys.argv[1:3]
    import torch
    import kernels

    relu = kernels.get_local_kernel(Path(kernel_dir))
    loaded = Path(relu.__file__).parent.name
    print(f"torch {torch.__version__}: loaded {loaded}")
    if loaded != expected:
        fail(f"loaded {loaded}, expected {expected}")
    if os.environ.get("KB_GPU_REHEARSAL") == "1":
        return
    if not torch.cuda.is_available():
        sys.exit(77)
    for n in (1, 4097, 1 << 22):
        x = torch.randn(n, device="cuda") * 4
        out = torch.full_like(x, 7)
        if relu.relu(x, out=out) is not out or not torch.equal(out, torch.relu(x)):
            fail(f"relu differs from torch.relu for {n} elements")
    try:
        relu.relu(torch.randn(4, device="cuda", dtype=torch.float64))
    except RuntimeError as e:
        if "float32" not in str(e):
            fail(f"unexpected error for float64: {e}")
    else:
        fail("float64 accepted")
    torch.cuda.synchronize()
    print("stable-ABI relu on cuda == torch.relu: ok")


main()
