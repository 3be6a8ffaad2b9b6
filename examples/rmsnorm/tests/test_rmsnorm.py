from pathlib import Path

import pytest
import torch
from torch import nn

KERNEL_DIR = Path(__file__).resolve().parent.parent

DTYPES = {torch.float32: 1e-5, torch.float64: 1e-12, torch.bfloat16: 2e-2, torch.float16: 2e-3}
SHAPES = [(1, 1), (3, 8), (2, 5, 64), (4, 3, 2, 33)]


class ReferenceRMSNorm(nn.Module):
    """The Llama RMSNorm the layer stands in for."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


def reference(x, weight, eps):
    wide = x.double()
    normalized = (wide * torch.rsqrt(wide.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)
    return (weight.double() * normalized.double()).to(x.dtype)


@pytest.mark.kernels_ci
@pytest.mark.parametrize("dtype", list(DTYPES), ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_matches_the_reference(rmsnorm_kernel, shape, dtype):
    x = torch.randn(shape).to(dtype)
    weight = torch.randn(shape[-1]).to(dtype)
    y = rmsnorm_kernel.rms_norm(x, weight, 1e-6)
    assert y.shape == x.shape and y.dtype == dtype
    tol = DTYPES[dtype]
    torch.testing.assert_close(y, reference(x, weight, 1e-6), rtol=tol, atol=tol)


@pytest.mark.kernels_ci
def test_strided_input_and_eps(rmsnorm_kernel):
    x = torch.randn(6, 16).t()  # not contiguous
    weight = torch.rand(6) + 0.5
    for eps in (1e-6, 1e-2, 10.0):
        torch.testing.assert_close(rmsnorm_kernel.rms_norm(x, weight, eps), reference(x, weight, eps))


@pytest.mark.kernels_ci
def test_gradients_match_autograd_of_the_reference(rmsnorm_kernel):
    x = torch.randn(4, 7, 32, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(32, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: rmsnorm_kernel.rms_norm(a, b, 1e-5), (x, weight))
    grad = torch.randn(4, 7, 32, dtype=torch.float64)
    rmsnorm_kernel.rms_norm(x, weight, 1e-5).backward(grad)
    x_ref, w_ref = x.detach().clone().requires_grad_(), weight.detach().clone().requires_grad_()
    reference(x_ref, w_ref, 1e-5).backward(grad)
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(weight.grad, w_ref.grad)


def test_mismatched_shapes_and_dtypes_are_named(rmsnorm_kernel):
    with pytest.raises(RuntimeError, match="weight has shape"):
        rmsnorm_kernel.rms_norm(torch.randn(2, 8), torch.randn(7))
    with pytest.raises(RuntimeError, match="must share a dtype"):
        rmsnorm_kernel.rms_norm(torch.randn(2, 8), torch.randn(8, dtype=torch.float64))


def test_the_layer_replaces_a_llama_rmsnorm(rmsnorm_kernel):
    from kernels import LocalLayerRepository, Mode, kernelize, use_kernel_forward_from_hub, use_kernel_mapping

    @use_kernel_forward_from_hub("RMSNorm")
    class LlamaRMSNorm(ReferenceRMSNorm):
        pass

    model = nn.Sequential(nn.Linear(16, 32), LlamaRMSNorm(32), nn.Linear(32, 8), LlamaRMSNorm(8))
    x = torch.randn(5, 16)
    expected = model(x)
    repo = LocalLayerRepository(repo_path=KERNEL_DIR, layer_name="RMSNorm")
    with use_kernel_mapping({"RMSNorm": {"cpu": repo}}):
        kernelize(model, mode=Mode.TRAINING, device="cpu")
    layer_class = rmsnorm_kernel.layers.RMSNorm
    assert all(m.forward.__func__ is layer_class.forward for m in (model[1], model[3]))
    actual = model(x)
    torch.testing.assert_close(actual, expected)
    actual.sum().backward()
    assert model[1].weight.grad is not None and model[0].weight.grad is not None
