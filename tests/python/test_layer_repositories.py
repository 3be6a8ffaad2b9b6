"""LockedLayerRepository and LockedFuncRepository (runtime spec 8.4).

Constructors, equality and strings run in process against lock files
written here. Loading goes through a local hub (KB_HUB=local:DIR): a small
pure-Python kernel with a `layers` attribute and a plain function is
published with `kb upload`, locked with `kernels lock`, and then published
again so that branch v1 moves past the locked commit. Loads run in fresh
interpreters, as the other hub tests do."""
import importlib
import logging
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import kernels
from conftest import REPO, write_variant
from kernels import LockedFuncRepository, LockedLayerRepository
from kernels.layer import layer as layer_module
from kernels.layer._func_module import create_func_module

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
KERNELS_PYTHONPATH = str(Path(kernels.__file__).resolve().parents[1])
DEPRECATED = "LockedFuncRepository is deprecated and will be removed in kernels 0.17. Use LockedLayerRepository instead."
SHA_A = "a" * 40
SHA_B = "b" * 40


def write_lock(path: Path, pins: dict) -> Path:
    path.write_text(json.dumps([{"repo_id": r, "sha": s, "variants": {}} for r, s in pins.items()], indent=2))
    return path


def func_repo(*args, **kwargs) -> LockedFuncRepository:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return LockedFuncRepository(*args, **kwargs)


# -- constructors -------------------------------------------------------------------------
def test_the_locked_sha_comes_from_the_lock_file(tmp_path):
    lock = write_lock(tmp_path / "kernels.lock", {"org/other": SHA_B, "org/k": SHA_A})
    layer = LockedLayerRepository("org/k", lockfile=lock, layer_name="ReLU")
    assert layer.revision == SHA_A
    assert (layer.repo_id, layer.layer_name, layer.trust_remote_code) == ("org/k", "ReLU", False)
    assert func_repo("org/other", lockfile=str(lock), func_name="double", trust_remote_code=True).revision == SHA_B


def test_signatures():
    P = inspect.Parameter
    for cls, name in [(LockedLayerRepository, "layer_name"), (LockedFuncRepository, "func_name")]:
        assert [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()] == [
            ("repo_id", P.POSITIONAL_OR_KEYWORD, P.empty),
            ("lockfile", P.KEYWORD_ONLY, None),
            (name, P.KEYWORD_ONLY, P.empty),
            ("trust_remote_code", P.KEYWORD_ONLY, False),
            ("check_arch", P.KEYWORD_ONLY, True),
        ]


NOT_LOCKED = r"^Kernel `org/k` is not locked\. Please lock it with `kernels lock <project>` and then reinstall the project\.$"
NO_CALLER_LOCK = (r"^Could not find a `kernels\.lock` file in the caller's package metadata\. Please lock kernels with "
                  r"`kernels lock <project>` and then reinstall the project\.$")


def test_an_unlocked_kernel_is_refused_when_the_repository_is_created(tmp_path):
    # The messages of kernels 0.19.
    lock = write_lock(tmp_path / "kernels.lock", {"org/other": SHA_A})
    with pytest.raises(ValueError, match=NOT_LOCKED):
        LockedLayerRepository("org/k", lockfile=lock, layer_name="ReLU")
    with pytest.raises(ValueError, match=NOT_LOCKED):
        func_repo("org/k", lockfile=lock, func_name="double")
    # Without a lock file the calling module's package is asked: this test
    # module belongs to no installed distribution, so there is no lock.
    with pytest.raises(ValueError, match=NO_CALLER_LOCK):
        LockedLayerRepository("org/k", layer_name="ReLU")
    with pytest.raises(ValueError, match=NO_CALLER_LOCK):
        func_repo("org/k", func_name="double")
    with pytest.raises(FileNotFoundError):
        LockedLayerRepository("org/k", lockfile=tmp_path / "missing.lock", layer_name="ReLU")
    # A malformed lock fails the lookup.
    (tmp_path / "bad.lock").write_text(json.dumps([{"repo_id": "org/k", "variants": {}}]))
    with pytest.raises(ValueError, match='missing key "sha"'):
        LockedLayerRepository("org/k", lockfile=tmp_path / "bad.lock", layer_name="ReLU")


CALLER = """
import kernels

def layer(**kwargs):
    return kernels.LockedLayerRepository("org/k", layer_name="ReLU", **kwargs)

def func(**kwargs):
    return kernels.LockedFuncRepository("org/k", func_name="double", **kwargs)
"""


def test_without_a_lock_file_the_calling_package_lock_is_used(tmp_path, monkeypatch):
    name = f"lockedapp_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    (site / name).mkdir(parents=True)
    (site / name / "__init__.py").write_text(CALLER)
    meta = site / f"{name}-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (meta / "RECORD").write_text(f"{name}/__init__.py,,\n{meta.name}/METADATA,,\n{meta.name}/RECORD,,\n")
    write_lock(meta / "kernels.lock", {"org/k": SHA_A})
    monkeypatch.syspath_prepend(str(site))
    try:
        app = importlib.import_module(name)
        assert app.layer().revision == SHA_A
        assert app.func().revision == SHA_A
        # An explicit lock file wins over the package's lock.
        other = write_lock(tmp_path / "kernels.lock", {"org/k": SHA_B})
        assert app.layer(lockfile=other).revision == SHA_B
    finally:
        sys.modules.pop(name, None)


def test_only_the_func_repository_is_deprecated(tmp_path, caplog):
    # Since kernels 0.17 the notice goes through logging, not warnings.
    lock = write_lock(tmp_path / "kernels.lock", {"org/k": SHA_A})
    with caplog.at_level(logging.WARNING, logger="kernels"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            LockedFuncRepository("org/k", lockfile=lock, func_name="double")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("kernels.layer.func", logging.WARNING, DEPRECATED)
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="kernels"):
        LockedLayerRepository("org/k", lockfile=lock, layer_name="ReLU")
    assert caplog.records == []


def test_equality_and_hash(tmp_path):
    lock_a = write_lock(tmp_path / "a.lock", {"org/k": SHA_A, "org/j": SHA_A})
    lock_a2 = write_lock(tmp_path / "a2.lock", {"org/k": SHA_A})
    lock_b = write_lock(tmp_path / "b.lock", {"org/k": SHA_B})

    layer = LockedLayerRepository("org/k", lockfile=lock_a, layer_name="ReLU")
    # The lock file itself is not part of the identity, only what it pins.
    same = LockedLayerRepository("org/k", lockfile=lock_a2, layer_name="ReLU")
    assert layer == same and hash(layer) == hash(same)
    assert len({layer, same}) == 1
    for different in [
        LockedLayerRepository("org/k", lockfile=lock_b, layer_name="ReLU"),
        LockedLayerRepository("org/j", lockfile=lock_a, layer_name="ReLU"),
        LockedLayerRepository("org/k", lockfile=lock_a, layer_name="GELU"),
        LockedLayerRepository("org/k", lockfile=lock_a, layer_name="ReLU", trust_remote_code=True),
    ]:
        assert layer != different
    assert len({layer, LockedLayerRepository("org/k", lockfile=lock_b, layer_name="ReLU")}) == 2

    func = func_repo("org/k", lockfile=lock_a, func_name="double")
    assert func == func_repo("org/k", lockfile=lock_a2, func_name="double")
    assert hash(func) == hash(func_repo("org/k", lockfile=lock_a2, func_name="double"))
    assert func != func_repo("org/k", lockfile=lock_b, func_name="double")
    assert func != func_repo("org/k", lockfile=lock_a, func_name="triple")
    assert func != func_repo("org/k", lockfile=lock_a, func_name="double", trust_remote_code=True)
    # A layer and a function of the same name are different repositories.
    assert LockedLayerRepository("org/k", lockfile=lock_a, layer_name="double") != func
    # An allowlist of repo ids is accepted and still hashable.
    listed = LockedLayerRepository("org/k", lockfile=lock_a, layer_name="ReLU", trust_remote_code=["org/k"])
    assert hash(listed) == hash(LockedLayerRepository("org/k", lockfile=lock_a, layer_name="ReLU",
                                                      trust_remote_code=["org/k"]))
    # Skipping the architecture check makes another repository.
    assert layer != LockedLayerRepository("org/k", lockfile=lock_a, layer_name="ReLU", check_arch=False)
    assert func != func_repo("org/k", lockfile=lock_a, func_name="double", check_arch=False)


def test_strings(tmp_path):
    lock = write_lock(tmp_path / "kernels.lock", {"org/k": SHA_A})
    assert str(LockedLayerRepository("org/k", lockfile=lock, layer_name="ReLU")) == (
        f"`org/k` (revision: {SHA_A}), layer `ReLU`"
    )
    assert str(func_repo("org/k", lockfile=lock, func_name="double")) == (
        f"`org/k` (revision: {SHA_A}), function `double`"
    )


# -- load with a stand-in get_kernel ---------------------------------------------------------------
@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """The locked loader replaced by a stub serving modules by repo id,
    recording the entry it was asked for."""
    modules, calls = {}, []

    def load_locked(locks, entry, *, trust_remote_code=False, **rest):
        assert [lock.repo_id for lock in locks if lock.repo_id == entry.repo_id] == [entry.repo_id]
        calls.append((entry.repo_id, entry.sha, trust_remote_code, rest))
        return modules[entry.repo_id]

    monkeypatch.setattr(layer_module, "_load_locked", load_locked)
    lock = write_lock(tmp_path / "kernels.lock", {f"org/{n}": SHA_A for n in ["k", "bare", "none"]})
    return SimpleNamespace(modules=modules, calls=calls, lock=lock)


def test_load_looks_the_layer_up_in_the_kernel_at_the_locked_sha(fake_hub):
    import torch

    class ReLU(torch.nn.Module):
        def forward(self, x):
            return torch.relu(x)

    k = ModuleType("k")
    k.layers = SimpleNamespace(ReLU=ReLU, Gone=None)
    fake_hub.modules.update({"org/k": k, "org/bare": ModuleType("bare")})
    none = ModuleType("none")
    none.layers = None
    fake_hub.modules["org/none"] = none

    repo = LockedLayerRepository("org/k", lockfile=fake_hub.lock, layer_name="ReLU", trust_remote_code=True)
    assert repo.load() is ReLU
    assert fake_hub.calls == [("org/k", SHA_A, True, {"check_arch": True})]
    fake_hub.calls.clear()
    unchecked = LockedLayerRepository("org/k", lockfile=fake_hub.lock, layer_name="ReLU", check_arch=False)
    assert unchecked.load() is ReLU
    assert fake_hub.calls == [("org/k", SHA_A, False, {"check_arch": False})]
    fake_hub.calls.clear()

    for name in ["Gone", "Missing"]:
        with pytest.raises(ValueError, match=re.escape(f"Layer `{name}` not found in kernel repo `org/k` "
                                                       f"(revision: {SHA_A}), layer `{name}`.")):
            LockedLayerRepository("org/k", lockfile=fake_hub.lock, layer_name=name).load()
    for repo_id in ["org/bare", "org/none"]:
        with pytest.raises(ValueError, match=re.escape(f"Kernel repo `{repo_id}` (revision: {SHA_A}), layer "
                                                       "`ReLU` does not define any layers.")):
            LockedLayerRepository(repo_id, lockfile=fake_hub.lock, layer_name="ReLU").load()


def test_func_load_wraps_the_function_in_a_module_class(fake_hub):
    import torch

    def scale(x: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
        return x * factor

    scale.has_backward = False
    k = ModuleType("k")
    k.scale = scale
    k.gone = None
    fake_hub.modules["org/k"] = k

    cls = func_repo("org/k", lockfile=fake_hub.lock, func_name="scale").load()
    assert fake_hub.calls == [("org/k", SHA_A, False, {"check_arch": True})]
    assert isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__name__ == "Func"
    assert (cls.can_torch_compile, cls.has_backward) == (False, False)
    assert str(inspect.signature(cls.forward)) == "(self, x: torch.Tensor, factor: float = 2.0) -> torch.Tensor"
    # A class loaded from a kernel carries no members beyond the two flags.
    assert not hasattr(cls, "kernel_layer_name")
    x = torch.arange(4.0)
    assert torch.equal(cls()(x, factor=3.0), x * 3)

    for name in ["gone", "missing"]:
        with pytest.raises(ValueError, match=re.escape(f"Function `{name}` not found in ``org/k` (revision: "
                                                       f"{SHA_A}), function `{name}``")):
            func_repo("org/k", lockfile=fake_hub.lock, func_name=name).load()


def test_func_module_class():
    import torch

    def add(a, b=1, *rest, c, **kw):
        return a + b + c

    add.can_torch_compile = True
    cls = create_func_module(add)
    assert cls.__name__ == "Func" and cls.__bases__ == (torch.nn.Module,)
    assert (cls.can_torch_compile, cls.has_backward) == (True, True)
    assert not hasattr(cls, "kernel_layer_name")
    assert str(inspect.signature(cls.forward)) == "(self, a, b=1, *rest, c, **kw)"
    assert cls()(1, 2, c=3) == 6
    # Each call builds its own class.
    assert create_func_module(add) is not cls


# -- load through a local hub ------------------------------------------------------------------------------
LAYERS_V1 = '''
import torch


class layers:
    class ReLU(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x)


def double(x: torch.Tensor) -> torch.Tensor:
    return x * 2


double.can_torch_compile = True
'''

# Published after locking: the locked loads must not see it.
LAYERS_V1_LATER = '''
import torch


class layers:
    class ReLU(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 0 - 7


def double(x: torch.Tensor) -> torch.Tensor:
    return x * 0 - 7
'''

NO_LAYERS = '''
def double(x):
    return x * 2
'''


def hub_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE", "HF_ENDPOINT", "KERNELS_CACHE")}
    env["PYTHONPATH"] = KERNELS_PYTHONPATH
    env.update(extra)
    return env


def publish(env: dict, kernel: Path, body: str, repo_id: str) -> None:
    # A pure-Python variant that any torch on any platform accepts.
    write_variant(kernel / "build" / "torch-universal", name="layers", body=body)
    up = subprocess.run([str(KB), "upload", str(kernel), "--repo-id", repo_id, "--allow-nonportable", "-q"],
                        env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr


def branch_head(root: Path, repo_id: str) -> str:
    org, name = repo_id.split("/")
    return subprocess.run(["git", "--git-dir", str(root / org / f"{name}.git"), "rev-parse", "refs/heads/v1"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def locked_hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers-hub")
    work = tmp_path_factory.mktemp("layers-work")
    env = hub_env(KB_HUB=f"local:{root}", KERNELS_CACHE=str(work / "cache"))
    publish(env, work / "layers", LAYERS_V1, "kb-test/layers")
    publish(env, work / "no-layers", NO_LAYERS, "kb-test/no-layers")
    locked = {r: branch_head(root, r) for r in ["kb-test/layers", "kb-test/no-layers"]}

    proj = work / "project"
    proj.mkdir()
    (proj / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.kernels.dependencies]\n"kb-test/layers" = 1\n"kb-test/no-layers" = 1\n')
    out = subprocess.run([sys.executable, "-m", "kernels", "lock", str(proj)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lock = proj / "kernels.lock"
    assert {e["dependency"]["repo-id"]: e["lock"]["commit"] for e in json.loads(lock.read_text())} == locked

    publish(env, work / "layers-later", LAYERS_V1_LATER, "kb-test/layers")
    assert branch_head(root, "kb-test/layers") != locked["kb-test/layers"]
    return SimpleNamespace(env=env, lock=lock, locked=locked)


LOAD = """
import inspect, json, sys, warnings
from pathlib import Path
import torch, kernels

lock = Path(sys.argv[1])
out = {}
x = torch.linspace(-2, 2, 9)

relu = kernels.LockedLayerRepository("kb-test/layers", lockfile=lock, layer_name="ReLU").load()
out["relu_is_module_class"] = isinstance(relu, type) and issubclass(relu, torch.nn.Module)
out["relu"] = relu()(x).tolist()
out["loaded"] = [[k.repo_info.repo_id, k.repo_info.revision] for k in kernels.get_loaded_kernels()]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    func = kernels.LockedFuncRepository("kb-test/layers", lockfile=lock, func_name="double").load()
out["func_name"] = func.__name__
out["func_flags"] = [func.can_torch_compile, func.has_backward]
out["func_signature"] = str(inspect.signature(func.forward))
out["func"] = func()(x).tolist()

out["errors"] = []
for make in [
    lambda: kernels.LockedLayerRepository("kb-test/layers", lockfile=lock, layer_name="GELU"),
    lambda: kernels.LockedLayerRepository("kb-test/no-layers", lockfile=lock, layer_name="ReLU"),
]:
    try:
        make().load()
        out["errors"].append(None)
    except ValueError as e:
        out["errors"].append(str(e))
print(json.dumps(out))
"""


def test_locked_repositories_load_from_the_hub_at_the_locked_commit(locked_hub):
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(LOAD), str(locked_hub.lock)], env=locked_hub.env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.splitlines()[-1])
    sha, bare_sha = locked_hub.locked["kb-test/layers"], locked_hub.locked["kb-test/no-layers"]
    values = [-2 + 0.5 * i for i in range(9)]

    # The layer of the locked commit, not of the later head of v1.
    assert out["relu_is_module_class"] is True
    assert out["relu"] == [max(v, 0.0) for v in values]
    assert ["kb-test/layers", sha] in out["loaded"]

    assert out["func_name"] == "Func"
    assert out["func_flags"] == [True, True]
    assert out["func_signature"] == "(self, x: torch.Tensor) -> torch.Tensor"
    assert out["func"] == [2 * v for v in values]

    assert out["errors"] == [
        f"Layer `GELU` not found in kernel repo `kb-test/layers` (revision: {sha}), layer `GELU`.",
        f"Kernel repo `kb-test/no-layers` (revision: {bare_sha}), layer `ReLU` does not define any layers.",
    ]


def test_locked_repositories_pickle_and_compare_equal(tmp_path):
    import pickle

    lock = write_lock(tmp_path / "kernels.lock", {"org/k": SHA_A})
    for repo in (LockedLayerRepository("org/k", lockfile=lock, layer_name="ReLU", trust_remote_code=["org/k"]),
                 func_repo("org/k", lockfile=lock, func_name="double")):
        restored = pickle.loads(pickle.dumps(repo))
        assert restored == repo and hash(restored) == hash(repo) and str(restored) == str(repo)
