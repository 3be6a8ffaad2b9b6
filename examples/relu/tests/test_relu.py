import pytest
import torch

SHAPES = [(0,), (1,), (7,), (1000,), (3, 5), (16, 33, 9), (2, 1, 4097)]
CPU_DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
CUDA_DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def reference(x: torch.Tensor) -> torch.Tensor:
    # Computed in float32/float64: relu is exact, so the result must match bit for bit.
    wide = x.double() if x.dtype == torch.float64 else x.float()
    return torch.relu(wide).to(x.dtype)


def random_input(shape, dtype, device="cpu"):
    return (torch.randn(shape, dtype=torch.float32) * 4).to(dtype=dtype, device=device)


def assert_exact(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True)


def test_exports_relu(relu_kernel):
    assert relu_kernel.__all__ == ["relu"]
    assert callable(relu_kernel.relu)


# ---------------------------------------------------------------------- CPU


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", CPU_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cpu_matches_torch(cpu_kernel, shape, dtype):
    x = random_input(shape, dtype)
    y = cpu_kernel.relu(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert_exact(y, reference(x))


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_cpu_special_values(cpu_kernel, dtype):
    x = torch.tensor([float("nan"), float("inf"), float("-inf"), -0.0, 0.0, -1e-30, 1e-30, -3.5, 2.25], dtype=dtype)
    y = cpu_kernel.relu(x)
    assert torch.isnan(y[0])
    assert_exact(y[1:], torch.tensor([float("inf"), 0, 0, 0, 0, 1e-30, 0, 2.25], dtype=dtype))
    tiny = torch.tensor([-1e-300, 1e-300], dtype=torch.float64)
    assert cpu_kernel.relu(tiny).tolist() == [0.0, 1e-300]


@pytest.mark.kernels_ci
def test_cpu_out_argument(cpu_kernel):
    x = random_input((64, 17), torch.float32)
    out = torch.full_like(x, 123.0)
    result = cpu_kernel.relu(x, out=out)
    assert result is out
    assert_exact(out, reference(x))


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", CPU_DTYPES, ids=str)
def test_cpu_in_place(cpu_kernel, dtype):
    x = random_input((100_000,), dtype)
    expected = reference(x)
    result = cpu_kernel.relu(x, out=x)
    assert result is x
    assert_exact(x, expected)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_cpu_non_contiguous_input(cpu_kernel, dtype):
    base = random_input((64, 96), dtype)
    original = base.clone()
    for x in (base.t(), base[:, ::3], base[::2, 5:40]):
        assert not x.is_contiguous()
        y = cpu_kernel.relu(x)
        assert y.is_contiguous()
        assert_exact(y, reference(x))
    assert_exact(base, original)  # the input is left alone


@pytest.mark.kernels_ci
def test_cpu_non_contiguous_out(cpu_kernel):
    x = random_input((40, 30), torch.float32)
    storage = torch.zeros(30, 40)
    out = storage.t()
    assert not out.is_contiguous()
    cpu_kernel.ops.relu(out, x)
    assert_exact(out, reference(x))


@pytest.mark.kernels_ci
def test_cpu_in_place_on_strided_view(cpu_kernel):
    base = random_input((32, 32), torch.float32)
    expected = base.clone()
    expected[:, ::2] = reference(expected[:, ::2])
    view = base[:, ::2]
    cpu_kernel.ops.relu(view, view)
    assert_exact(base, expected)


@pytest.mark.kernels_ci
def test_cpu_partially_overlapping_out(cpu_kernel):
    # out is input shifted by one element: each result must come from the
    # original input, not from an element the kernel already overwrote.
    buffer = random_input((10_001,), torch.float32)
    expected = reference(buffer[:-1].clone())
    cpu_kernel.ops.relu(buffer[1:], buffer[:-1])
    assert_exact(buffer[1:], expected)


@pytest.mark.kernels_ci
def test_cpu_rejects_mismatched_out(cpu_kernel):
    x = random_input((8,), torch.float32)
    with pytest.raises(RuntimeError, match="dtype"):
        cpu_kernel.relu(x, out=torch.empty(8, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="shape"):
        cpu_kernel.relu(x, out=torch.empty(9))


# --------------------------------------------------------------------- CUDA


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", CUDA_DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_cuda_matches_torch(cuda_kernel, shape, dtype):
    x = random_input(shape, dtype, device="cuda")
    y = cuda_kernel.relu(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert_exact(y, reference(x))


@pytest.mark.kernels_ci
def test_cuda_large_tensor_uses_every_block(cuda_kernel):
    # More elements than one grid pass covers, so the grid-stride loop must iterate.
    x = random_input((1 << 25,), torch.float32, device="cuda")
    assert_exact(cuda_kernel.relu(x), reference(x))


@pytest.mark.kernels_ci
def test_cuda_special_values(cuda_kernel):
    x = torch.tensor([float("nan"), float("inf"), float("-inf"), -0.0, -2.0, 3.0], device="cuda")
    y = cuda_kernel.relu(x).cpu()
    assert torch.isnan(y[0])
    assert_exact(y[1:], torch.tensor([float("inf"), 0, 0, 0, 3.0]))


@pytest.mark.kernels_ci
def test_cuda_out_and_in_place(cuda_kernel):
    x = random_input((513, 7), torch.float16, device="cuda")
    out = torch.empty_like(x)
    assert cuda_kernel.relu(x, out=out) is out
    assert_exact(out, reference(x))
    expected = reference(x)
    assert cuda_kernel.relu(x, out=x) is x
    assert_exact(x, expected)


@pytest.mark.kernels_ci
def test_cuda_non_contiguous_input(cuda_kernel):
    base = random_input((128, 64), torch.bfloat16, device="cuda")
    x = base.t()[:, ::2]
    assert not x.is_contiguous()
    assert_exact(cuda_kernel.relu(x), reference(x))


@pytest.mark.kernels_ci
def test_cuda_op_checks_contiguity_and_device(cuda_kernel):
    x = random_input((16, 16), torch.float32, device="cuda")
    with pytest.raises(RuntimeError, match="contiguous"):
        cuda_kernel.ops.relu(torch.empty_like(x), x.t())
    with pytest.raises(RuntimeError, match="contiguous"):
        cuda_kernel.ops.relu(torch.empty_like(x).t(), x)
    with pytest.raises(RuntimeError):
        cuda_kernel.ops.relu(torch.empty(16, 16), x)
