"""`kernels benchmark`: the statistics, the machine description, and the
runner on examples/relu (local and from the loopback hub), on small
pure-Python kernels for the error paths and the built-in benchmarks, and
--compare / --append-history / --plot-history.

Every run is a `python -m kernels benchmark` child process: a run imports
kernels, which must not collide with the builds other tests load here."""
import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kernels
from conftest import REPO, RELU, write_variant
from hub_server.process import HubProcess
from kernels.benchmark.machine import TorchFacts, cpu_model, describe_machine
from kernels.benchmark.stats import mean_ratio, percentile, summarize

KB = Path(os.environ.get("KB_BIN", REPO / "build" / "bin")) / "kb"
TOKEN = "hf_kb_test"
ORG = "kb-bench"
TIMING_KEYS = {
    "mean_ms": float, "std_ms": float, "min_ms": float, "max_ms": float, "q1_ms": float, "q3_ms": float,
    "iqr_ms": float, "outliers": int, "iterations": int,
}


def test_importing_the_benchmark_api_imports_neither_torch_nor_tabulate():
    code = ("import sys; from kernels.benchmark import Benchmark; import kernels.benchmarks; "
            "b = Benchmark(); print(sorted(m for m in ('torch', 'tabulate') if m in sys.modules), "
            "b.kernel, b.out, Benchmark.seed, Benchmark.device)")
    env = {**os.environ, "PYTHONPATH": str(Path(kernels.__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] None None None cpu"


# -- statistics ---------------------------------------------------------------------
def stats_tuple(times):
    s = summarize(times)
    return (s.mean_ms, s.std_ms, s.min_ms, s.max_ms, s.q1_ms, s.q3_ms, s.iqr_ms, s.outliers, s.iterations)


@pytest.mark.parametrize(
    "times, expected",
    [
        ([], (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)),
        ([2.5], (2.5, 0.0, 2.5, 2.5, 2.5, 2.5, 0.0, 0, 1)),
        # population std of (1, 3) is 1; quartiles at indices 0.25 and 0.75.
        ([3.0, 1.0], (2.0, 1.0, 1.0, 3.0, 1.5, 2.5, 1.0, 0, 2)),
        # odd: quartiles land on elements 1 and 3; variance 10/5.
        ([5.0, 1.0, 4.0, 2.0, 3.0], (3.0, 1.4142, 1.0, 5.0, 2.0, 4.0, 2.0, 0, 5)),
        # even: indices 0.75 and 2.25; variance (2.25+0.25+0.25+2.25)/4 = 1.25.
        ([4.0, 3.0, 2.0, 1.0], (2.5, 1.118, 1.0, 4.0, 1.75, 3.25, 1.5, 0, 4)),
        # ties: IQR 0, so anything off 2 is an outlier; variance (4*1.96+31.36)/5 = 7.84.
        ([2.0, 2.0, 9.0, 2.0, 2.0], (3.4, 2.8, 2.0, 9.0, 2.0, 2.0, 0.0, 1, 5)),
        # outliers on both sides of [10 - 0, 10 + 0]; SS = 465.875 about the mean 91/8.
        ([10.0, 1.0, 10.0, 10.0, 30.0, 10.0, 10.0, 10.0], (11.375, 7.6311, 1.0, 30.0, 10.0, 10.0, 0.0, 2, 8)),
        # one far value: Q1 3.5, Q3 6.5, bounds [-1, 11]; SS = 1739 - 67^2/7.
        ([2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 40.0], (9.5714, 12.5226, 2.0, 40.0, 3.5, 6.5, 3.0, 1, 7)),
    ],
)
def test_statistics_match_hand_computed_values(times, expected):
    assert stats_tuple(times) == pytest.approx(expected, abs=1e-4)
    assert stats_tuple(times)[7:] == expected[7:]  # counts are exact


def test_statistics_round_to_four_decimals_after_computing_unrounded():
    s = summarize([0.123456, 0.123454])
    assert (s.mean_ms, s.std_ms, s.min_ms, s.max_ms) == (0.1235, 0.0, 0.1235, 0.1235)
    assert percentile([1.0, 2.0, 4.0, 8.0, 16.0], 30) == pytest.approx(2.4)  # index 1.2
    assert percentile([], 50) == 0.0 and percentile([7.0], 90) == 7.0


def test_ratio_interval_by_the_delta_method():
    # a: mean 2, sample variance 2; b: mean 2, variance 0 -> se = sqrt(2 / (2 * 4)) = 0.5.
    r = mean_ratio([1.0, 3.0], [2.0, 2.0, 2.0, 2.0])
    assert r.ratio == 1.0
    assert (r.low, r.high) == pytest.approx((math.exp(-1.959964 * 0.5), math.exp(1.959964 * 0.5)), rel=1e-6)
    assert not r.significant
    fast = mean_ratio([1.0, 1.1, 0.9, 1.0], [2.0, 2.1, 1.9, 2.0])
    assert fast.ratio == pytest.approx(0.5) and fast.high < 1 and fast.significant
    slow = mean_ratio([2.0, 2.1, 1.9, 2.0], [1.0, 1.1, 0.9, 1.0])
    assert (slow.low, slow.high) == pytest.approx((1 / fast.high, 1 / fast.low))  # reciprocal intervals
    with pytest.raises(ValueError, match="at least 2"):
        mean_ratio([1.0], [1.0, 2.0])


# -- machine ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "facts, gpu, backend",
    [
        (TorchFacts("2.5.0", cuda_available=True, cuda_version="12.4", device_name="NVIDIA H100",
                    capability=(9, 0), driver_version="550.54.15"), "NVIDIA H100", "CUDA 12.4"),
        (TorchFacts("2.5.0", cuda_available=True, hip_version="6.2.41133", device_name="AMD Instinct MI300X",
                    capability=(9, 4)), "AMD Instinct MI300X", "ROCm 6.2.41133"),
        (TorchFacts("2.5.0", xpu_available=True, device_name="Intel Data Center GPU Max 1550"),
         "Intel Data Center GPU Max 1550", "XPU"),
        (TorchFacts("2.5.0", mps_available=True), "Apple MPS", "MPS"),
        (TorchFacts("2.5.0", cuda_version="12.4"), "N/A", "CPU"),  # a CUDA build without a GPU
    ],
)
def test_backend_and_gpu_follow_the_torch_facts(facts, gpu, backend):
    info = describe_machine(facts, cpu="Some CPU", cores=8)
    assert (info.gpu, info.backend, info.pytorch_version, info.cpu) == (gpu, backend, "2.5.0", "Some CPU")
    assert set(info.as_payload()) == {"gpu", "backend", "pytorchVersion", "os", "cpu"}
    lines = info.describe()
    assert lines[0] == f"  GPU      {gpu}" and lines[1] == "  CPU      Some CPU (8 cores)"
    if facts.capability and not facts.hip_version:
        assert lines[-1] == "  Backend  CUDA 12.4, capability 9.0, driver 550.54.15"


def test_without_torch_everything_is_not_available():
    info = describe_machine(None, cpu="x", cores=1)
    assert (info.gpu, info.backend, info.pytorch_version) == ("N/A", "N/A", "N/A")


def test_cpu_model_comes_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\n")
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Gold 6338"
    assert cpu_model(tmp_path / "missing") != ""


def test_machine_info_of_this_cpu_machine():
    import torch

    from kernels.benchmark.machine import collect_machine_info

    info = collect_machine_info()
    assert info.pytorch_version == torch.__version__
    if not torch.cuda.is_available():
        assert (info.gpu, info.backend) == ("N/A", "CPU")
    expected = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")]
    if expected:
        assert info.cpu == expected[0]
    assert info.cpu_cores == os.cpu_count()


# -- running ------------------------------------------------------------------------
def bench(*args, cwd: Path, env: dict = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("LOCAL_KERNELS", "KB_HUB", "HF_HUB_OFFLINE")}
    # This process's kernels package, whatever the child's working directory.
    package_root = str(Path(kernels.__file__).resolve().parent.parent)
    full["PYTHONPATH"] = os.pathsep.join([package_root, full.get("PYTHONPATH", "")])
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "kernels", "benchmark", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=timeout)


def check_payload(payload: dict, workloads: list) -> None:
    """The payload schema of runtime spec 10.2, keys and types exactly."""
    assert set(payload) == {"results", "machineInfo", "kernelCommitSha", "benchmarkScriptPath", "benchmarkScriptSha"}
    assert [r["workload"] for r in payload["results"]] == workloads
    for result in payload["results"]:
        assert set(result) <= {"workload", "timingResults", "verified"}
        timing = result["timingResults"]
        assert set(timing) == set(TIMING_KEYS)
        for key, kind in TIMING_KEYS.items():
            assert type(timing[key]) is kind, (key, timing[key])
        assert timing["min_ms"] <= timing["q1_ms"] <= timing["q3_ms"] <= timing["max_ms"]
        assert "verified" not in result or type(result["verified"]) is bool
    machine = payload["machineInfo"]
    assert set(machine) in ({"gpu", "backend", "pytorchVersion", "os", "cpu"},
                            {"gpu", "backend", "pytorchVersion", "os", "cpu", "gpuCores"})
    assert all(type(machine[k]) is str for k in ("gpu", "backend", "pytorchVersion", "os", "cpu"))
    assert type(payload["kernelCommitSha"]) is str and payload["kernelCommitSha"]
    assert payload["benchmarkScriptPath"] == "benchmarks"
    assert len(payload["benchmarkScriptSha"]) == 64


def expected_sha(kernel_id: str) -> str:
    """The commit in a kb build id: _relu_cpu_d0c8be4 or _relu_cpu_d0c8be4_dirty."""
    parts = kernel_id.split("_")
    return f"{parts[-2]}-dirty" if parts[-1] == "dirty" else parts[-1]


def test_kernel_sha_of_module_names():
    from types import ModuleType

    from kernels.benchmark.runner import kernel_sha

    assert kernel_sha(ModuleType("_relu_cpu_d0c8be4")) == "d0c8be4"
    assert kernel_sha(ModuleType("_relu_cpu_d0c8be4_dirty")) == "d0c8be4-dirty"
    assert kernel_sha(ModuleType("_activation_0123abc")) == "0123abc"


RELU_WORKLOADS = ["ReluBenchmark.large", "ReluBenchmark.medium", "ReluBenchmark.small"]


def test_examples_relu_locally(relu_variant_dir, tmp_path):
    out = tmp_path / "results.json"
    proc = bench(str(RELU), "--iterations", "5", "--warmup", "1", "--json", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    check_payload(payload, RELU_WORKLOADS)
    assert json.loads(out.read_text()) == payload
    assert all(r["verified"] is True and r["timingResults"]["iterations"] == 5 for r in payload["results"])
    metadata = json.loads((relu_variant_dir / "metadata.json").read_text())
    assert payload["kernelCommitSha"] == expected_sha(metadata["id"])
    script_sha = hashlib.sha256((RELU / "benchmarks" / "benchmark.py").read_bytes()).hexdigest()
    assert payload["benchmarkScriptSha"] == script_sha
    err = proc.stderr
    assert "Running benchmark.py..." in err and "  Running ReluBenchmark on cpu" in err
    assert "│ Benchmark     │ Workload   │   N │ Speedup" in err
    assert "Ref(ms)" in err and "Match" in err and "✓" in err
    assert f"Kernel: {payload['kernelCommitSha'][:7]}  Benchmark: {script_sha[:7]}" in err
    assert f"Results saved to: {out}" in err
    assert "  small: " in err and "x faster (95% CI: " in err
    assert "  CPU      " in err and "  PyTorch  " in err


def test_a_path_that_looks_like_a_repo_id_is_used_with_a_warning(relu_variant_dir):
    proc = bench("examples/relu", "--iterations", "2", "--warmup", "0", cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "'examples/relu' exists locally but looks like a repo_id. Use './examples/relu' to be explicit." in proc.stderr
    assert "looks like a repo_id" not in bench("./examples/relu", "--iterations", "2", cwd=REPO).stderr


@pytest.fixture(scope="module")
def hub(tmp_path_factory, relu_variant_dir):
    """examples/relu uploaded by kb as kb-bench/relu v1, on a hub trusting kb-bench."""
    server = HubProcess(tmp_path_factory.mktemp("bench-hub"), token=TOKEN, trusted_orgs=[ORG], max_lifetime=900)
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_TOKEN": TOKEN}
    env.pop("KB_HUB", None)
    up = subprocess.run([str(KB), "upload", str(RELU), "--repo-id", f"{ORG}/relu", "--allow-nonportable", "-q"],
                        env=env, capture_output=True, text=True)
    assert up.returncode == 0, up.stderr
    yield server
    server.stop()


def hub_env(hub, tmp_path) -> dict:
    return {"HF_ENDPOINT": hub.url, "KERNELS_CACHE": str(tmp_path / "cache"), "HF_HOME": str(tmp_path / "hf")}


@pytest.mark.parametrize("args", [[f"{ORG}/relu@v1"], [f"{ORG}/relu", "--version", "1"], [f"{ORG}/relu", "--branch", "v1"]])
def test_examples_relu_from_the_hub(hub, tmp_path, args, relu_variant_dir):
    proc = bench(*args, "--iterations", "3", "--warmup", "1", "--json", cwd=tmp_path, env=hub_env(hub, tmp_path))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    check_payload(payload, RELU_WORKLOADS)
    metadata = json.loads((relu_variant_dir / "metadata.json").read_text())
    assert payload["kernelCommitSha"] == expected_sha(metadata["id"])
    assert f"Downloading {ORG}/relu@v1..." in proc.stderr
    # Only benchmarks/ was downloaded for the scripts (the kernel itself through get_kernel).
    snapshots = list((tmp_path / "cache").glob(f"kernels--{ORG}--relu/snapshots/*/benchmarks/benchmark.py"))
    assert len(snapshots) == 1


def test_offline_runs_what_an_earlier_run_downloaded(hub, tmp_path, relu_variant_dir):
    env = hub_env(hub, tmp_path)
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    proc = bench(f"{ORG}/relu@v1", "--iterations", "2", cwd=tmp_path, env=offline)
    assert proc.returncode == 1
    assert f"Cannot find a local snapshot of {ORG}/relu (revision: v1)" in proc.stderr
    assert bench(f"{ORG}/relu@v1", "--iterations", "2", cwd=tmp_path, env=env).returncode == 0
    hub.clear_log()
    proc = bench(f"{ORG}/relu@v1", "--iterations", "2", "--json", cwd=tmp_path, env=offline)
    assert proc.returncode == 0, proc.stderr
    check_payload(json.loads(proc.stdout), RELU_WORKLOADS)
    assert hub.log() == []  # not one request


def test_targets_local_and_on_the_hub(tmp_path):
    from kernels.benchmark import BenchmarkFailure, resolve_target

    def ref(spec, **kw):
        t = resolve_target(spec, cwd=tmp_path, **kw)
        return (t.repo_id, t.revision, t.is_local)

    assert ref("org/k@v2") == ("org/k", "v2", False)
    assert ref("org/k@main") == ("org/k", "main", False)
    assert ref("org/k@vnext") == ("org/k", "vnext", False)  # a branch: not v<digits>
    assert ref("org/k", version=3) == ("org/k", "v3", False)
    assert ref("org/k", branch="dev") == ("org/k", "dev", False)
    assert ref("org/k", branch="dev", version=3) == ("org/k", "v3", False)
    (tmp_path / "org" / "k").mkdir(parents=True)
    local = resolve_target("org/k", cwd=tmp_path, version=3)
    assert (local.revision, local.is_local, local.path) == ("local", True, tmp_path / "org" / "k")
    assert local.warnings == ["'org/k' exists locally but looks like a repo_id. Use './org/k' to be explicit."]
    assert resolve_target("./org/k", cwd=tmp_path).warnings == []
    for spec, kw, message in [
        ("other/k", {}, "must specify either branch or version"),
        ("other/k@12", {}, "version must be prefixed with 'v'"),
        ("other/k@", {}, "'other/k@' names no revision"),
        ("other/k@v1", {"version": 2}, "'other/k@v1' names a revision after '@' and --branch/--version names another"),
    ]:
        with pytest.raises(BenchmarkFailure) as info:
            resolve_target(spec, cwd=tmp_path, **kw)
        assert str(info.value).startswith(message)


def test_hub_reference_errors(hub, tmp_path):
    env = hub_env(hub, tmp_path)
    cases = [
        ([f"{ORG}/relu"], "Error: must specify either branch or version"),
        ([f"{ORG}/relu@1"], "Error: version must be prefixed with 'v'"),
    ]
    for args, message in cases:
        proc = bench(*args, cwd=tmp_path, env=env)
        assert proc.returncode == 1 and proc.stderr.strip() == message, (args, proc.stderr)
    hub.commit(f"{ORG}/bare", "v1", {"README.md": b"no benchmarks\n"})
    proc = bench(f"{ORG}/bare@v1", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and f"Error: No benchmarks directory found in '{ORG}/bare'" in proc.stderr
    proc = bench(f"{ORG}/relu@v7", cwd=tmp_path, env=env)
    assert proc.returncode == 1 and f"'{ORG}/relu@v7'" in proc.stderr and "v7" in proc.stderr


# -- pure-Python kernels for the error paths -----------------------------------------
RELU_BODY = "import torch\ndef relu(x, out=None):\n    return torch.clamp(x, min=0, out=out)\n"
WRONG_RELU_BODY = "import torch\ndef relu(x, out=None):\n    out.copy_(x)\n    return out\n"
RELU_SCRIPT = '''
import torch
from kernels.benchmark import Benchmark

class TinyRelu(Benchmark):
    seed = 1
    def setup(self):
        self.x = torch.randn(256, device=self.device)
        self.out = torch.empty_like(self.x)
    def benchmark_base(self):
        self.kernel.relu(self.x, out=self.out)
    def verify_base(self):
        return torch.relu(self.x)
'''


def pure_kernel(root: Path, name: str, body: str, scripts: dict) -> Path:
    write_variant(root / "build" / "torch-universal", name=name, body=body)
    for file, text in scripts.items():
        (root / "benchmarks").mkdir(parents=True, exist_ok=True)
        (root / "benchmarks" / file).write_text(textwrap.dedent(text))
    return root


def test_local_layout_errors(tmp_path):
    kernel = pure_kernel(tmp_path / "nobench", "nobench", RELU_BODY, {})
    proc = bench(str(kernel), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.strip() == f"Error: No benchmarks directory found in '{kernel}'"
    (kernel / "benchmarks").mkdir()
    (kernel / "benchmarks" / "helpers.py").write_text("X = 1\n")
    proc = bench(str(kernel), cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"Error: No benchmark scripts found in '{kernel}/benchmarks'"


def test_an_unwritable_output_is_an_error_naming_it(tmp_path):
    kernel = pure_kernel(tmp_path / "out", "out-kernel", RELU_BODY, {"benchmark.py": RELU_SCRIPT})
    target = tmp_path / "missing-dir" / "results.json"
    proc = bench(str(kernel), "--iterations", "2", "--output", str(target), cwd=tmp_path)
    assert proc.returncode == 1 and f"Error: cannot write {target}: No such file or directory" in proc.stderr
    assert not target.parent.exists()


def test_a_verification_failure_exits_1(tmp_path):
    kernel = pure_kernel(tmp_path / "wrong", "wrong", WRONG_RELU_BODY, {"benchmark.py": RELU_SCRIPT})
    proc = bench(str(kernel), "--iterations", "2", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Error: Verification failed for base (TinyRelu.base)" in proc.stderr


def test_bad_scripts_classes_and_kernels_are_named_and_finished_workloads_are_kept(tmp_path):
    raising = "raise ValueError('no such size')\n"
    empty = "from kernels.benchmark import Benchmark\nclass EmptyBenchmark(Benchmark):\n    seed = 3\n"
    kernel = pure_kernel(tmp_path / "k", "two-scripts", RELU_BODY, {"benchmark_a.py": RELU_SCRIPT, "benchmark_b.py": raising})
    out = tmp_path / "partial.json"
    proc = bench(str(kernel), "--iterations", "3", "--output", str(out), cwd=tmp_path)
    assert proc.returncode == 1
    script = kernel / "benchmarks" / "benchmark_b.py"
    assert f"Error: benchmark script {script} raised ValueError: no such size" in proc.stderr
    payload = json.loads(out.read_text())
    assert [r["workload"] for r in payload["results"]] == ["TinyRelu.base"]
    assert payload["results"][0]["timingResults"]["iterations"] == 3

    (kernel / "benchmarks" / "benchmark_b.py").write_text(empty)
    proc = bench(str(kernel), "--iterations", "2", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"Error: No benchmark_* methods found in EmptyBenchmark ({kernel / 'benchmarks' / 'benchmark_b.py'})" in proc.stderr

    (kernel / "benchmarks" / "benchmark_b.py").write_text("X = 1\n")
    proc = bench(str(kernel), "--iterations", "2", cwd=tmp_path)
    assert proc.returncode == 1 and f"Error: No Benchmark subclasses found in {kernel / 'benchmarks'}" in proc.stderr

    broken = pure_kernel(tmp_path / "broken", "broken", "raise ImportError('missing libfoo.so')\n",
                         {"benchmark.py": RELU_SCRIPT})
    proc = bench(str(broken), "--iterations", "2", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"Error: could not load kernel '{broken}'" in proc.stderr and "missing libfoo.so" in proc.stderr


def test_missing_tabulate_is_reported_with_the_install_hint(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(textwrap.dedent("""
        import sys
        class HideTabulate:
            def find_spec(self, name, path=None, target=None):
                if name == "tabulate" or name.startswith("tabulate."):
                    raise ImportError("No module named 'tabulate'")
                return None
        sys.meta_path.insert(0, HideTabulate())
    """))
    package_root = str(Path(kernels.__file__).resolve().parent.parent)
    env = {"PYTHONPATH": os.pathsep.join([str(shim), package_root])}
    proc = bench(str(RELU), cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "Error: Missing dependencies for benchmark: tabulate",
        "Install with: pip install 'kernels[benchmark]'",
    ]


BUILTIN_BODY = '''
import math
import torch

def silu_and_mul(out, x):
    d = x.shape[-1] // 2
    gate = x[..., :d]
    torch.mul(gate * torch.sigmoid(gate), x[..., d:], out=out)

def _attend(q, k, v, causal):
    # q: (seq_q, heads, dim); k, v: (seq_k, heads, dim)
    scores = torch.einsum("qhd,khd->hqk", q.double(), k.double()) / math.sqrt(q.shape[-1])
    if causal:
        sq, sk = q.shape[0], k.shape[0]
        hidden = torch.triu(torch.ones(sq, sk, dtype=torch.bool), diagonal=sk - sq + 1)
        scores = scores.masked_fill(hidden, float("-inf"))
    return torch.einsum("hqk,khd->qhd", torch.softmax(scores, -1), v.double()).to(q.dtype)

def flash_attn_func(q, k, v, causal=False):
    return torch.stack([_attend(q[b], k[b], v[b], causal) for b in range(q.shape[0])]), None

def flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k, causal=False):
    bq, bk = cu_q.tolist(), cu_k.tolist()
    return torch.cat([_attend(q[a:b], k[c:d], v[c:d], causal) for a, b, c, d in zip(bq, bq[1:], bk, bk[1:])])

def dropout_add_ln_fwd(input, gamma, beta, rowscale, colscale, x0_subset, z_subset, dropout_p, epsilon,
                       rowscale_const, z_numrows, gen, residual_in_fp32, is_rms_norm):
    x = input.double()
    if not is_rms_norm:
        x = x - x.mean(-1, keepdim=True)
    y = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + epsilon) * gamma.double()
    if beta is not None:
        y = y + beta.double()
    return y.to(input.dtype), None
'''

BUILTIN_SCRIPT = '''
from kernels.benchmarks import (FlashAttentionBenchmark, FlashAttentionCausalBenchmark,
    FlashAttentionVarlenBenchmark, LayerNormBenchmark, RMSNormBenchmark, SiluAndMulBenchmark)

class Silu(SiluAndMulBenchmark): pass
class Attention(FlashAttentionBenchmark): pass
class Causal(FlashAttentionCausalBenchmark): pass
class Varlen(FlashAttentionVarlenBenchmark): pass
class LayerNorm(LayerNormBenchmark): pass
class RMSNorm(RMSNormBenchmark): pass
'''


def test_builtin_benchmarks_run_and_verify_on_the_cpu(tmp_path):
    from kernels.benchmarks import SiluAndMulBenchmark

    assert SiluAndMulBenchmark.seed == 42
    kernel = pure_kernel(tmp_path / "builtin", "builtin", BUILTIN_BODY, {"benchmark.py": BUILTIN_SCRIPT})
    proc = bench(str(kernel), "--iterations", "2", "--warmup", "1", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    names = [f"{cls}.{w}" for cls in ("Attention", "Causal", "LayerNorm", "RMSNorm", "Silu", "Varlen")
             for w in ("large", "medium", "small")]
    check_payload(payload, names)
    assert all(r["verified"] is True for r in payload["results"])


def test_builtin_references_catch_a_wrong_kernel(tmp_path):
    wrong = BUILTIN_BODY.replace("causal=False):\n    return torch.stack", "causal=False):\n    causal = not causal\n    return torch.stack")
    kernel = pure_kernel(tmp_path / "wrong", "wrongattn", wrong, {"benchmark.py": BUILTIN_SCRIPT})
    proc = bench(str(kernel), "--iterations", "1", "--warmup", "0", cwd=tmp_path)
    assert proc.returncode == 1 and "Verification failed for large (Attention.large)" in proc.stderr


# -- compare, history ----------------------------------------------------------------
def test_compare_a_local_kernel_with_the_same_kernel_on_the_hub(hub, tmp_path, relu_variant_dir):
    proc = bench("--compare", str(RELU), f"{ORG}/relu@v1", "--iterations", "40", "--warmup", "2", "--block", "5",
                 "--json", cwd=tmp_path, env=hub_env(hub, tmp_path))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["a"]["kernel"] == str(RELU) and payload["b"]["kernel"] == f"{ORG}/relu@v1"
    assert [c["workload"] for c in payload["comparisons"]] == RELU_WORKLOADS
    for c in payload["comparisons"]:
        low, high = c["ci95"]
        assert 0 < low <= c["ratio"] <= high
        assert c["a"]["iterations"] == c["b"]["iterations"] == 40
        assert c["significant"] == (high < 1 or low > 1)
    err = proc.stderr
    assert f"A: {RELU}\nB: {ORG}/relu@v1" in err
    assert "A/B" in err and "95% CI" in err
    assert "  ReluBenchmark.small: A/B = " in err


def test_history_is_appended_and_plotted(tmp_path):
    kernel = pure_kernel(tmp_path / "hist", "hist", RELU_BODY, {"benchmark.py": RELU_SCRIPT})
    history = tmp_path / "runs.jsonl"
    for _ in range(2):
        proc = bench(str(kernel), "--iterations", "3", "--append-history", str(history), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert f"History appended to: {history}" in proc.stderr
    records = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(records) == 2
    metadata = json.loads((kernel / "build" / "torch-universal" / "metadata.json").read_text())
    for record in records:
        assert record["timestamp"].endswith("+00:00")
        assert (record["kernel"], record["revision"]) == (str(kernel), "local")
        assert record["kernelCommit"] == record["kernelCommitSha"] == expected_sha(metadata["id"])
        payload = {k: v for k, v in record.items() if k not in ("timestamp", "kernel", "revision", "kernelCommit")}
        check_payload(payload, ["TinyRelu.base"])

    plot = bench("--plot-history", str(history), "--workload", "TinyRelu.base", cwd=tmp_path)
    try:
        import kernels.benchmark.charts  # noqa: F401
    except ModuleNotFoundError:
        assert plot.returncode == 1
        assert "Error: --plot-history needs kernels.benchmark.charts" in plot.stderr
        visual = bench(str(kernel), "--iterations", "2", "--visual", "tiny", cwd=tmp_path)
        assert visual.returncode == 1 and "Error: --visual needs kernels.benchmark.charts" in visual.stderr
        return
    assert plot.returncode == 0, plot.stderr
    drawn = sorted(p.name for p in (tmp_path / "media").iterdir())
    assert drawn and all("TinyRelu.base" in name for name in drawn)
    assert all(f"Wrote media/{name}" in plot.stderr for name in drawn)
    unknown = bench("--plot-history", str(history), "--workload", "Nope.none", cwd=tmp_path)
    assert unknown.returncode == 1 and f"Error: {history}: " in unknown.stderr and "Nope.none" in unknown.stderr

    visual = bench(str(kernel), "--iterations", "2", "--visual", "tiny", cwd=tmp_path)
    assert visual.returncode == 0, visual.stderr
    charts = sorted(p.name for p in (tmp_path / "media").iterdir() if p.name.startswith("tiny_"))
    assert charts and all(name.endswith(".svg") for name in charts)
    assert all(f"Wrote media/{name}" in visual.stderr for name in charts)


def test_a_malformed_history_file_is_named_with_its_line(tmp_path):
    history = tmp_path / "runs.jsonl"
    history.write_text('{"results": []}\nnot json\n')
    proc = bench("--plot-history", str(history), cwd=tmp_path)
    assert proc.returncode == 1 and f"Error: {history}:2: not a JSON line" in proc.stderr
    proc = bench("--plot-history", str(tmp_path / "none.jsonl"), cwd=tmp_path)
    assert proc.returncode == 1 and "Error: no history file" in proc.stderr
