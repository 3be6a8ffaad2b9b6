"""Layers and kernelize (runtime spec 8, kernels 0.18): modes, devices, the
mapping registry, kernelize's fallback rules, layer validation, function
layers, inspection, copies. Kernels are small pure-Python variant
directories (layer_kernels.py) whose layers record their calls."""
import copy
import logging
import pickle
import sys
import threading

import pytest
import torch
from torch import nn

import kernels
from kernels import (
    CUDAProperties,
    Device,
    KernelizeFallback,
    LayerRepository,
    LocalLayerRepository,
    Mode,
    ROCMProperties,
    get_kernelized_layers,
    kernelize,
    register_kernel_mapping,
    replace_kernel_forward_from_hub,
    use_kernel_forward_from_hub,
    use_kernel_mapping,
    use_kernelized_func,
)
from kernels.layer import globals as layer_globals
from kernels.layer import layer as layer_module
from kernels.layer import repos as repos_module
from kernels.layer.device import StrictDataclassClassValidationError, StrictDataclassFieldValidationError
from kernels.layer.layer import _validate_layer
from layer_kernels import layer_kernel


@use_kernel_forward_from_hub("Counted")
class Counted(nn.Module):
    """A replaceable layer that records which forward ran."""

    def __init__(self):
        super().__init__()
        self.calls = []
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append("original")
        return x


class Model(nn.Module):
    def __init__(self, n=2):
        super().__init__()
        self.layers = nn.ModuleList([Counted() for _ in range(n)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def ran(module: Counted, x=None) -> str:
    """Runs the module once; returns which forward ran."""
    module.calls.clear()
    module(torch.zeros(2) if x is None else x)
    (name,) = module.calls
    return name


# Each test starts from an empty mapping and an empty layer cache.
pytestmark = pytest.mark.usefixtures("fresh_layer_mapping")


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    return layer_kernel(tmp_path_factory.mktemp("layer-kernel") / "variant")


@pytest.fixture
def repo(kernel_dir):
    def make(layer_name):
        return LocalLayerRepository(repo_path=kernel_dir, layer_name=layer_name)

    return make


@pytest.fixture
def capability(monkeypatch):
    """Fakes the CUDA/ROCm device capability lookups (no GPU here); records
    the device indexes asked for."""
    state = {"value": 80, "asked": []}

    def fake(device_index=None):
        state["asked"].append(device_index)
        return state["value"]

    monkeypatch.setattr(repos_module, "device_capability", fake)
    return state


# -- Mode ------------------------------------------------------------------------------------------------------------
def test_mode_values_and_algebra():
    assert [(name, m.value) for name, m in Mode.__members__.items()] == [
        ("_NONE", 0), ("FALLBACK", 1), ("TRAINING", 2), ("INFERENCE", 4), ("TORCH_COMPILE", 8)]
    assert (Mode.INFERENCE | Mode.TORCH_COMPILE).value == 12
    assert Mode.TORCH_COMPILE in Mode.TRAINING | Mode.TORCH_COMPILE
    with pytest.raises(ValueError, match=r"^Mode.INFERENCE and Mode.TRAINING are mutually exclusive.$"):
        Mode.INFERENCE | Mode.TRAINING
    with pytest.raises(ValueError, match=r"^Mode.FALLBACK cannot be combined with other modes.$"):
        Mode.FALLBACK | Mode.TORCH_COMPILE
    assert Mode.FALLBACK | Mode.FALLBACK == Mode.FALLBACK


def test_kernelize_refuses_modes_it_cannot_run():
    with pytest.raises(ValueError, match=r"^Mode.FALLBACK can only be used to register kernel mappings.$"):
        kernelize(nn.Linear(2, 2), mode=Mode.FALLBACK)
    with pytest.raises(ValueError, match=r"^kernelize mode must contain Mode.INFERENCE or Mode.TRAINING.$"):
        kernelize(nn.Linear(2, 2), mode=Mode.TORCH_COMPILE)


def test_kernelize_fallback_flags():
    values = {name: f.value for name, f in KernelizeFallback.__members__.items()}
    assert values == {"NONE": 0, "NO_LAYER": 1, "NO_DEVICE": 2, "NO_COMPATIBLE_PROPERTIES": 4,
                      "NO_COMPATIBLE_MODE": 8, "CANNOT_LOAD": 16, "DEFAULT": 15, "ALL": 31}
    assert KernelizeFallback.CANNOT_LOAD not in KernelizeFallback.DEFAULT


# -- Device ----------------------------------------------------------------------------------------------------------
def test_devices_and_properties():
    props = CUDAProperties(min_capability=75, max_capability=90)
    assert props == CUDAProperties(75, 90) and hash(props) == hash(CUDAProperties(75, 90))
    assert props != ROCMProperties(75, 90)
    assert Device(type="cuda", properties=props) == Device("cuda", CUDAProperties(75, 90))
    assert len({Device("cuda"), Device("cuda"), Device("cuda", props)}) == 2
    with pytest.raises(ValueError, match=r"^CUDAProperties is only supported for 'cuda' devices.$"):
        Device(type="rocm", properties=props)
    with pytest.raises(ValueError, match=r"^ROCMProperties is only supported for 'rocm' devices.$"):
        Device(type="cuda", properties=ROCMProperties(90, 90))
    with pytest.raises(StrictDataclassClassValidationError, match=r"min_capability \(90\) must be <= max_capability \(80\)") as e:
        CUDAProperties(min_capability=90, max_capability=80)
    assert isinstance(e.value, ValueError) and isinstance(e.value.__cause__, ValueError)
    with pytest.raises(StrictDataclassFieldValidationError, match="min_capability"):
        CUDAProperties(min_capability="75", max_capability=90)
    with pytest.raises(StrictDataclassFieldValidationError, match="'type'"):
        Device(type=3)
    with pytest.raises(AttributeError):
        props.min_capability = 1


# -- the mapping -----------------------------------------------------------------------------------------------------
def test_a_bare_repository_is_registered_for_fallback_and_string_keys_are_device_types(repo):
    register_kernel_mapping({"Counted": {"cpu": repo("AddOne")}})
    mapping = layer_globals._KERNEL_MAPPING.get()
    assert mapping["Counted"]["cpu"].repos_for_device() == {Mode.FALLBACK: repo("AddOne")}


def test_bad_mappings_name_the_layer_and_the_rule_and_register_nothing(repo):
    with pytest.raises(ValueError, match=r"^Unknown device type: metal \(kernel mapping for layer `Counted`"):
        register_kernel_mapping({"Counted": {"cpu": repo("AddOne"), "metal": repo("AddOne")}})
    with pytest.raises(ValueError, match=r"layer `Counted` on device `cpu`: <Mode.TORCH_COMPILE: 8> cannot be "
                                         r"registered for `.*` \(layer `AddOne`\); register Mode.INFERENCE"):
        register_kernel_mapping({"Counted": {"cpu": {Mode.TORCH_COMPILE: repo("AddOne")}}})
    with pytest.raises(ValueError, match=r"layer `Counted` on device `cpu` with mode Mode.FALLBACK: 'org/kernel' is "
                                         r"not a repository"):
        register_kernel_mapping({"Counted": {"cpu": "org/kernel"}})
    assert layer_globals._KERNEL_MAPPING.get() == {}


def test_register_replaces_per_layer_and_device_and_can_start_over(repo):
    register_kernel_mapping({"Counted": {"cpu": repo("AddOne")}, "Other": {"cpu": repo("AddOne")}})
    register_kernel_mapping({"Counted": {"cpu": {Mode.INFERENCE: repo("TimesTwo")}}})
    mapping = layer_globals._KERNEL_MAPPING.get()
    assert mapping["Counted"]["cpu"].repos_for_device() == {Mode.INFERENCE: repo("TimesTwo")}
    assert "Other" in mapping
    register_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}, inherit_mapping=False)
    assert list(layer_globals._KERNEL_MAPPING.get()) == ["Counted"]


def test_nested_use_kernel_mapping_inherits_overrides_and_restores(repo):
    model = Model(1)
    layer = model.layers[0]
    register_kernel_mapping({"Counted": {"cpu": repo("AddOne")}})
    with use_kernel_mapping({"Counted": {"cpu": repo("TimesTwo")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
        assert ran(layer) == "TimesTwo"
        with use_kernel_mapping({"Unrelated": {"cpu": repo("AddOne")}}):
            kernelize(model, mode=Mode.INFERENCE, device="cpu")
            assert ran(layer) == "TimesTwo"  # inherited from the enclosing block
        with use_kernel_mapping({"Unrelated": {"cpu": repo("AddOne")}}, inherit_mapping=False):
            kernelize(model, mode=Mode.INFERENCE, device="cpu")
            assert ran(layer) == "original"  # nothing for Counted in here
    kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert ran(layer) == "AddOne"  # the outer registration is back
    assert list(layer_globals._KERNEL_MAPPING.get()) == ["Counted"]


def test_mapping_blocks_are_per_thread(repo):
    # A block in one thread does not leak into another.
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other_thread():
        inside.wait(10)
        seen["other"] = "Counted" in layer_globals._KERNEL_MAPPING.get()
        done.set()

    t = threading.Thread(target=other_thread)
    t.start()
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        inside.set()
        done.wait(10)
    t.join(10)
    assert seen == {"other": False}


def test_construction_errors_surface_when_the_mapping_is_written():
    with pytest.raises(ValueError, match=r"^Either a revision or a version must be specified, not both.$"):
        LayerRepository("org/k", layer_name="L", revision="main", version=1)
    with pytest.raises(ValueError, match=r"^Either a revision or a version must be specified.$"):
        LayerRepository("org/k", layer_name="L")


# -- kernelize -------------------------------------------------------------------------------------------------------
def test_kernelize_binds_the_kernel_forward_per_instance_and_reverts(repo):
    model = Model(2)
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        assert kernelize(model, mode=Mode.INFERENCE, device="cpu") is model
    assert [ran(layer) for layer in model.layers] == ["AddOne", "AddOne"]
    assert torch.equal(model(torch.zeros(2)), torch.full((2,), 2.0))
    # The class is untouched: a new instance runs its own forward.
    assert ran(Counted()) == "original"
    # An empty device entry reverts to the original forward.
    with use_kernel_mapping({"Counted": {"cpu": {}}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert [ran(layer) for layer in model.layers] == ["original", "original"]


def test_the_device_comes_from_the_parameters_or_must_be_named(repo):
    model = Model(1)
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE)
    assert ran(model.layers[0]) == "AddOne"
    with pytest.raises(ValueError, match=r"^Cannot determine model device, provide as `device` argument"):
        kernelize(nn.ReLU(), mode=Mode.INFERENCE)
    with pytest.raises(ValueError, match=r"^Unsupported device type 'gpu'. Supported device types are: cpu, cuda, "
                                         r"mps, neuron, npu, rocm, tpu, xpu$"):
        kernelize(model, mode=Mode.INFERENCE, device="gpu")


# Requested mode, registered modes -> which one serves it (spec 8.5).
FALLBACK_TABLE = [
    (Mode.INFERENCE, ["Inference", "InferenceCompile", "Training", "TrainingCompile", "Fallback"], "Inference"),
    (Mode.INFERENCE, ["InferenceCompile", "Training", "TrainingCompile", "Fallback"], "InferenceCompile"),
    (Mode.INFERENCE, ["Training", "TrainingCompile", "Fallback"], "Training"),
    (Mode.INFERENCE, ["TrainingCompile", "Fallback"], "TrainingCompile"),
    (Mode.INFERENCE, ["Fallback"], "Fallback"),
    (Mode.TRAINING, ["Inference", "InferenceCompile", "Training", "TrainingCompile", "Fallback"], "Training"),
    (Mode.TRAINING, ["Inference", "InferenceCompile", "TrainingCompile", "Fallback"], "TrainingCompile"),
    (Mode.TRAINING, ["Inference", "InferenceCompile", "Fallback"], "Fallback"),
    (Mode.TRAINING, ["Inference", "InferenceCompile"], "original"),
    (Mode.INFERENCE | Mode.TORCH_COMPILE, ["Inference", "InferenceCompile", "TrainingCompile", "Fallback"],
     "InferenceCompile"),
    (Mode.INFERENCE | Mode.TORCH_COMPILE, ["Inference", "Training", "TrainingCompile", "Fallback"], "TrainingCompile"),
    (Mode.INFERENCE | Mode.TORCH_COMPILE, ["Inference", "Training", "Fallback"], "Fallback"),
    (Mode.INFERENCE | Mode.TORCH_COMPILE, ["Inference", "Training"], "original"),
    (Mode.TRAINING | Mode.TORCH_COMPILE, ["Training", "InferenceCompile", "TrainingCompile", "Fallback"],
     "TrainingCompile"),
    (Mode.TRAINING | Mode.TORCH_COMPILE, ["Training", "InferenceCompile", "Fallback"], "Fallback"),
    (Mode.TRAINING | Mode.TORCH_COMPILE, ["Training", "Inference"], "original"),
]
MODE_OF = {"Inference": Mode.INFERENCE, "InferenceCompile": Mode.INFERENCE | Mode.TORCH_COMPILE,
           "Training": Mode.TRAINING, "TrainingCompile": Mode.TRAINING | Mode.TORCH_COMPILE, "Fallback": Mode.FALLBACK}


@pytest.mark.parametrize("requested, registered, expected", FALLBACK_TABLE)
def test_mode_fallback_priority(repo, requested, registered, expected):
    layer = Counted()
    with use_kernel_mapping({"Counted": {"cpu": {MODE_OF[name]: repo(name) for name in registered}}}):
        kernelize(layer, mode=requested, device="cpu")
        assert ran(layer) == expected
        if expected == "original":
            with pytest.raises(ValueError, match=r"^No repository for `Counted` for configuration mode="):
                kernelize(layer, mode=requested, device="cpu", use_fallback=False)


def test_a_registered_mode_the_layer_cannot_serve_is_an_error_whatever_the_fallback(repo):
    layer = Counted()
    for use_fallback in (True, KernelizeFallback.ALL):
        with use_kernel_mapping({"Counted": {"cpu": {Mode.TRAINING: repo("NoBackward")}}}):
            with pytest.raises(ValueError, match=r"from repo `.*` \(layer `NoBackward`\) does not support backward.\n"
                                                 r"Was registered for `Counted` with mode `Mode.TRAINING`"):
                kernelize(layer, mode=Mode.TRAINING, device="cpu", use_fallback=use_fallback)
        with use_kernel_mapping({"Counted": {"cpu": {Mode.INFERENCE | Mode.TORCH_COMPILE: repo("AddOne")}}}):
            with pytest.raises(ValueError, match=r"\(layer `AddOne`\) does not support torch.compile.\n"
                                                 r"Was registered for `Counted`"):
                kernelize(layer, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu", use_fallback=use_fallback)
    assert ran(layer) == "original"


def test_a_requested_mode_the_layer_cannot_serve_falls_back_unless_told_not_to(repo, caplog):
    layer = Counted()
    with use_kernel_mapping({"Counted": {"cpu": repo("NoBackward")}}):
        kernelize(layer, mode=Mode.INFERENCE, device="cpu")
        assert ran(layer) == "NoBackward"
        with caplog.at_level(logging.INFO, logger="kernels"):
            kernelize(layer, mode=Mode.TRAINING, device="cpu")
        assert ran(layer) == "original"
        assert "Layer does not support backward, using fallback" in caplog.text
        kernelize(layer, mode=Mode.INFERENCE, device="cpu")
        with pytest.raises(ValueError, match=r"^Available kernel does not support mode: Mode.TRAINING$"):
            kernelize(layer, mode=Mode.TRAINING, device="cpu", use_fallback=False)
        assert ran(layer) == "NoBackward"  # unchanged by the failed call
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(layer, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu")
        assert ran(layer) == "original"
    with use_kernel_mapping({"Counted": {"cpu": repo("Compilable")}}):
        kernelize(layer, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu")
        assert ran(layer) == "Compilable"


@pytest.mark.parametrize("use_fallback", [False, True, KernelizeFallback.NONE, KernelizeFallback.NO_LAYER,
                                          KernelizeFallback.DEFAULT, KernelizeFallback.ALL])
def test_no_mapping_for_the_layer(use_fallback, caplog):
    layer = Counted()
    allowed = use_fallback is True or (use_fallback is not False and KernelizeFallback.NO_LAYER in use_fallback)
    with caplog.at_level(logging.WARNING, logger="kernels"):
        if allowed:
            kernelize(layer, mode=Mode.INFERENCE, device="cpu", use_fallback=use_fallback)
            assert ran(layer) == "original"
        else:
            with pytest.raises(ValueError, match=r"^No layer mapping for `Counted`$"):
                kernelize(layer, mode=Mode.INFERENCE, device="cpu", use_fallback=use_fallback)
    assert "No kernel mapping found for layer `Counted`" in caplog.text


@pytest.mark.parametrize("flag", [KernelizeFallback.NO_DEVICE, KernelizeFallback.NO_COMPATIBLE_PROPERTIES,
                                  KernelizeFallback.NO_COMPATIBLE_MODE, KernelizeFallback.CANNOT_LOAD])
def test_each_fallback_flag_covers_its_case_only(repo, capability, tmp_path, flag):
    cases = {
        KernelizeFallback.NO_DEVICE: ({"Counted": {"cuda": repo("AddOne")}}, "cpu",
                                      r"^No layer mapping for `Counted` with device type `Device\(type='cpu'"),
        KernelizeFallback.NO_COMPATIBLE_PROPERTIES: (
            {"Counted": {Device("cuda", CUDAProperties(90, 90)): repo("AddOne")}}, "cuda",
            r"^No layer mapping for `Counted` device `Device\(type='cuda'.*` with the right properties$"),
        KernelizeFallback.NO_COMPATIBLE_MODE: ({"Counted": {"cpu": {Mode.INFERENCE: repo("AddOne")}}}, "cpu",
                                               r"^No repository for `Counted` for configuration mode=Mode.TRAINING$"),
        KernelizeFallback.CANNOT_LOAD: (
            {"Counted": {"cpu": LocalLayerRepository(repo_path=tmp_path / "missing", layer_name="AddOne")}}, "cpu",
            r"Could not find kernel in"),
    }
    mapping, device, error = cases[flag]
    layer = Counted()
    with use_kernel_mapping(mapping):
        others = KernelizeFallback.ALL & ~flag
        expected_error = FileNotFoundError if flag == KernelizeFallback.CANNOT_LOAD else ValueError
        with pytest.raises(expected_error, match=error):
            kernelize(layer, mode=Mode.TRAINING, device=device, use_fallback=others)
        kernelize(layer, mode=Mode.TRAINING, device=device, use_fallback=flag)
        assert ran(layer) == "original"
    # DEFAULT covers all but CANNOT_LOAD, which True does not allow.
    with use_kernel_mapping(mapping):
        if flag == KernelizeFallback.CANNOT_LOAD:
            with pytest.raises(FileNotFoundError):
                kernelize(layer, mode=Mode.TRAINING, device=device, use_fallback=True)
        else:
            kernelize(layer, mode=Mode.TRAINING, device=device, use_fallback=True)


def test_a_failed_kernelize_leaves_every_module_as_it_was(repo, tmp_path):
    @use_kernel_forward_from_hub("Broken")
    class Broken(Counted):
        pass

    model = nn.Sequential(Counted(), Broken(), Counted())
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    before = [ran(m) for m in model]
    assert before == ["AddOne", "original", "AddOne"]
    mapping = {
        "Counted": {"cpu": repo("TimesTwo")},
        "Broken": {"cpu": LocalLayerRepository(repo_path=tmp_path / "gone", layer_name="X")},
    }
    with use_kernel_mapping(mapping):
        with pytest.raises(FileNotFoundError):
            kernelize(model, mode=Mode.INFERENCE, device="cpu")
    assert [ran(m) for m in model] == before
    assert list(get_kernelized_layers(model).layers) == ["0", "2"]


def test_disable_kernel_mapping_restores_original_forwards(repo, monkeypatch):
    layer = Counted()
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(layer, mode=Mode.INFERENCE, device="cpu")
        assert ran(layer) == "AddOne"
        monkeypatch.setattr(layer_globals, "_DISABLE_KERNEL_MAPPING", True)
        kernelize(layer, mode=Mode.INFERENCE, device="cpu")
    assert ran(layer) == "original"


def test_disable_kernel_mapping_must_be_an_integer(tmp_path):
    import os
    import subprocess

    env = {**os.environ, "DISABLE_KERNEL_MAPPING": "yes"}
    # Read when the layer API is first used (loaders alone never read it).
    out = subprocess.run([sys.executable, "-c", "import kernels; kernels.Mode"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0
    assert "DISABLE_KERNEL_MAPPING must be an integer (0 keeps kernel mappings, 1 disables them), got 'yes'" in out.stderr
    env["DISABLE_KERNEL_MAPPING"] = "1"
    code = "import kernels.layer.globals as g; print(g._DISABLE_KERNEL_MAPPING)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_condition_decides_per_instance(repo, caplog):
    @use_kernel_forward_from_hub("Counted", condition=lambda module: module.scale.numel() == 1 and module.enabled)
    class Conditional(Counted):
        enabled = True

    a, b = Conditional(), Conditional()
    b.enabled = False
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        with caplog.at_level(logging.INFO, logger="kernels"):
            kernelize(nn.Sequential(a, b), mode=Mode.INFERENCE, device="cpu")
    assert (ran(a), ran(b)) == ("AddOne", "original")
    assert "Skipping kernelization for `Conditional` using `Counted` due to kernel_condition." in caplog.text
    # Without a condition every instance is kernelized; the default is always-true.
    assert Counted.kernel_condition(Counted()) is True


def test_replace_kernel_forward_from_hub_on_a_class_one_does_not_own(repo):
    class ThirdParty(Counted):
        pass

    replace_kernel_forward_from_hub(ThirdParty, "ThirdPartyName")
    assert ThirdParty.kernel_layer_name == "ThirdPartyName"
    layer = ThirdParty()
    with use_kernel_mapping({"ThirdPartyName": {"cpu": repo("TimesTwo")}}):
        kernelize(layer, mode=Mode.INFERENCE, device="cpu")
    assert ran(layer) == "TimesTwo"


def test_use_kernel_forward_from_hub_refuses_other_things():
    with pytest.raises(TypeError, match=r"^@use_kernel_forward_from_hub can only be applied to classes or functions$"):
        use_kernel_forward_from_hub("X")(42)


# -- capabilities ----------------------------------------------------------------------------------------------------
def test_the_narrowest_capability_range_wins_and_identical_ranges_replace(repo, capability):
    layer = Counted()
    mapping = {"Counted": {
        "cuda": repo("AddOne"),  # any capability
        Device("cuda", CUDAProperties(80, 89)): repo("TimesTwo"),
        Device("cuda", CUDAProperties(90, 90)): repo("Compilable"),
    }}
    with use_kernel_mapping(mapping):
        for cap, expected in [(75, "AddOne"), (86, "TimesTwo"), (90, "Compilable"), (100, "AddOne")]:
            capability["value"] = cap
            kernelize(layer, mode=Mode.INFERENCE, device="cuda")
            assert ran(layer) == expected, cap
        # Registering 8.0-8.9 again replaces its entry.
        register_kernel_mapping({"Counted": {Device("cuda", CUDAProperties(80, 89)): repo("Full")}})
        capability["value"] = 86
        kernelize(layer, mode=Mode.INFERENCE, device="cuda")
        assert ran(layer) == "Full"


def test_rocm_mappings_use_rocm_properties(repo, capability, monkeypatch):
    layer = Counted()
    mapping = {"Counted": {Device("rocm", ROCMProperties(90, 95)): repo("TimesTwo"), "cuda": repo("AddOne")}}
    capability["value"] = 94
    with use_kernel_mapping(mapping):
        kernelize(layer, mode=Mode.INFERENCE, device="rocm")
        assert ran(layer) == "TimesTwo"
        # A torch.device("cuda") is ROCm when torch is built for it.
        monkeypatch.setattr(torch.version, "hip", "6.3.0", raising=False)
        kernelize(layer, mode=Mode.INFERENCE, device=torch.device("cpu"))
        kernelize(layer, mode=Mode.INFERENCE, device=torch.device("cuda", 0))
        assert ran(layer) == "TimesTwo"


def test_the_capability_is_asked_for_the_device_index_given(repo, capability):
    layer = Counted()
    with use_kernel_mapping({"Counted": {Device("cuda", CUDAProperties(80, 80)): repo("AddOne")}}):
        capability["value"] = 80
        kernelize(layer, mode=Mode.INFERENCE, device=torch.device("cuda", 1))
        assert ran(layer) == "AddOne"
        capability["value"] = 90
        kernelize(layer, mode=Mode.INFERENCE, device="cuda")
        assert ran(layer) == "original"
    assert capability["asked"] == [1, None]


# -- repositories and validation -------------------------------------------------------------------------------------
def test_repository_identity_and_strings(kernel_dir):
    a = LayerRepository("org/k", layer_name="L", version=1)
    assert a == LayerRepository("org/k", layer_name="L", version=1, user_agent="app/1")
    assert a != LayerRepository("org/k", layer_name="L", revision="main")
    assert len({a, LayerRepository("org/k", layer_name="L", version=1)}) == 1
    assert str(a) == "`org/k` (revision: version 1), layer `L`"
    assert str(LayerRepository("org/k", layer_name="L", revision="abc")) == "`org/k` (revision: abc), layer `L`"
    allow = ["org/k"]
    listed = LayerRepository("org/k", layer_name="L", version=1, trust_remote_code=allow)
    allow.append("org/other")  # the repository kept its own copy
    assert listed == LayerRepository("org/k", layer_name="L", version=1, trust_remote_code=["org/k"])
    assert hash(listed) == hash(LayerRepository("org/k", layer_name="L", version=1, trust_remote_code=["org/k"]))
    local = LocalLayerRepository(repo_path=kernel_dir, layer_name="AddOne")
    assert str(local) == f"`{kernel_dir}` (layer `AddOne`)"
    assert local == LocalLayerRepository(kernel_dir, layer_name="AddOne") != LocalLayerRepository(kernel_dir, layer_name="X")


def test_layer_lookup_errors_name_the_repository(kernel_dir, tmp_path):
    with pytest.raises(ValueError, match=rf"^Layer `Missing` not found in kernel repo `{kernel_dir}` \(layer `Missing`\).$"):
        LocalLayerRepository(kernel_dir, layer_name="Missing").load()
    bare = layer_kernel(tmp_path / "bare", with_layers=False)
    with pytest.raises(ValueError, match=r"does not define any layers.$"):
        LocalLayerRepository(bare, layer_name="AddOne").load()


def test_layer_repository_forwards_its_arguments_to_get_kernel(monkeypatch, kernel_dir):
    calls = []

    def fake_get_kernel(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return kernels.get_local_kernel(kernel_dir)

    monkeypatch.setattr(layer_module, "get_kernel", fake_get_kernel)
    LayerRepository("org/k", layer_name="AddOne", version=2, user_agent={"app": "x"}, trust_remote_code=True,
                    check_arch=False).load()
    assert calls == [("org/k", {"revision": None, "version": 2, "trust_remote_code": True,
                                "user_agent": {"app": "x"}, "check_arch": False})]


class SiluAndMul(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize("name, error", [
    ("NotAModule", r"^Layer `object` is not a Torch layer.$"),
    ("WithInit", r"^`.*` \(layer `WithInit`\) must not override nn.Module constructor.$"),
    ("WithMember", r"^`.*` \(layer `WithMember`\) must not contain additional members compared to `SiluAndMul`.$"),
    ("WithMethod", r"must not contain additional members compared to `SiluAndMul`.$"),
    ("TwoArgs", r"^Forward signature of `.*` \(layer `TwoArgs`\) does not match `SiluAndMul`: different number of "
                r"arguments.$"),
    ("KeywordOnly", r"^Forward signature of `.*` \(layer `KeywordOnly`\) does not match `SiluAndMul`: different kind "
                    r"of arguments \(x \(KEYWORD_ONLY\) and x: torch.Tensor \(POSITIONAL_OR_KEYWORD\)"),
])
def test_validation_rules(kernel_dir, name, error):
    repo = LocalLayerRepository(kernel_dir, layer_name=name)
    kernel = kernels.get_local_kernel(kernel_dir)
    with pytest.raises(TypeError, match=error):
        _validate_layer(check_cls=SiluAndMul, cls=getattr(kernel.layers, name), repo=repo)


def test_validation_accepts_flags_and_annotations_and_runs_once_per_repository(kernel_dir, monkeypatch):
    kernel = kernels.get_local_kernel(kernel_dir)
    for name in ("AddOne", "NoBackward", "Annotated"):
        _validate_layer(check_cls=SiluAndMul, cls=getattr(kernel.layers, name), repo=name)
    loads = []
    repo = LocalLayerRepository(kernel_dir, layer_name="AddOne")
    original = LocalLayerRepository.load
    monkeypatch.setattr(LocalLayerRepository, "load", lambda self: loads.append(self) or original(self))
    model = Model(3)
    with use_kernel_mapping({"Counted": {"cpu": repo}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
        kernelize(model, mode=Mode.TRAINING, device="cpu")
    assert loads == [repo]


def test_an_invalid_layer_fails_kernelize_and_changes_nothing(repo):
    layer = Counted()
    with use_kernel_mapping({"Counted": {"cpu": repo("WithMember")}}):
        with pytest.raises(TypeError, match="must not contain additional members compared to `Counted`"):
            kernelize(layer, mode=Mode.INFERENCE, device="cpu", use_fallback=KernelizeFallback.ALL)
    assert ran(layer) == "original"


# -- function layers -------------------------------------------------------------------------------------------------
@use_kernel_forward_from_hub("scale_fn")
def scale_fn(x: torch.Tensor) -> torch.Tensor:
    return x


@use_kernelized_func(scale_fn)
class UsesScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, x):
        return scale_fn(x)


def test_a_decorated_function_is_a_replaceable_module_singleton():
    assert isinstance(scale_fn, nn.Module) and type(scale_fn).__name__ == "Func"
    assert scale_fn.kernel_layer_name == "scale_fn"
    assert str(__import__("inspect").signature(type(scale_fn).forward)) == "(self, x: torch.Tensor) -> torch.Tensor"
    x = torch.arange(3.0)
    assert torch.equal(scale_fn(x), x)


def test_use_kernelized_func_requires_decorated_functions():
    def plain(x):
        return x

    with pytest.raises(ValueError, match=r"^Function `plain` is not decorated with @use_kernel_forward_from_hub and "
                                         r"cannot be used with @use_kernelized_func$"):
        use_kernelized_func(plain)(type("M", (nn.Module,), {"forward": lambda self, x: x}))


def test_each_model_gets_its_own_function_copy_kernelized_and_reverted(kernel_dir):
    a, b = UsesScale(), UsesScale()
    assert a._kernel_funcs["scale_fn"] is not b._kernel_funcs["scale_fn"]
    assert "_kernel_funcs" not in dict(a.named_modules())
    x = torch.arange(3.0)
    repo = LocalLayerRepository(kernel_dir, layer_name="AddOne")
    with use_kernel_mapping({"scale_fn": {"cpu": repo}}):
        kernelize(a, mode=Mode.INFERENCE, device="cpu")
    # AddOne records on the module it is bound to: a's private copy.
    a._kernel_funcs["scale_fn"].calls = []
    assert torch.equal(a(x), x + 1)
    assert torch.equal(b(x), x)  # the other model is unaffected
    assert torch.equal(scale_fn(x), x)  # so is a call outside any model
    layers = get_kernelized_layers(a)
    assert layers.layers == {} and list(layers.funcs) == [("", "scale_fn")]
    assert layers.funcs[("", "scale_fn")].repo == repo
    with use_kernel_mapping({"scale_fn": {"cpu": {}}}):
        kernelize(a, mode=Mode.INFERENCE, device="cpu")
    assert torch.equal(a(x), x)
    assert get_kernelized_layers(a).funcs == {}


def test_a_function_singleton_used_as_a_submodule_is_replaced_globally_and_reverted(kernel_dir):
    @use_kernel_forward_from_hub("times")
    def times(x: torch.Tensor) -> torch.Tensor:
        return x

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.fn = times

        def forward(self, x):
            return self.fn(x)

    holder = Holder()
    times.calls = []
    x = torch.arange(3.0)
    with use_kernel_mapping({"times": {"cpu": LocalLayerRepository(kernel_dir, layer_name="TimesTwo")}}):
        kernelize(holder, mode=Mode.INFERENCE, device="cpu")
    assert torch.equal(times(x), x * 2) and torch.equal(holder(x), x * 2)
    with use_kernel_mapping({"times": {"cpu": {}}}):
        kernelize(holder, mode=Mode.INFERENCE, device="cpu")
    assert torch.equal(times(x), x)


def test_nested_models_route_each_function_to_the_running_instance(kernel_dir):
    @use_kernelized_func(scale_fn)
    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = UsesScale()

        def forward(self, x):
            return scale_fn(self.inner(scale_fn(x)))

    model = Outer()
    model._kernel_funcs["scale_fn"].calls = []
    model.inner._kernel_funcs["scale_fn"].calls = []
    with use_kernel_mapping({"scale_fn": {"cpu": LocalLayerRepository(kernel_dir, layer_name="TimesTwo")}}):
        kernelize(model.inner, mode=Mode.INFERENCE, device="cpu")
    with use_kernel_mapping({"scale_fn": {"cpu": LocalLayerRepository(kernel_dir, layer_name="AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    # kernelize(model) also reaches the inner model's copy: both are AddOne now.
    x = torch.tensor([1.0])
    assert model(x).item() == 4.0  # +1, +1 (inner), +1
    with use_kernel_mapping({"scale_fn": {"cpu": LocalLayerRepository(kernel_dir, layer_name="TimesTwo")}}):
        kernelize(model.inner, mode=Mode.INFERENCE, device="cpu")
    assert model(x).item() == 5.0  # +1 -> 2, *2 -> 4, +1 -> 5


# -- inspection, copies, pickling ------------------------------------------------------------------------------------
def test_get_kernelized_layers_reports_what_runs_kernels(repo):
    model = nn.Sequential(Counted(), nn.Linear(2, 2), Model(2))
    assert get_kernelized_layers(model) == kernels.KernelizedLayers()
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    found = get_kernelized_layers(model)
    assert sorted(found.layers) == ["0", "2.layers.0", "2.layers.1"]
    assert found.layers["0"] == kernels.KernelizedLayer(model[0], repo("AddOne"))
    assert model[0].__dict__["_kernel_repo"] == repo("AddOne")
    with use_kernel_mapping({"Counted": {"cpu": {Mode.TRAINING: repo("AddOne")}}}):
        kernelize(model, mode=Mode.INFERENCE | Mode.TORCH_COMPILE, device="cpu")  # falls back everywhere
    assert get_kernelized_layers(model).layers == {}
    assert "_kernel_repo" not in model[0].__dict__


def test_deepcopy_keeps_kernels_bound_to_the_copy(repo):
    model = Model(2)
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    clone = copy.deepcopy(model)
    assert [ran(layer) for layer in clone.layers] == ["AddOne", "AddOne"]
    assert all(layer.forward.__self__ is layer for layer in clone.layers)
    assert sorted(get_kernelized_layers(clone).layers) == ["layers.0", "layers.1"]
    # Reverting the copy leaves the original kernelized.
    with use_kernel_mapping({"Counted": {"cpu": {}}}):
        kernelize(clone, mode=Mode.INFERENCE, device="cpu")
    assert ran(clone.layers[0]) == "original" and ran(model.layers[0]) == "AddOne"


@pytest.mark.parametrize("restore", [copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
                         ids=["copy", "deepcopy", "pickle"])
def test_function_copies_survive_copy_and_pickle_independently(kernel_dir, restore):
    model = UsesScale()
    with use_kernel_mapping({"scale_fn": {"cpu": LocalLayerRepository(kernel_dir, layer_name="TimesTwo")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    model._kernel_funcs["scale_fn"].calls = []
    x = torch.arange(3.0)
    if restore is copy.copy:
        private = model._kernel_funcs["scale_fn"]
        duplicate = copy.copy(private)
        assert duplicate is not private and duplicate.forward.__self__ is duplicate
        assert torch.equal(duplicate(x), x * 2)
        return
    restored = restore(model)
    private = restored._kernel_funcs["scale_fn"]
    assert private is not model._kernel_funcs["scale_fn"] and private is not scale_fn
    assert private.__dict__["forward"].__self__ is private
    assert torch.equal(restored(x), x * 2)
    with use_kernel_mapping({"scale_fn": {"cpu": {}}}):
        kernelize(restored, mode=Mode.INFERENCE, device="cpu")
    assert torch.equal(restored(x), x)
    assert torch.equal(model(x), x * 2)


def test_a_pickled_kernelized_layer_loads_and_runs(repo):
    model = Model(1)
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
    restored = pickle.loads(pickle.dumps(model))
    # Bound methods pickle by name, so the restored layer runs its own
    # forward; it is not reported as kernelized, and kernelize binds it again.
    assert ran(restored.layers[0]) == "original"
    assert get_kernelized_layers(restored).layers == {}
    with use_kernel_mapping({"Counted": {"cpu": repo("AddOne")}}):
        kernelize(restored, mode=Mode.INFERENCE, device="cpu")
    assert ran(restored.layers[0]) == "AddOne"


# -- LayerRepository over the Hugging Face Hub fixture ---------------------------------------------------------------
@pytest.fixture(scope="module")
def layer_hub(tmp_path_factory):
    from hub_server.process import HubProcess
    from layer_kernels import hub_files

    server = HubProcess(tmp_path_factory.mktemp("layer-hub"), token="hf_kb_layers", trusted_orgs=["kb-test"],
                        max_lifetime=600)
    server.commit("kb-test/layers", "v1", hub_files())
    server.commit("kb-test/layers", "v2", hub_files())
    server.commit("kb-test/no-layers", "v1", hub_files(with_layers=False))
    yield server
    server.stop()


@pytest.fixture
def hub_layers(layer_hub, monkeypatch, tmp_path):
    for name in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", layer_hub.url)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))
    return layer_hub


def test_layer_repository_loads_by_version_and_revision_from_the_hub(hub_layers):
    by_version = LayerRepository("kb-test/layers", layer_name="TimesTwo", version=1)
    by_branch = LayerRepository("kb-test/layers", layer_name="TimesTwo", revision="v2")
    model = Model(2)
    with use_kernel_mapping({"Counted": {"cpu": {Mode.INFERENCE: by_version, Mode.TRAINING: by_branch}}}):
        kernelize(model, mode=Mode.INFERENCE, device="cpu")
        assert [ran(layer) for layer in model.layers] == ["TimesTwo", "TimesTwo"]
        assert get_kernelized_layers(model).layers["layers.0"].repo is by_version
        kernelize(model, mode=Mode.TRAINING, device="cpu")
        assert get_kernelized_layers(model).layers["layers.1"].repo is by_branch
    # Loaded from the cache of the hub, at the commit of each branch.
    revisions = {k.repo_info.revision for k in kernels.get_loaded_kernels()
                 if k.repo_info and k.repo_info.repo_id == "kb-test/layers"}
    assert "v2" in revisions and len(revisions) == 2


def test_layer_repository_errors_from_the_hub_name_the_repository(hub_layers):
    with pytest.raises(ValueError, match=r"^Kernel repo `kb-test/no-layers` \(revision: version 1\), layer `AddOne` "
                                         r"does not define any layers.$"):
        LayerRepository("kb-test/no-layers", layer_name="AddOne", version=1).load()
    with pytest.raises(ValueError, match=r"^Layer `Nope` not found in kernel repo `kb-test/layers` \(revision: v1\), "
                                         r"layer `Nope`.$"):
        LayerRepository("kb-test/layers", layer_name="Nope", revision="v1").load()
    # The version is resolved when the layer is first loaded.
    with pytest.raises(ValueError, match=r"^Version 7 not found, available versions: 1, 2$"):
        LayerRepository("kb-test/layers", layer_name="AddOne", version=7).load()
    # A load error in kernelize keeps the model as it was, and is raised
    # (repository errors are not missing files: CANNOT_LOAD does not cover them).
    layer = Counted()
    with use_kernel_mapping({"Counted": {"cpu": LayerRepository("kb-test/no-layers", layer_name="X", version=1)}}):
        with pytest.raises(ValueError, match="does not define any layers"):
            kernelize(layer, mode=Mode.INFERENCE, device="cpu", use_fallback=KernelizeFallback.ALL)
    assert ran(layer) == "original"


# -- deprecated function repositories --------------------------------------------------------------------------------
def test_function_repositories_log_their_deprecation_and_load_functions_as_layers(kernel_dir, tmp_path, caplog):
    from kernels import FuncRepository, LocalFuncRepository, use_kernel_func_from_hub

    with caplog.at_level(logging.WARNING, logger="kernels"):
        remote = FuncRepository("org/k", func_name="scale", version=1)
        local = LocalFuncRepository(kernel_dir, func_name="scale")

        @use_kernel_func_from_hub("old_style")
        def old_style(x):
            return x

    assert [r.getMessage() for r in caplog.records] == [
        "FuncRepository is deprecated and will be removed in kernels 0.17. Use LayerRepository instead.",
        "LocalFuncRepository is deprecated and will be removed in kernels 0.17. Use LocalLayerRepository instead.",
        "use_kernel_func_from_hub is deprecated and will be removed in kernels 0.17. Use "
        "[`use_kernel_forward_from_hub`] instead.",
    ]
    assert old_style.kernel_layer_name == "old_style"
    assert str(remote) == "`org/k` (revision: version 1), function `scale`"
    assert str(local) == f"`{kernel_dir}` (function `scale`)"
    with pytest.raises(ValueError, match=r"^Either a revision or a version must be specified.$"):
        FuncRepository("org/k", func_name="scale")
    func_layer = local.load()
    assert func_layer.__name__ == "Func" and issubclass(func_layer, nn.Module)
    assert torch.equal(func_layer()(torch.ones(2)), torch.full((2,), 3.0))
    with pytest.raises(ValueError, match=rf"^Function `nope` not found in ``{kernel_dir}` \(function `nope`\)`$"):
        LocalFuncRepository(kernel_dir, func_name="nope").load()
    # A function mapped onto a function layer replaces it.
    holder = UsesScale()
    with use_kernel_mapping({"scale_fn": {"cpu": local}}):
        kernelize(holder, mode=Mode.INFERENCE, device="cpu")
    assert torch.equal(holder(torch.ones(2)), torch.full((2,), 3.0))
