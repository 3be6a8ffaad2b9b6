"""Loads a relu kernel built by kb through the `kernels` package and runs it on
a CUDA tensor (tests/gpu/run-on-device.sh; not part of `make test`).

  python check_relu_gpu.py local DIR EXPECTED_VARIANT       get_local_kernel(DIR)
  python check_relu_gpu.py get REPO_ID EXPECTED_VARIANT     get_kernel(REPO_ID, version=1)
                                                            (LOCAL_KERNELS or KB_HUB from the caller)

Checks that the variant loaded is EXPECTED_VARIANT, then, unless
KB_GPU_REHEARSAL=1, that relu on CUDA tensors equals torch.relu exactly.
Exits 0 on success, 1 on a failed check, 77 when no GPU is visible outside
a rehearsal.
"""
import os
import sys
import warnings
from pathlib import Path


def fail(message: str) -> None:
    print(f"check_relu_gpu: FAIL: {message}", flush=True)
    sys.exit(1)


def main() -> None:
    mode, target, expected = sys.argv[1:4]
    rehearsal = os.environ.get("KB_GPU_REHEARSAL") == "1"
    warnings.simplefilter("default")

    import torch
    import kernels

    print(f"torch {torch.__version__} cuda {torch.version.cuda} cuda available {torch.cuda.is_available()}")
    print(f"kernels {kernels.__version__} from {Path(kernels.__file__).parent}, core {kernels._core.__file__}")
    if mode == "local":
        relu = kernels.get_local_kernel(Path(target))
    elif mode == "get":
        for v in kernels.get_kernel_variants(target, version=1):
            print(f"  variant decision: {v}")
        relu = kernels.get_kernel(target, version=1)
    else:
        fail(f"unknown mode {mode}")

    variant_dir = Path(relu.__file__).parent
    (entry,) = [k for k in kernels.get_loaded_kernels() if k.module is relu]
    backend = str(entry.metadata.backend.backend_type)
    print(f"loaded variant: {variant_dir.name} (backend {backend}) from {variant_dir}")
    if entry.repo_info is not None:
        print(f"repo info: {entry.repo_info.repo_id} at {entry.repo_info.revision}")
    if variant_dir.name != expected:
        fail(f"loaded {variant_dir.name}, expected {expected}")
    if backend != "cuda":
        fail(f"the loaded variant's backend is {backend}, not cuda")

    if rehearsal:
        print("rehearsal: CUDA tensor checks skipped")
        return
    if not torch.cuda.is_available():
        print("no CUDA device visible: CUDA tensor checks skipped")
        sys.exit(77)

    print(f"device: {torch.cuda.get_device_name()} capability {torch.cuda.get_device_capability()}")
    torch.manual_seed(0)
    x = torch.randn(1024, device="cuda")
    y = relu.relu(x)
    torch.cuda.synchronize()
    if y.device.type != "cuda" or not torch.equal(y, torch.relu(x)):
        fail("relu(randn(1024, cuda)) differs from torch.relu")
    print("relu(randn(1024) on cuda) == torch.relu: ok")
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for n in (1, 4097, 1 << 22):
            x = (torch.randn(n, device="cuda") * 4).to(dtype)
            out = torch.full_like(x, 7)
            if relu.relu(x, out=out) is not out or not torch.equal(out, torch.relu(x)):
                fail(f"relu differs from torch.relu for {n} x {dtype}")
    special = torch.tensor([float("nan"), float("inf"), float("-inf"), -0.0, -2.0, 3.0], device="cuda")
    r = relu.relu(special).cpu()
    if not (torch.isnan(r[0]) and r[1:].tolist() == [float("inf"), 0.0, 0.0, 0.0, 3.0]):
        fail(f"special values: {r.tolist()}")
    torch.cuda.synchronize()
    print("relu on cuda (float32/float16/bfloat16, 1..4M elements, out=, NaN/inf) == torch.relu: ok")


if __name__ == "__main__":
    main()
