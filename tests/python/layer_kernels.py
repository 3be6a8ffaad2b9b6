"""Small pure-Python kernels with layers, written as variant directories, for
the layer tests (no compiler needed): each layer counts its calls on the
module it is bound to, so a test sees which forward ran."""
import json
import textwrap
import uuid
from pathlib import Path

from conftest import write_variant

# name -> (what the layer computes, has_backward, can_torch_compile). Each
# records its name in the bound module's `calls` list. Written out as classes
# (not made by a factory) so their forwards pickle by name.
_COUNTING = {
    "AddOne": ("x + 1", True, False),
    "TimesTwo": ("x * 2", True, False),
    "Compilable": ("x + 10", True, True),
    "NoBackward": ("x + 20", False, False),
    "Full": ("x + 30", True, True),
    "Inference": ("x + 40", True, True),
    "Training": ("x + 50", True, True),
    "InferenceCompile": ("x + 60", True, True),
    "TrainingCompile": ("x + 70", True, True),
    "Fallback": ("x + 80", True, True),
}

_COUNTING_CLASS = '''
class {name}(nn.Module):
    has_backward = {has_backward}
    can_torch_compile = {can_torch_compile}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("{name}")
        return {expr}
'''

COUNTING_LAYERS = '''
import torch
from torch import nn


{counting}
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
'''.replace("{counting}", "".join(
    _COUNTING_CLASS.format(name=name, expr=expr, has_backward=backward, can_torch_compile=compile_)
    for name, (expr, backward, compile_) in _COUNTING.items()))


def _package(layers_source: str, with_layers: bool) -> dict:
    """The kernel package's files (relative path -> text). A `scale` function
    in the layers source is also a top-level function of the kernel, for the
    function repositories."""
    if not with_layers:
        return {"__init__.py": "VALUE = 1\n"}
    return {"__init__.py": "from . import layers\nscale = getattr(layers, 'scale', None)\n",
            "layers.py": textwrap.dedent(layers_source)}


def layer_kernel(path: Path, layers_source: str = COUNTING_LAYERS, *, with_layers: bool = True) -> Path:
    """A variant directory whose package has a `layers` module (or none)."""
    files = _package(layers_source, with_layers)
    write_variant(path, name="testlayers", kernel_id=f"_testlayers_{uuid.uuid4().hex[:10]}", body=files["__init__.py"])
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def hub_files(layers_source: str = COUNTING_LAYERS, *, with_layers: bool = True) -> dict:
    """The files of the same kernel as a torch-universal build on a hub branch."""
    metadata = {"name": "hubtestlayers", "id": f"_hubtestlayers_{uuid.uuid4().hex[:10]}", "version": 1,
                "license": "Apache-2.0", "python-depends": [], "backend": {"type": "cpu"}}
    base = "build/torch-universal/"
    files = {base + name: text.encode() for name, text in _package(layers_source, with_layers).items()}
    files[base + "metadata.json"] = json.dumps(metadata).encode()
    return files
