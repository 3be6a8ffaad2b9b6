"""Kernels that depend on kernels (build.toml `kernel-depends`, metadata.json
"kernel-depends"), with real builds: small [torch-noarch] kernels built once
per session with `kb build`, published with `kb upload` to the loopback
Hugging Face Hub fixture. Each kernel's __init__.py takes its dependencies
with `kernels.get_kernel_dep` and records the order kernels execute in.

Loads that must see a kernel execute run in fresh interpreters (a build is
imported once per process); checks of errors run in this process."""
import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import kernels
from conftest import REPO
from hub_server.process import HubProcess

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
TOKEN = "hf_kb_deps_test"
KERNELS_PYTHONPATH = str(Path(kernels.__file__).resolve().parents[1])

# The kernel's code: its dependencies by repo id, whether each had finished
# executing when this one started, and its place in the execution order
# (kept in the module kb_dep_order_log when the test made one).
KERNEL_INIT = '''\
import os
import sys

from kernels import get_kernel_dep

from . import _ops

NAME = {repo_id!r}
DEPS = {{repo_id: get_kernel_dep(repo_id) for repo_id in {deps!r}}}
DEPS_DONE = all(getattr(module, "DONE", False) for module in DEPS.values())
if os.environ.get("KB_DEPS_TEST_BREAK") == NAME:
    raise RuntimeError("broken on purpose: " + NAME)
if os.environ.get("KB_DEPS_TEST_UNDECLARED") == NAME:
    get_kernel_dep("kbdeps/undeclared")
_log = sys.modules.get("kb_dep_order_log")
if _log is not None:
    _log.order.append(NAME)
DONE = True
'''

# repo id -> the kernels it depends on (all at version 1).
HUB_KERNELS = {
    "kbdeps/dep-a": ["kbdeps/dep-b", "kbdeps/dep-c"],
    "kbdeps/dep-b": ["kbdeps/dep-d"],
    "kbdeps/dep-c": ["kbdeps/dep-d"],
    "kbdeps/dep-d": [],
    "kbdeps/cyc-a": ["kbdeps/cyc-b"],
    "kbdeps/cyc-b": ["kbdeps/cyc-a"],
    "kbdeps/self": ["kbdeps/self"],
    "kbdeps/flaky": ["kbdeps/dep-d"],
    # Its dependency is never published: only LOCAL_KERNELS can provide it.
    "kbdeps/orphan": ["kbdeps/missing"],
    # An organisation the hub does not trust.
    "kbloose/leaf": [],
}
# Built only, for LOCAL_KERNELS and get_local_kernel.
LOCAL_KERNELS_ONLY = {
    "kbdeps/missing": [],
    "kbdeps/uses-loose": ["kbloose/leaf"],
}


def make_kernel(root: Path, repo_id: str, deps: list) -> Path:
    name = repo_id.split("/")[1]
    src = root / name
    package = src / "torch-ext" / name.replace("-", "_")
    package.mkdir(parents=True)
    depends = ", ".join(f'{{ repo-id = "{d}", version = 1 }}' for d in deps)
    (src / "build.toml").write_text(
        f'[general]\nname = "{name}"\nversion = 1\nedition = 6\nlicense = "apache-2.0"\nbackends = ["cpu"]\n'
        f"kernel-depends = [{depends}]\n\n[torch-noarch]\n")
    (package / "__init__.py").write_text(KERNEL_INIT.format(repo_id=repo_id, deps=deps))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(KB), "build", str(src), "--python", sys.executable], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, f"kb build {src}:\n{out.stdout}\n{out.stderr}"
    return src


def base_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE", "HF_ENDPOINT", "KERNELS_CACHE",
                        "UNSTABLE_KERNELS_ALL_LATEST")}
    env["PYTHONPATH"] = KERNELS_PYTHONPATH
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def dep_kernels(tmp_path_factory, cpu_linux_torch):
    """Every kernel of this module, built once: repo id -> source directory."""
    root = tmp_path_factory.mktemp("dep-kernels")
    wanted = {**HUB_KERNELS, **LOCAL_KERNELS_ONLY}
    with ThreadPoolExecutor(2) as pool:
        futures = {repo_id: pool.submit(make_kernel, root, repo_id, deps) for repo_id, deps in wanted.items()}
        return {repo_id: future.result() for repo_id, future in futures.items()}


@pytest.fixture(scope="session")
def deps_hub(tmp_path_factory, dep_kernels):
    hub = HubProcess(tmp_path_factory.mktemp("deps-hub"), token=TOKEN, trusted_orgs=["kbdeps"], orgs=["kbloose"],
                     max_lifetime=1200)
    try:
        for repo_id in HUB_KERNELS:
            up = subprocess.run([str(KB), "upload", str(dep_kernels[repo_id]), "--repo-id", repo_id, "-q"],
                                env=base_env(HF_ENDPOINT=hub.url, HF_TOKEN=TOKEN), capture_output=True, text=True,
                                timeout=300)
            assert up.returncode == 0, f"kb upload {repo_id}:\n{up.stderr}"
        hub.env = lambda **extra: base_env(HF_ENDPOINT=hub.url, **extra)
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def hub_here(monkeypatch, deps_hub, tmp_path):
    """This process pointed at the fixture with a fresh cache."""
    for name in ("KB_HUB", "LOCAL_KERNELS", "HF_HUB_OFFLINE", "UNSTABLE_KERNELS_ALL_LATEST",
                 "KB_DEPS_TEST_BREAK", "KB_DEPS_TEST_UNDECLARED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", deps_hub.url)
    monkeypatch.setenv("KERNELS_CACHE", str(tmp_path / "cache"))
    return deps_hub


def run_python(code: str, env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)


def last_json(out: subprocess.CompletedProcess):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


# Loads the kernel `sys.argv[1]` with the call `sys.argv[2]` (an expression
# over `kernels` and `repo_id`) and prints what each kernel of the tree saw.
DESCRIBE_TREE = """
    import json, sys, types, warnings
    warnings.simplefilter("ignore")
    log = types.ModuleType("kb_dep_order_log")
    log.order = []
    sys.modules["kb_dep_order_log"] = log
    import kernels
    from pathlib import Path
    repo_id = sys.argv[1]
    top = eval(sys.argv[2])
    modules = {}
    def visit(module):
        if module.NAME in modules:
            assert modules[module.NAME] is module, module.NAME
            return
        modules[module.NAME] = module
        for dep in module.DEPS.values():
            visit(dep)
    visit(top)
    print(json.dumps({
        "order": log.order,
        "deps": {name: {r: m.NAME for r, m in module.DEPS.items()} for name, module in modules.items()},
        "deps_done": {name: module.DEPS_DONE for name, module in modules.items()},
        "same_d": len({id(m.DEPS["kbdeps/dep-d"]) for m in modules.values() if "kbdeps/dep-d" in m.DEPS}),
        "files": {name: module.__file__ for name, module in modules.items()},
        "loaded": sorted(k.module.NAME for k in kernels.get_loaded_kernels() if hasattr(k.module, "NAME")),
        "in_sys_modules": sorted(m.NAME for m in modules.values() if sys.modules.get(m.__name__) is m),
    }))
"""

TREE_ORDER = ["kbdeps/dep-d", "kbdeps/dep-b", "kbdeps/dep-c", "kbdeps/dep-a"]
TREE_DEPS = {
    "kbdeps/dep-a": {"kbdeps/dep-b": "kbdeps/dep-b", "kbdeps/dep-c": "kbdeps/dep-c"},
    "kbdeps/dep-b": {"kbdeps/dep-d": "kbdeps/dep-d"},
    "kbdeps/dep-c": {"kbdeps/dep-d": "kbdeps/dep-d"},
    "kbdeps/dep-d": {},
}


def check_tree(res: dict) -> None:
    # Dependencies execute before their dependents, the shared one once.
    assert res["order"] == TREE_ORDER
    assert res["deps"] == TREE_DEPS
    assert all(res["deps_done"].values())
    assert res["same_d"] == 1
    assert res["loaded"] == sorted(TREE_ORDER)
    assert res["in_sys_modules"] == sorted(TREE_ORDER)


# -- a tree from the hub -----------------------------------------------------------------------
def test_get_kernel_imports_the_tree_dependencies_first_and_a_shared_one_once(deps_hub, tmp_path):
    cache = tmp_path / "cache"
    res = last_json(run_python(DESCRIBE_TREE, deps_hub.env(KERNELS_CACHE=str(cache)), "kbdeps/dep-a",
                               "kernels.get_kernel(repo_id, version=1)"))
    check_tree(res)
    # Each from its own repository's snapshot at v1.
    for repo_id in TREE_ORDER:
        sha = deps_hub.head(repo_id, "v1")
        snapshot = cache / f"kernels--{repo_id.replace('/', '--')}" / "snapshots" / sha / "build" / "torch-cpu"
        assert Path(res["files"][repo_id]).parent == snapshot, repo_id


def test_install_kernel_fetches_the_tree_and_get_local_kernel_loads_it(deps_hub, tmp_path):
    env = deps_hub.env(KERNELS_CACHE=str(tmp_path / "cache"))
    out = run_python("""
        import sys, kernels
        print(kernels.install_kernel("kbdeps/dep-a", version=1))
    """, env)
    assert out.returncode == 0, out.stderr
    variant = Path(out.stdout.splitlines()[-1])
    # Offline from what install_kernel fetched: the dependencies come from the cache.
    deps_hub.clear_log()
    res = last_json(run_python(DESCRIBE_TREE, {**env, "HF_HUB_OFFLINE": "1"}, str(variant),
                               "kernels.get_local_kernel(Path(repo_id))"))
    check_tree(res)
    assert deps_hub.log() == []


def test_get_kernel_dep_outside_the_tree_and_for_an_undeclared_dependency(hub_here, monkeypatch):
    # The loader's context ends with the import.
    d = kernels.get_kernel("kbdeps/dep-d", version=1)
    with pytest.raises(RuntimeError, match=r"^`get_kernel_dep` only works during kernel loading\.$"):
        kernels.get_kernel_dep("kbdeps/dep-d")
    monkeypatch.setenv("KB_DEPS_TEST_UNDECLARED", "kbdeps/flaky")
    with pytest.raises(RuntimeError) as caught:
        kernels.get_kernel("kbdeps/flaky", version=1)
    assert str(caught.value) == ("Dependency 'kbdeps/undeclared' not found in kernel dependencies. Ensure the "
                                 "dependency is added to `kernel-deps` in build.toml.")
    # The dependency that did import stays, and is what a direct load returns.
    assert kernels.get_kernel("kbdeps/dep-d", version=1) is d


# -- cycles ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("repo_id, cycle", [
    ("kbdeps/cyc-a", "kbdeps/cyc-a -> kbdeps/cyc-b -> kbdeps/cyc-a"),
    ("kbdeps/cyc-b", "kbdeps/cyc-b -> kbdeps/cyc-a -> kbdeps/cyc-b"),
    ("kbdeps/self", "kbdeps/self -> kbdeps/self"),
])
def test_a_dependency_cycle_is_refused_naming_it(hub_here, repo_id, cycle):
    before = set(sys.modules)
    for call in (lambda: kernels.get_kernel(repo_id, version=1),
                 lambda: kernels.install_kernel(repo_id, version=1)):
        with pytest.raises(ValueError) as caught:
            call()
        assert f"Cyclic kernel dependency detected: {cycle}" in str(caught.value)
    assert set(sys.modules) == before


# -- LOCAL_KERNELS and local kernels ---------------------------------------------------------
def test_local_kernels_provides_a_dependency_of_a_hub_kernel(deps_hub, dep_kernels, tmp_path):
    env = deps_hub.env(KERNELS_CACHE=str(tmp_path / "cache"),
                       LOCAL_KERNELS=f"kbdeps/dep-d={dep_kernels['kbdeps/dep-d']}")
    res = last_json(run_python(DESCRIBE_TREE, env, "kbdeps/dep-a", "kernels.get_kernel(repo_id, version=1)"))
    check_tree(res)
    assert Path(res["files"]["kbdeps/dep-d"]).parent == dep_kernels["kbdeps/dep-d"] / "build" / "torch-cpu"
    cache = tmp_path / "cache"
    assert Path(res["files"]["kbdeps/dep-a"]).is_relative_to(cache)
    # The hub copy of dep-d was not fetched.
    assert not (cache / "kernels--kbdeps--dep-d").exists()


def test_has_kernel_of_a_tree(hub_here):
    assert kernels.has_kernel("kbdeps/dep-a", version=1)
    assert kernels.has_kernel("kbdeps/dep-d", version=1)


# kernels 0.19's has_kernel resolves the whole tree as get_kernel does,
# LOCAL_KERNELS first, then the hub, without downloading: a cycle raises, and
# LOCAL_KERNELS answers for any kernel of the tree, the one asked for
# included.
def test_has_kernel_resolves_the_tree_as_get_kernel_does(hub_here, dep_kernels, monkeypatch):
    monkeypatch.setenv("LOCAL_KERNELS", f"kbdeps/missing={dep_kernels['kbdeps/missing']}")
    assert kernels.has_kernel("kbdeps/orphan", version=1)
    assert kernels.has_kernel("kbdeps/missing", version=1)
    with pytest.raises(ValueError, match="Cyclic kernel dependency detected: kbdeps/self -> kbdeps/self"):
        kernels.has_kernel("kbdeps/self", version=1)


def test_get_local_kernel_fetches_hub_dependencies_of_trusted_publishers_only(hub_here, dep_kernels, tmp_path):
    uses_loose = dep_kernels["kbdeps/uses-loose"]
    with pytest.raises(ValueError) as caught:
        kernels.get_local_kernel(uses_loose)
    assert "kbloose/leaf" in str(caught.value)
    assert not (tmp_path / "cache" / "kernels--kbloose--leaf").exists()
    with pytest.raises(ValueError):
        kernels.get_local_kernel(uses_loose, trust_remote_code=["kbdeps/other"])
    # Allowing the dependency by name, or everything, loads it.
    kernel = kernels.get_local_kernel(uses_loose, trust_remote_code=["kbloose/leaf"])
    assert kernel.NAME == "kbdeps/uses-loose"
    assert kernel.DEPS["kbloose/leaf"].NAME == "kbloose/leaf"
    assert kernels.get_local_kernel(uses_loose, trust_remote_code=True) is kernel


# -- a failed import -------------------------------------------------------------------------------
def test_a_kernel_that_fails_to_import_leaves_nothing_behind_and_loads_once_fixed(hub_here, monkeypatch):
    monkeypatch.setenv("KB_DEPS_TEST_BREAK", "kbdeps/flaky")
    before = set(sys.modules)
    with pytest.raises(RuntimeError, match="broken on purpose: kbdeps/flaky"):
        kernels.get_kernel("kbdeps/flaky", version=1)
    added = set(sys.modules) - before
    # At most its dependency (which did import) remains; the kernel and its
    # _ops submodule are gone.
    assert all(getattr(sys.modules[name], "NAME", None) == "kbdeps/dep-d" for name in added
               if "." not in name), added
    assert not any(name.startswith("_flaky_") for name in sys.modules), added
    assert not any(getattr(k.module, "NAME", None) == "kbdeps/flaky" for k in kernels.get_loaded_kernels())

    monkeypatch.delenv("KB_DEPS_TEST_BREAK")
    flaky = kernels.get_kernel("kbdeps/flaky", version=1)
    assert flaky.DONE and flaky.DEPS["kbdeps/dep-d"].NAME == "kbdeps/dep-d"
    assert sys.modules[flaky.__name__] is flaky and f"{flaky.__name__}._ops" in sys.modules


# -- lock, download, load ---------------------------------------------------------------------------
def project(tmp_path: Path, deps: str) -> Path:
    p = tmp_path / "project"
    p.mkdir()
    (p / "pyproject.toml").write_text(f'[project]\nname = "app"\n\n[tool.kernels.dependencies]\n{deps}\n')
    return p


def kernels_cli(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernels", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


def expected_tree_lock(hub) -> bytes:
    entries = [{"dependency": {"repo-id": repo_id, "version": 1}, "lock": {"commit": hub.head(repo_id, "v1")}}
               for repo_id in sorted(TREE_ORDER)]
    return json.dumps(entries, indent=2).encode()


def test_lock_pins_the_whole_tree_and_locked_loads_use_it(deps_hub, tmp_path):
    proj = project(tmp_path, '"kbdeps/dep-a" = 1')
    cache = tmp_path / "cache"
    env = deps_hub.env(KERNELS_CACHE=str(cache))
    out = kernels_cli(env, "lock", proj)
    assert out.returncode == 0, out.stderr
    lock = proj / "kernels.lock"
    # The transitive dependencies too, sorted by repo id, indent 2, no newline at the end.
    assert lock.read_bytes() == expected_tree_lock(deps_hub)

    # get_locked_kernel fetches the tree the lock pins.
    res = last_json(run_python(DESCRIBE_TREE, env, "kbdeps/dep-a",
                               f"kernels.get_locked_kernel(repo_id, lockfile=Path({str(lock)!r}))"))
    check_tree(res)
    for repo_id in TREE_ORDER:
        assert f"/snapshots/{deps_hub.head(repo_id, 'v1')}/" in res["files"][repo_id]

    # load_kernel reads the cache only.
    deps_hub.clear_log()
    res = last_json(run_python(DESCRIBE_TREE, env, "kbdeps/dep-a",
                               f"kernels.load_kernel(repo_id, lockfile=Path({str(lock)!r}))"))
    check_tree(res)
    assert deps_hub.log() == []


def test_lock_pins_the_commit_not_the_branch(deps_hub, dep_kernels, tmp_path):
    proj = project(tmp_path, '"kbdeps/dep-b" = 1')
    env = deps_hub.env(KERNELS_CACHE=str(tmp_path / "cache"))
    assert kernels_cli(env, "lock", proj).returncode == 0
    locked = json.loads((proj / "kernels.lock").read_text())
    assert [e["dependency"]["repo-id"] for e in locked] == ["kbdeps/dep-b", "kbdeps/dep-d"]
    # A new commit on dep-d's v1 branch does not change what the lock loads.
    old = deps_hub.head("kbdeps/dep-d", "v1")
    deps_hub.commit("kbdeps/dep-d", "v1", {"README.md": b"moved on\n"})
    assert deps_hub.head("kbdeps/dep-d", "v1") != old
    out = run_python("""
        import sys, kernels
        from pathlib import Path
        b = kernels.get_locked_kernel("kbdeps/dep-b", lockfile=Path(sys.argv[1]))
        print(b.DEPS["kbdeps/dep-d"].__file__)
    """, env, proj / "kernels.lock")
    assert out.returncode == 0, out.stderr
    assert f"/snapshots/{old}/" in out.stdout.splitlines()[-1]


def test_a_dependency_missing_from_the_lock_is_an_error(deps_hub, tmp_path):
    proj = project(tmp_path, '"kbdeps/dep-a" = 1')
    env = deps_hub.env(KERNELS_CACHE=str(tmp_path / "cache"))
    assert kernels_cli(env, "lock", proj).returncode == 0
    lock = proj / "kernels.lock"
    entries = [e for e in json.loads(lock.read_text()) if e["dependency"]["repo-id"] != "kbdeps/dep-d"]
    lock.write_text(json.dumps(entries, indent=2))
    message = ("Kernel `kbdeps/dep-d` is not locked. Please lock it with `kernels lock <project>` and then "
               "reinstall the project.")
    for call in ("get_locked_kernel", "load_kernel"):
        out = run_python(f"""
            import sys, kernels
            from pathlib import Path
            kernels.{call}("kbdeps/dep-a", lockfile=Path(sys.argv[1]))
        """, env, lock)
        assert out.returncode != 0
        assert f"ValueError: {message}" in out.stderr, (call, out.stderr)
        assert "kbdeps/dep-b" not in out.stdout


# -- kernels info ------------------------------------------------------------------------------------
def run_info(capsys, *args):
    from kernels.cli import main

    code = main(["info", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


TREE = {"kbdeps/dep-b": {"kbdeps/dep-d": {}}, "kbdeps/dep-c": {"kbdeps/dep-d": {}}}
TREE_TEXT = "|-- kbdeps/dep-b\n|   `-- kbdeps/dep-d\n`-- kbdeps/dep-c\n    `-- kbdeps/dep-d\n"


def test_info_lists_every_kernel_of_the_tree_and_draws_it_with_dep_tree(hub_here, dep_kernels, capsys):
    for kernel in ("kbdeps/dep-a", dep_kernels["kbdeps/dep-a"]):
        code, out, err = run_info(capsys, kernel, "--json")
        assert (code, err) == (0, "")
        info = json.loads(out)
        # Every kernel of the tree once, transitive ones included.
        assert info["kernel_depends"] == ["kbdeps/dep-b", "kbdeps/dep-c", "kbdeps/dep-d"]
        assert "dependency_tree" not in info

        code, out, err = run_info(capsys, kernel, "--json", "--dep-tree")
        assert (code, err) == (0, "")
        info = json.loads(out)
        assert info["dependency_tree"] == TREE
        assert list(info) == ["name", "version", "kernels_minver", "license", "upstream", "source", "python_depends",
                              "backends", "variant", "kernel_depends", "dependency_tree",
                              *(["path"] if kernel == dep_kernels["kbdeps/dep-a"] else ["repo_id", "revision"])]

        code, out, err = run_info(capsys, kernel, "--dep-tree")
        assert (code, err) == (0, "")
        assert f"Source: -\nKernel dependencies:\n{kernel}\n{TREE_TEXT}Python dependencies: -\n" in out

        code, out, _ = run_info(capsys, kernel)
        assert "Kernel dependencies: kbdeps/dep-b, kbdeps/dep-c, kbdeps/dep-d\n" in out

    # A kernel without dependencies: an empty tree.
    code, out, _ = run_info(capsys, "kbdeps/dep-d", "--dep-tree", "--json")
    assert code == 0 and json.loads(out)["dependency_tree"] == {}
    code, out, _ = run_info(capsys, "kbdeps/dep-d", "--dep-tree")
    assert "Kernel dependencies:\nkbdeps/dep-d\nPython dependencies: -\n" in out


def test_info_of_a_cycle_is_an_error(hub_here, capsys):
    code, out, err = run_info(capsys, "kbdeps/cyc-a", "--dep-tree")
    assert (code, out) == (1, "")
    assert err == "Error: Cyclic kernel dependency detected: kbdeps/cyc-a -> kbdeps/cyc-b -> kbdeps/cyc-a\n"
