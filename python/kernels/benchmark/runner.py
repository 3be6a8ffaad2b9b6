"""The runner of `kernels benchmark` (runtime spec 10.2): finds a kernel's
benchmark scripts, runs their workloads against the kernel and reports the
timings. torch and tabulate are imported when a run starts, not before."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from .base import Benchmark
from .machine import MachineInfo, collect_machine_info
from .stats import RatioEstimate, TimingStats, mean_ratio, summarize

SCRIPT_MODULE = "benchmark_module"
VERIFY_ATOL = 1e-2
# Backends whose torch device has another name.
_DEVICE_OF_BACKEND = {"rocm": "cuda", "metal": "mps", "cann": "npu"}


class BenchmarkFailure(Exception):
    """A run that cannot go on: the message (printed as "Error: ...") and what
    ran before it, so --output still records the finished workloads."""

    def __init__(self, message: str, partial: "RunResult | None" = None) -> None:
        super().__init__(message)
        self.partial = partial


def missing_dependencies() -> list[str]:
    """The benchmark extra's modules that cannot be imported."""
    missing = []
    for name in ("torch", "tabulate"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


# -- what to benchmark --------------------------------------------------------------
@dataclass
class Target:
    """A kernel to benchmark: a local directory or a hub repository at a revision."""

    repo_id: str  # as the user wrote it, without @revision
    revision: str  # "local" for a directory
    is_local: bool
    path: Path | None = None  # the directory holding benchmarks/ (a hub snapshot once fetched)
    commit: str | None = None  # the hub commit the revision named
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return str(self.path) if self.is_local else f"{self.repo_id}@{self.revision}"


def resolve_target(repo_id: str, branch: str | None = None, version: int | None = None, cwd: Path | None = None) -> Target:
    """Local directory or hub reference (spec 10.2 steps 2-3). Raises
    BenchmarkFailure with the messages of the spec."""
    cwd = cwd or Path.cwd()
    as_path = Path(repo_id)
    local = as_path if as_path.is_absolute() else cwd / as_path
    if local.exists():
        target = Target(repo_id=repo_id, revision="local", is_local=True, path=local.resolve())
        if repo_id.count("/") == 1 and not repo_id.startswith(("./", "../")):
            target.warnings.append(
                f"'{repo_id}' exists locally but looks like a repo_id. Use './{repo_id}' to be explicit."
            )
        return target
    if branch is None and version is None:
        if "@" not in repo_id:
            raise BenchmarkFailure("must specify either branch or version")
        repo_id, rev = repo_id.split("@", 1)
        if not rev:
            raise BenchmarkFailure(f"'{repo_id}@' names no revision: use {repo_id}@v<N> or {repo_id}@<branch>")
        if rev.startswith("v") and rev[1:].isdigit():
            version = int(rev[1:])
        elif rev.isdigit():
            raise BenchmarkFailure("version must be prefixed with 'v'")
        else:
            branch = rev
    elif "@" in repo_id:
        raise BenchmarkFailure(f"'{repo_id}' names a revision after '@' and --branch/--version names another")
    revision = f"v{version}" if version is not None else branch
    return Target(repo_id=repo_id, revision=revision, is_local=False)


def fetch_benchmarks(target: Target, log: TextIO) -> None:
    """Makes `target.path` the directory holding its benchmarks/: for the hub,
    the snapshot of the revision with only benchmarks/ downloaded."""
    if target.is_local:
        return
    from .. import _core
    from ..hf_hub import user_agent

    print(f"Downloading {target.repo_id}@{target.revision}...", file=log)
    try:
        snapshot = _core.hub_fetch_folder(
            target.repo_id, target.revision, "benchmarks", _core.offline_mode(), user_agent(None)
        )
    except (ValueError, OSError) as e:
        raise BenchmarkFailure(f"could not download the benchmarks of '{target.repo_id}@{target.revision}': {e}")
    target.path = Path(snapshot["root"])
    target.commit = snapshot["commit"]


def discover_scripts(target: Target) -> list[Path]:
    directory = target.path / "benchmarks" if target.path else None
    if directory is None or not directory.is_dir():
        raise BenchmarkFailure(f"No benchmarks directory found in '{target.repo_id}'")
    scripts = sorted(directory.glob("benchmark*.py"))
    if not scripts:
        raise BenchmarkFailure(f"No benchmark scripts found in '{target.repo_id}/benchmarks'")
    return scripts


def scripts_sha256(scripts: list[Path]) -> str:
    digest = hashlib.sha256()
    for script in scripts:
        digest.update(script.read_bytes())
    return digest.hexdigest()


def load_script_classes(script: Path, cwd: Path) -> list[type]:
    """The Benchmark subclasses `script` defines (not those it imports), in
    dir() order. The script runs as module `benchmark_module` with `cwd` as
    the working directory."""
    spec = importlib.util.spec_from_file_location(SCRIPT_MODULE, script)
    if spec is None or spec.loader is None:
        raise BenchmarkFailure(f"cannot load benchmark script {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[SCRIPT_MODULE] = module
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a broken script is the user's, reported by name
        raise BenchmarkFailure(f"benchmark script {script} raised {type(e).__name__}: {e}") from e
    finally:
        os.chdir(previous)
    classes = [
        obj
        for name in dir(module)
        for obj in [getattr(module, name)]
        if isinstance(obj, type) and issubclass(obj, Benchmark) and obj is not Benchmark and obj.__module__ == SCRIPT_MODULE
    ]
    if not classes:
        raise BenchmarkFailure(f"No Benchmark subclasses found in {script}")
    return classes


def workload_methods(cls: type, script: Path) -> list[str]:
    methods = [name for name in dir(cls) if name.startswith("benchmark_") and callable(getattr(cls, name))]
    if not methods:
        raise BenchmarkFailure(f"No benchmark_* methods found in {cls.__name__} ({script})")
    return methods


def load_kernel(target: Target):
    from .. import get_kernel, get_local_kernel

    try:
        if target.is_local:
            return get_local_kernel(target.path)
        return get_kernel(target.repo_id, revision=target.revision)
    except Exception as e:  # any loader failure ends the run with the kernel named
        raise BenchmarkFailure(f"could not load kernel '{target}': {type(e).__name__}: {e}") from e


def kernel_sha(kernel) -> str:
    """The build's unique id: the kernel module's name after its last '_'
    (`_relu_cpu_d0c8be4` -> d0c8be4). A build from a modified tree ends in
    `_dirty`, kept as a suffix of the commit (d0c8be4-dirty)."""
    name = kernel.__name__
    dirty = name.endswith("_dirty")
    sha = name[: -len("_dirty")].rsplit("_", 1)[-1] if dirty else name.rsplit("_", 1)[-1]
    return f"{sha}-dirty" if dirty else sha


def torch_device() -> str:
    from .._environment import detected_backend

    backend = detected_backend()
    return _DEVICE_OF_BACKEND.get(backend, backend)


# -- timing -------------------------------------------------------------------------
class Timer:
    """Times one call in ms. On CUDA with device events (the GPU's own clock,
    free of launch overhead on the host side); elsewhere with perf_counter
    around the call and a device synchronisation."""

    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.cuda = device == "cuda" and torch.cuda.is_available()
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)

    def synchronize(self) -> None:
        torch = self.torch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elif hasattr(torch, "xpu") and torch.xpu.is_available():
            torch.xpu.synchronize()
        elif hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
            torch.mps.synchronize()

    def time_ms(self, fn: Callable[[], object]) -> float:
        if self.cuda:
            self.start.record()
            fn()
            self.end.record()
            self.end.synchronize()
            return float(self.start.elapsed_time(self.end))
        begin = time.perf_counter()
        fn()
        self.synchronize()
        return (time.perf_counter() - begin) * 1000.0


@dataclass
class WorkloadResult:
    name: str  # Class.workload
    stats: TimingStats
    times_ms: list[float]
    verified: bool | None = None
    ref_mean_ms: float | None = None

    def as_payload(self) -> dict:
        entry = {"workload": self.name, "timingResults": self.stats.as_payload()}
        if self.verified is not None:
            entry["verified"] = self.verified
        return entry

    def as_chart_input(self) -> dict:
        return {
            "workload": self.name,
            "timingResults": self.stats.as_payload(),
            "ref_mean_ms": self.ref_mean_ms,
            "verified": self.verified,
        }


@dataclass
class Prepared:
    """A workload's instance, set up and verified, ready to be timed."""

    name: str
    call: Callable[[], object]
    verified: bool | None
    ref_mean_ms: float | None


def prepare_workload(
    cls: type, method: str, kernel, device: str, timer: Timer, warmup: int, script: Path
) -> Prepared:
    """Fresh instance, seeds, setup, and (with verify_<workload>) one checked
    call plus the reference timed once after `warmup` reference calls."""
    torch = timer.torch
    workload = method[len("benchmark_") :]
    name = f"{cls.__name__}.{workload}"
    try:
        instance = cls()
        instance.kernel = kernel
        instance.device = device
        if instance.seed is not None:
            torch.manual_seed(instance.seed)
            random.seed(instance.seed)
            if torch.cuda.is_available():
                torch.cuda.manual_seed_all(instance.seed)
        setup = getattr(instance, f"setup_{workload}", None)
        (setup or instance.setup)()
        call = getattr(instance, method)
        verify = getattr(instance, f"verify_{workload}", None)
        if verify is None:
            return Prepared(name, call, None, None)
        call()
        timer.synchronize()
        for _ in range(warmup):
            verify()
            timer.synchronize()
        reference = []
        ref_ms = timer.time_ms(lambda: reference.append(verify()))
    except Exception as e:  # the script's code failing is reported with the workload named
        raise BenchmarkFailure(f"{name} ({script.name}) raised {type(e).__name__}: {e}") from e
    expected = reference[-1]
    if instance.out is None:
        raise BenchmarkFailure(f"Verification failed for {workload}: benchmark_{workload} left self.out unset ({name})")
    try:
        verified = bool(torch.allclose(instance.out, expected, atol=VERIFY_ATOL))
    except Exception as e:  # shape or dtype mismatch
        raise BenchmarkFailure(f"Verification failed for {workload}: {e} ({name})") from e
    if not verified:
        raise BenchmarkFailure(f"Verification failed for {workload} ({name})")
    return Prepared(name, call, True, round(ref_ms, 4))


def time_calls(prepared: Prepared, timer: Timer, count: int, script: Path) -> list[float]:
    try:
        return [timer.time_ms(prepared.call) for _ in range(count)]
    except Exception as e:
        raise BenchmarkFailure(f"{prepared.name} ({script.name}) raised {type(e).__name__}: {e}") from e


def warm_up(prepared: Prepared, timer: Timer, count: int, script: Path) -> None:
    try:
        for _ in range(count):
            prepared.call()
            timer.synchronize()
    except Exception as e:
        raise BenchmarkFailure(f"{prepared.name} ({script.name}) raised {type(e).__name__}: {e}") from e


# -- one kernel ---------------------------------------------------------------------
@dataclass
class RunResult:
    target: Target
    machine: MachineInfo
    results: dict[str, WorkloadResult] = field(default_factory=dict)
    kernel_sha: str = ""
    script_sha: str | None = None

    def payload(self) -> dict:
        """The payload of spec 10.2 (results sorted by workload name)."""
        out = {
            "results": [self.results[name].as_payload() for name in sorted(self.results)],
            "machineInfo": self.machine.as_payload(),
            "kernelCommitSha": self.kernel_sha,
            "benchmarkScriptPath": "benchmarks",
        }
        if self.script_sha:
            out["benchmarkScriptSha"] = self.script_sha
        return out

    def chart_input(self) -> list[dict]:
        return [self.results[name].as_chart_input() for name in sorted(self.results)]


def run_benchmark(target: Target, *, warmup: int = 10, iterations: int = 100, log: TextIO = sys.stderr) -> RunResult:
    """Runs every workload of every script of `target`. Raises
    BenchmarkFailure carrying the finished workloads on any error."""
    for warning in target.warnings:
        print(f"Warning: {warning}", file=log)
    fetch_benchmarks(target, log)
    scripts = discover_scripts(target)
    machine = collect_machine_info()
    run = RunResult(target=target, machine=machine, script_sha=scripts_sha256(scripts))
    try:
        device = torch_device()
        timer = Timer(device)
        kernel = None
        for script in scripts:
            print(f"Running {script.name}...", file=log)
            classes = load_script_classes(script, target.path)
            print("", *machine.describe(), "", sep="\n", file=log)
            for cls in classes:
                methods = workload_methods(cls, script)
                if kernel is None:
                    kernel = load_kernel(target)
                    run.kernel_sha = kernel_sha(kernel)
                print(f"  Running {cls.__name__} on {device}", file=log)
                for method in methods:
                    prepared = prepare_workload(cls, method, kernel, device, timer, warmup, script)
                    warm_up(prepared, timer, warmup, script)
                    times = time_calls(prepared, timer, iterations, script)
                    run.results[prepared.name] = WorkloadResult(
                        prepared.name, summarize(times), times, prepared.verified, prepared.ref_mean_ms
                    )
    except BenchmarkFailure as failure:
        failure.partial = run
        raise
    return run


# -- reports ------------------------------------------------------------------------
def _table_format():
    """tabulate's "simple_outline" (box-drawing lines); tabulate before 0.9
    lacks it, so the same format is built from its parts there."""
    import tabulate

    if "simple_outline" in tabulate.tabulate_formats:
        return "simple_outline"
    line, row = tabulate.Line, tabulate.DataRow
    return tabulate.TableFormat(
        lineabove=line("┌", "─", "┬", "┐"),
        linebelowheader=line("├", "─", "┼", "┤"),
        linebetweenrows=None,
        linebelow=line("└", "─", "┴", "┘"),
        headerrow=row("│", "│", "│"),
        datarow=row("│", "│", "│"),
        padding=1,
        with_header_hide=None,
    )


def results_table(results: dict[str, WorkloadResult]) -> str:
    """The table of spec 10.2 step 10 and the significance lines after it."""
    from tabulate import tabulate

    with_ref = any(r.ref_mean_ms is not None for r in results.values())
    headers = ["Benchmark", "Workload", "N"]
    headers += ["Speedup"] if with_ref else []
    headers += ["Mean(ms)", "Std(ms)", "Min(ms)", "Max(ms)", "IQR(ms)", "Outliers"]
    headers += ["Ref(ms)"] if with_ref else []
    headers += ["Match"]
    rows, lines = [], []
    for name in sorted(results):
        r, s = results[name], results[name].stats
        cls, _, workload = name.rpartition(".")
        match = "✓" if r.verified else ("✗" if r.verified is False else "·")
        has_ref = r.ref_mean_ms is not None and s.mean_ms > 0
        row = [cls, workload, s.iterations]
        if with_ref:
            row.append(f"{r.ref_mean_ms / s.mean_ms:.2f}x" if has_ref else "")
        row += [f"{v:.4f}" for v in (s.mean_ms, s.std_ms, s.min_ms, s.max_ms, s.iqr_ms)] + [s.outliers]
        if with_ref:
            row.append(f"{r.ref_mean_ms:.4f}" if r.ref_mean_ms is not None else "")
        rows.append(row + [match])
        if has_ref:
            margin = 1.96 * s.std_ms / s.iterations**0.5
            low, high = s.mean_ms - margin, s.mean_ms + margin
            line = (
                f"  {workload}: {r.ref_mean_ms / s.mean_ms:.2f}x faster "
                f"(95% CI: {low:.4f}-{high:.4f}ms vs ref {r.ref_mean_ms:.4f}ms)"
            )
            lines.append(line + (" ✓ significant" if high < r.ref_mean_ms else ""))
    text = "\n" + tabulate(rows, headers=headers, tablefmt=_table_format()) + "\n"
    if lines:
        text += "\n" + "\n".join(lines) + "\n"
    return text


# -- two kernels, interleaved --------------------------------------------------------
@dataclass
class Comparison:
    name: str
    a: TimingStats
    b: TimingStats
    ratio: RatioEstimate  # mean(a) / mean(b)

    def as_payload(self) -> dict:
        return {
            "workload": self.name,
            "a": self.a.as_payload(),
            "b": self.b.as_payload(),
            "ratio": round(self.ratio.ratio, 4),
            "ci95": [round(self.ratio.low, 4), round(self.ratio.high, 4)],
            "significant": self.ratio.significant,
        }


@dataclass
class CompareResult:
    a: Target
    b: Target
    machine: MachineInfo
    comparisons: list[Comparison] = field(default_factory=list)
    kernel_sha_a: str = ""
    kernel_sha_b: str = ""

    def payload(self) -> dict:
        return {
            "a": {"kernel": str(self.a), "kernelCommitSha": self.kernel_sha_a},
            "b": {"kernel": str(self.b), "kernelCommitSha": self.kernel_sha_b},
            "ratio": "mean(a) / mean(b)",
            "interval": "95%, delta method on log(mean ratio), Welch (n-1) variances",
            "comparisons": [c.as_payload() for c in self.comparisons],
            "machineInfo": self.machine.as_payload(),
        }

    def table(self) -> str:
        from tabulate import tabulate

        rows = []
        for c in self.comparisons:
            r = c.ratio
            rows.append(
                [
                    c.name,
                    c.a.iterations,
                    f"{c.a.mean_ms:.4f}",
                    f"{c.b.mean_ms:.4f}",
                    f"{r.ratio:.3f}",
                    f"{r.low:.3f}-{r.high:.3f}",
                    "yes" if r.significant else "no",
                ]
            )
        headers = ["Workload", "N", "A Mean(ms)", "B Mean(ms)", "A/B", "95% CI", "Significant"]
        legend = f"A: {self.a}\nB: {self.b}\n"
        return legend + tabulate(rows, headers=headers, tablefmt=_table_format()) + "\n"


def compare_kernels(
    a: Target,
    b: Target,
    *,
    warmup: int = 10,
    iterations: int = 100,
    block: int = 10,
    log: TextIO = sys.stderr,
) -> CompareResult:
    """Runs the workloads of A's benchmark scripts against both kernels in this
    process, alternating blocks of `block` timed calls (A B, then B A, ...) so
    slow drift (clocks, temperature, other load) reaches both alike."""
    for warning in a.warnings + b.warnings:
        print(f"Warning: {warning}", file=log)
    fetch_benchmarks(a, log)
    if not b.is_local:
        fetch_benchmarks(b, log)
    scripts = discover_scripts(a)
    machine = collect_machine_info()
    result = CompareResult(a=a, b=b, machine=machine)
    device = torch_device()
    timer = Timer(device)
    kernel_a = kernel_b = None
    block = max(1, block)
    for script in scripts:
        print(f"Running {script.name}...", file=log)
        classes = load_script_classes(script, a.path)
        for cls in classes:
            methods = workload_methods(cls, script)
            if kernel_a is None:
                kernel_a, kernel_b = load_kernel(a), load_kernel(b)
                result.kernel_sha_a, result.kernel_sha_b = kernel_sha(kernel_a), kernel_sha(kernel_b)
            print(f"  Comparing {cls.__name__} on {device}", file=log)
            for method in methods:
                pa = prepare_workload(cls, method, kernel_a, device, timer, warmup, script)
                pb = prepare_workload(cls, method, kernel_b, device, timer, warmup, script)
                warm_up(pa, timer, warmup, script)
                warm_up(pb, timer, warmup, script)
                times = {id(pa): [], id(pb): []}
                done, turn = 0, 0
                while done < iterations:
                    count = min(block, iterations - done)
                    order = (pa, pb) if turn % 2 == 0 else (pb, pa)
                    for prepared in order:
                        times[id(prepared)].extend(time_calls(prepared, timer, count, script))
                    done += count
                    turn += 1
                ta, tb = times[id(pa)], times[id(pb)]
                result.comparisons.append(Comparison(pa.name, summarize(ta), summarize(tb), mean_ratio(ta, tb)))
    return result

