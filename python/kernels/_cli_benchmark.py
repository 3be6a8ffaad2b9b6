"""`kernels benchmark`: time a kernel's benchmark scripts (runtime spec 10.2),
compare two kernels, keep and plot a history of runs."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

MEDIA_DIR = Path("media")


def register(commands) -> None:
    parser = commands.add_parser(
        "benchmark",
        help="time the benchmarks/benchmark*.py workloads of a kernel (a directory or ORG/NAME@REVISION)",
        description="Runs the Benchmark classes of a kernel's benchmarks/benchmark*.py against the kernel and "
        "prints their timings. A kernel is a local directory or a hub repository: ORG/NAME@v1 (version 1), "
        "ORG/NAME@BRANCH, or ORG/NAME with --version / --branch.",
    )
    parser.add_argument("repo_id", nargs="?", help="kernel directory, or ORG/NAME[@REVISION] on the hub")
    parser.add_argument("--branch", help="hub branch of the kernel")
    parser.add_argument("--version", type=int, help="kernel version (hub branch v<VERSION>)")
    parser.add_argument("--warmup", type=_non_negative_int, default=10, help="untimed calls before timing (10)")
    parser.add_argument("--iterations", type=positive_int, default=100, help="timed calls per workload (100)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--output", metavar="FILE", help="write the results as JSON to FILE")
    parser.add_argument(
        "--visual", metavar="BASE", help="draw the results into ./media/BASE_{light,dark}*.svg (needs matplotlib)"
    )
    parser.add_argument(
        "--rasterized", action="store_true", help="with --visual, also PNG and GIF files; with --plot-history, PNG"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="time the workloads of A's benchmarks against kernels A and B in one process, interleaved, and "
        "print mean(A)/mean(B) per workload with a 95%% confidence interval",
    )
    parser.add_argument(
        "--block", type=positive_int, default=10, help="with --compare, timed calls per turn of each kernel (10)"
    )
    parser.add_argument(
        "--append-history",
        "--history",
        dest="history",
        metavar="FILE",
        help="after a run, append its results, the time and the kernel's commit as one JSON line to FILE",
    )
    parser.add_argument(
        "--plot-history", metavar="FILE", help="draw the runs recorded in FILE (by --append-history) into ./media/"
    )
    parser.add_argument("--workload", help="with --plot-history, only this workload (Class.workload)")
    parser.set_defaults(run=run)


def _integer_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


_non_negative_int = _integer_at_least(0)
positive_int = _integer_at_least(1)


def _error(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    return 1


def run(args) -> int:
    if args.plot_history:
        rasterized = {"rasterized": True} if args.rasterized else {}
        return _plot_history(Path(args.plot_history), args.workload, rasterized)
    modes = [m for m in (args.repo_id, args.compare) if m]
    if len(modes) != 1:
        return _error("give a kernel to benchmark, or --compare A B, or --plot-history FILE")

    from .benchmark.runner import BenchmarkFailure, missing_dependencies

    missing = missing_dependencies()
    if missing:
        print(f"Error: Missing dependencies for benchmark: {', '.join(missing)}", file=sys.stderr)
        print("Install with: pip install 'kernels[benchmark]'", file=sys.stderr)
        return 1
    try:
        if args.compare:
            return _compare(args)
        return _benchmark(args)
    except BenchmarkFailure as failure:
        code = _error(str(failure))
        if args.output and getattr(failure, "partial", None) is not None and hasattr(failure.partial, "payload"):
            try:
                _write_json(Path(args.output), failure.partial.payload())
            except OSError as e:
                return _error(f"cannot write {args.output}: {e.strerror or e}")
            print(f"Results of the finished workloads saved to: {args.output}", file=sys.stderr)
        return code
    except OSError as e:  # --output or the history file
        return _error(f"cannot write {e.filename or ''}: {e.strerror or e}")


def _benchmark(args) -> int:
    from .benchmark.runner import resolve_target, results_table, run_benchmark

    target = resolve_target(args.repo_id, branch=args.branch, version=args.version)
    result = run_benchmark(target, warmup=args.warmup, iterations=args.iterations)
    print(results_table(result.results), file=sys.stderr)
    print(f"Kernel: {result.kernel_sha[:7]}  Benchmark: {(result.script_sha or '')[:7]}", file=sys.stderr)
    payload = result.payload()
    _emit_payload(args, payload)
    if args.history:
        _append_history(Path(args.history), result, payload)
    if args.visual:
        try:
            charts = _charts("--visual")
        except RuntimeError as e:
            return _error(str(e))
        try:
            written = charts.write_charts(
                result.chart_input(), args.visual, out_dir=MEDIA_DIR, rasterized=args.rasterized
            )
        except ValueError as e:  # e.g. no workload with a reference time to draw
            return _error(f"--visual: {e}")
        for file in written or []:
            print(f"Wrote {file}", file=sys.stderr)
    return 0


def _emit_payload(args, payload: dict) -> None:
    """--output FILE and --json, the same for a run and a comparison."""
    if args.output:
        _write_json(Path(args.output), payload)
        print(f"Results saved to: {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps(payload, indent=2))


def _compare(args) -> int:
    from .benchmark.runner import compare_kernels, resolve_target

    a, b = (resolve_target(ref, branch=args.branch, version=args.version) for ref in args.compare)
    result = compare_kernels(a, b, warmup=args.warmup, iterations=args.iterations, block=args.block)
    print(result.table(), file=sys.stderr)
    for c in result.comparisons:
        verdict = "significant" if c.ratio.significant else "not significant"
        print(
            f"  {c.name}: A/B = {c.ratio.ratio:.3f} (95% CI: {c.ratio.low:.3f}-{c.ratio.high:.3f}) {verdict}",
            file=sys.stderr,
        )
    payload = result.payload()
    _emit_payload(args, payload)
    return 0


def _write_json(path: Path, payload: dict) -> None:
    """Written next to the destination and renamed: never half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(temporary, path)
    except OSError as e:
        temporary.unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror, str(path)) from None


def _append_history(path: Path, result, payload: dict) -> None:
    """One JSON line per run: the payload's keys, and when and what ran."""
    target = result.target
    record = {
        **payload,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "kernel": str(target.path) if target.is_local else target.repo_id,
        "revision": target.revision,
        # The hub commit the revision named; a local kernel's build id.
        "kernelCommit": target.commit or result.kernel_sha,
    }
    # One write of one line in append mode: concurrent runs do not interleave lines.
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    print(f"History appended to: {path}", file=sys.stderr)


def read_history(path: Path) -> list[dict]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{number}: not a JSON line: {e.msg}") from None
        if not isinstance(record, dict) or not isinstance(record.get("results"), list):
            raise ValueError(f"{path}:{number}: not a benchmark history record (no \"results\" list)")
        records.append(record)
    return records


def _plot_history(path: Path, workload: str | None, rasterized: dict) -> int:
    if not path.is_file():
        return _error(f"no history file {path}")
    try:
        records = read_history(path)
    except (ValueError, UnicodeDecodeError) as e:
        return _error(str(e))
    if not records:
        return _error(f"{path} records no runs")
    try:
        charts = _charts("--plot-history")
    except RuntimeError as e:
        return _error(str(e))
    try:
        written = charts.plot_history(records, workload, out_dir=MEDIA_DIR, **rasterized)
    except ValueError as e:  # records or workload the charts cannot draw
        return _error(f"{path}: {e}")
    for file in written or []:
        print(f"Wrote {file}", file=sys.stderr)
    return 0


def _charts(option: str):
    import importlib

    try:
        charts = importlib.import_module("kernels.benchmark.charts")
    except ModuleNotFoundError as e:
        if e.name == "kernels.benchmark.charts":
            raise RuntimeError(f"{option} needs kernels.benchmark.charts, which this installation lacks") from None
        raise RuntimeError(
            f"{option} needs {e.name}: pip install 'kernels[benchmark]' (or apt install python3-matplotlib)"
        ) from None
    return charts
