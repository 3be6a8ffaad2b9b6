"""Layers with torch 2.x: torch.compile over kernelized layers, and the
transformers 5 integration. Runs in the test-only transformers environment
(scripts/setup-transformers-venv.sh: the CUDA build of torch from PyPI plus
transformers), through tests/python/run-torch2.sh; skipped elsewhere.

The machine has no GPU and torch is a CUDA build: the rmsnorm example's CPU
variant loads through the CPU fallback of variant resolution."""
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
if int(torch.__version__.split(".")[0]) < 2:
    pytest.skip("needs torch 2.x (torch.compile)", allow_module_level=True)

from torch import nn  # noqa: E402

import kernels  # noqa: E402
from kernels import (  # noqa: E402
    LocalLayerRepository,
    Mode,
    get_kernelized_layers,
    kernelize,
    register_kernel_mapping,
    use_kernel_forward_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)

REPO = Path(__file__).resolve().parents[2]
RMSNORM = REPO / "examples" / "rmsnorm"


# Each test starts from an empty mapping and an empty layer cache.
pytestmark = pytest.mark.usefixtures("fresh_layer_mapping")


@pytest.fixture(scope="module")
def rmsnorm_repo():
    built = list((RMSNORM / "build").glob(f"torch{''.join(torch.__version__.split('.')[:2])}-*-cpu-*"))
    if not built:
        pytest.skip(f"{RMSNORM}/build has no CPU variant for torch {torch.__version__}: run `kb build` there")
    return LocalLayerRepository(repo_path=RMSNORM, layer_name="RMSNorm")


@use_kernel_forward_from_hub("RMSNorm")
class RMSNorm(nn.Module):
    """Llama's RMSNorm."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(hidden_size) * 0.1 + 1)
        self.variance_epsilon = eps

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class Block(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.norm1 = RMSNorm(width)
        self.proj = nn.Linear(width, width)
        self.norm2 = RMSNorm(width)

    def forward(self, x):
        return self.norm2(torch.relu(self.proj(self.norm1(x))))


def test_cpu_variants_load_after_cuda_ones_without_a_gpu(rmsnorm_repo):
    if torch.version.cuda is None or torch.cuda.is_available():
        pytest.skip("needs a CUDA build of torch on a machine without a usable GPU")
    from kernels import _core
    from kernels._environment import environment

    env = environment()
    assert env.backend.startswith("cu") and env.cpu_fallback
    choice = _core.choose_local_variant(RMSNORM, env)
    assert choice.variant_dir.name.endswith("-cpu-x86_64-linux")
    trace = _core.render_trace(choice.resolution.trace)
    assert "compatible, preferred (CPU fallback: torch is built for CUDA" in trace
    assert "no CUDA device is available) ✅" in trace
    layer = rmsnorm_repo.load()
    assert layer.__name__ == "RMSNorm" and layer.can_torch_compile and layer.has_backward


@pytest.mark.parametrize("mode", [Mode.INFERENCE | Mode.TORCH_COMPILE, Mode.TRAINING | Mode.TORCH_COMPILE])
def test_torch_compile_fullgraph_over_a_kernelized_layer(rmsnorm_repo, mode):
    torch.manual_seed(0)
    model = Block()
    x = torch.randn(4, 32, requires_grad=True)
    expected = model(x)
    expected.sum().backward()
    expected_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    with use_kernel_mapping({"RMSNorm": {"cpu": {mode: rmsnorm_repo}}}):
        kernelize(model, mode=mode, device="cpu")
    assert sorted(get_kernelized_layers(model).layers) == ["norm1", "norm2"]
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    actual = compiled(x)
    torch.testing.assert_close(actual, expected)
    if Mode.TRAINING in mode:
        actual.sum().backward()
        for got, want in zip([p.grad for p in model.parameters()], expected_grads):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@use_kernel_forward_from_hub("double")
def double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@use_kernelized_func(double)
class UsesDouble(nn.Module):
    def forward(self, x):
        return double(x) + 1


def test_function_routing_compiles_and_follows_each_instance(tmp_path):
    from layer_kernels import layer_kernel

    kernel = layer_kernel(tmp_path / "variant", '''
import torch
from torch import nn


class Triple(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 3
''')
    a, b = UsesDouble(), UsesDouble()
    with use_kernel_mapping({"double": {"cpu": LocalLayerRepository(kernel, layer_name="Triple")}}):
        kernelize(a, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu")
    torch._dynamo.reset()
    compiled = torch.compile(UsesDouble.forward, backend="eager", fullgraph=True)
    x = torch.arange(4.0)
    torch.testing.assert_close(compiled(a, x), x * 3 + 1)
    torch.testing.assert_close(compiled(b, x), x * 2 + 1)


# -- transformers ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def transformers():
    return pytest.importorskip("transformers")


def tiny_llama(transformers):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM(config).eval()


def rms_norms(model, transformers):
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    return [m for m in model.modules() if isinstance(m, LlamaRMSNorm)]


def runs_kernel(module) -> bool:
    return "forward" in module.__dict__ and module.forward.__func__ is not type(module).forward


def test_transformers_accepts_kb_kernels(transformers):
    from transformers.utils.import_utils import is_kernels_available

    assert is_kernels_available()
    import transformers.integrations.hub_kernels as hub_kernels

    assert hub_kernels._kernels_enabled
    assert hub_kernels.LayerRepository is kernels.LayerRepository
    assert hub_kernels._kernels_kernelize is kernels.kernelize


def test_kernelize_a_tiny_llama_on_cpu(transformers, rmsnorm_repo):
    model = tiny_llama(transformers)
    ids = torch.randint(0, 64, (2, 12))
    with torch.no_grad():
        expected = model(ids).logits
    register_kernel_mapping({"RMSNorm": {"cpu": rmsnorm_repo}})
    kernelize(model, mode=Mode.INFERENCE, device="cpu")
    norms = rms_norms(model, transformers)
    assert len(norms) == 2 * 2 + 1 and all(runs_kernel(m) for m in norms)
    with torch.no_grad():
        actual = model(ids).logits
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_from_pretrained_use_kernels_and_train_eval_rekernelize(transformers, rmsnorm_repo, tmp_path, monkeypatch,
                                                                 caplog):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_llama(transformers).save_pretrained(tmp_path / "tiny")
    reference = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "tiny").eval()
    ids = torch.randint(0, 64, (1, 9))
    with torch.no_grad():
        expected = reference(ids).logits

    # Only inference is registered for the CPU: training falls back.
    register_kernel_mapping({"RMSNorm": {"cpu": {Mode.INFERENCE: rmsnorm_repo}}})
    model = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "tiny", use_kernels=True).eval()
    assert model.use_kernels
    norms = rms_norms(model, transformers)
    assert all(runs_kernel(m) for m in norms)
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, expected, rtol=1e-4, atol=1e-5)
    model.train()
    assert not any(runs_kernel(m) for m in norms)
    model.eval()
    assert all(runs_kernel(m) for m in norms)

    # set_use_kernels on a model loaded without kernels, with training registered too.
    register_kernel_mapping({"RMSNorm": {"cpu": rmsnorm_repo}})
    plain = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "tiny")
    plain.set_use_kernels(True)
    plain.train()
    assert all(runs_kernel(m) for m in rms_norms(plain, transformers))
    loss = plain(ids, labels=ids).loss
    loss.backward()
    assert all(m.weight.grad is not None for m in rms_norms(plain, transformers))
