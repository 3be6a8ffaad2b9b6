"""Small pure-Python kernels with layers, written as variant directories, for
the layer tests (no compiler needed): each layer counts its calls on the
module it is bound to, so a test sees which forward ran."""
import json
import textwrap
import uuid
from pathlib import Path

from conftest import write_variant

# Each kernel layer records "<layer>" in the bound module's `calls` list.
COUNTING_LAYERS = '''
import torch
from torch import nn


class AddOne(nn.Module):

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("AddOne")
        return x + 1


class TimesTwo(nn.Module):

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("TimesTwo")
        return x * 2


class Compilable(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("Compilable")
        return x + 10


class NoBackward(nn.Module):
    has_backward = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("NoBackward")
        return x + 20


class Full(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("Full")
        return x + 30


class Inference(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("Inference")
        return x + 40


class Training(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("Training")
        return x + 50


class InferenceCompile(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("InferenceCompile")
        return x + 60


class TrainingCompile(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("TrainingCompile")
        return x + 70


class Fallback(nn.Module):
    can_torch_compile = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("Fallback")
        return x + 80


class WithInit(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x


class WithMember(nn.Module):
    extra = 1

    def forward(self, x):
        return x


class WithMethod(nn.Module):
    def helper(self):
        return 1

    def forward(self, x):
        return x


class TwoArgs(nn.Module):
    def forward(self, x, y):
        return x


class KeywordOnly(nn.Module):
    def forward(self, *, x):
        return x


NotAModule = object


def scale(x: torch.Tensor) -> torch.Tensor:
    return x * 3


class Annotated(nn.Module):
    # Bare annotations are not members: allowed.
    weight: torch.Tensor

    def forward(self, x):
        self.calls.append("Annotated")
        return x - 1
'''


def layer_kernel(path: Path, layers_source: str = COUNTING_LAYERS, *, with_layers: bool = True) -> Path:
    """A variant directory whose package has a `layers` module (or none)."""
    body = "from . import layers\n" if with_layers else "VALUE = 1\n"
    write_variant(path, name="testlayers", kernel_id=f"_testlayers_{uuid.uuid4().hex[:10]}", body=body)
    if with_layers:
        (path / "layers.py").write_text(textwrap.dedent(layers_source))
    return path


def hub_files(layers_source: str = COUNTING_LAYERS, *, with_layers: bool = True) -> dict:
    """The files of the same kernel as a torch-universal build on a hub branch."""
    kernel_id = f"_hubtestlayers_{uuid.uuid4().hex[:10]}"
    metadata = {"name": "hubtestlayers", "id": kernel_id, "version": 1, "license": "Apache-2.0",
                "python-depends": [], "backend": {"type": "cpu"}}
    base = "build/torch-universal/"
    files = {base + "metadata.json": json.dumps(metadata).encode()}
    if with_layers:
        files[base + "__init__.py"] = b"from . import layers\n"
        files[base + "layers.py"] = textwrap.dedent(layers_source).encode()
    else:
        files[base + "__init__.py"] = b"VALUE = 1\n"
    return files
