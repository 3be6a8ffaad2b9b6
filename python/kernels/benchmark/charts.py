"""Charts of benchmark results: kernel against reference, and runs over time.

`write_charts` draws one benchmark run (the runner's results with the
reference timings) as latency, throughput and an animated race between the
kernel and its reference, in a light and a dark theme. `plot_history` draws
the mean time of each workload across saved runs.

matplotlib is optional: it is imported when a chart is drawn. Figures are
built on the Agg canvas directly (never pyplot), so drawing changes no global
backend and never opens a window. SVGs come out byte-identical for the same
input (fixed hash salt, no date), so committed charts only change when the
numbers do.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from xml.sax.saxutils import escape

THEMES = ("light", "dark")

_PALETTES = {
    "light": {
        "background": "#ffffff",
        "text": "#1f2328",
        "muted": "#656d76",
        "grid": "#d0d7de",
        "track": "#eef1f4",
        "kernel": "#e8710a",
        "reference": "#7d8590",
    },
    "dark": {
        "background": "#0d1117",
        "text": "#e6edf3",
        "muted": "#8d96a0",
        "grid": "#30363d",
        "track": "#161b22",
        "kernel": "#ff9d3d",
        "reference": "#9198a1",
    },
}

_TIMING_KEYS = ("mean_ms", "std_ms", "min_ms", "max_ms", "q1_ms", "q3_ms", "iqr_ms", "outliers", "iterations")

# The race: the slower of kernel and reference takes _RACE_SECONDS to cross
# its track, the other proportionally less; both then rest until the loop
# restarts, so the finish stays visible.
_RACE_SECONDS = 3.0
_REST_SECONDS = 1.5
_GIF_FPS = 10

_PNG_DPI = 100
_GIF_DPI = 72


def _import_matplotlib():
    """matplotlib and its Agg canvas, or an ImportError saying how to install them."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as e:
        raise ImportError(
            "Missing dependencies for benchmark: matplotlib\nInstall with: pip install 'kernels[benchmark]'"
        ) from e
    return matplotlib, FigureCanvasAgg


def _rc(matplotlib):
    """Settings that make charts reproducible and keep their text searchable."""
    return matplotlib.rc_context(
        {
            "svg.hashsalt": "kernels-benchmark",
            "svg.fonttype": "none",  # text stays text: smaller files, names readable in the SVG
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "savefig.bbox": None,
        }
    )


def _atomic_write(path: Path, produce: Callable[[Path], None]) -> None:
    """Let `produce` write a temporary file beside `path`, then move it into place.

    The temporary name keeps the final suffix, since some writers pick the
    format from it; a failure leaves no partial file behind."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        produce(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _save_figure(fig, path: Path) -> None:
    fmt = path.suffix.lstrip(".")
    # No date or software version in the file: the same numbers give the same bytes.
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    _atomic_write(
        path,
        lambda tmp: fig.savefig(tmp, format=fmt, dpi=_PNG_DPI, metadata=metadata, facecolor=fig.get_facecolor()),
    )


class _Workload:
    """One result with a reference time, as drawn."""

    def __init__(self, name: str, timing: dict[str, float], ref_mean_ms: float):
        self.name = name
        self.mean_ms = timing["mean_ms"]
        self.q1_ms = timing["q1_ms"]
        self.q3_ms = timing["q3_ms"]
        self.ref_mean_ms = ref_mean_ms

    @property
    def speedup(self) -> float:
        return self.ref_mean_ms / self.mean_ms


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_base(base: Any) -> str:
    if not isinstance(base, str) or not base or base in (".", "..") or "/" in base or "\\" in base or "\0" in base:
        raise ValueError(f"chart base name {base!r} must be a plain file name (no directories)")
    return base


def _workloads_with_reference(results: Any) -> list[_Workload]:
    if not isinstance(results, list):
        raise ValueError(f"benchmark results must be a list, not {type(results).__name__}")
    drawn = []
    for index, item in enumerate(results):
        where = f"results[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object, not {type(item).__name__}")
        name = item.get("workload")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: 'workload' must be a non-empty string")
        where = f"{where} ({name})"
        timing = item.get("timingResults")
        if not isinstance(timing, dict):
            raise ValueError(f"{where}: 'timingResults' must be an object")
        for key in _TIMING_KEYS:
            if key not in timing:
                raise ValueError(f"{where}: 'timingResults' lacks '{key}'")
            if not _is_number(timing[key]):
                raise ValueError(f"{where}: timingResults.{key} must be a number, not {timing[key]!r}")
        ref = item.get("ref_mean_ms")
        if ref is None:
            continue
        if not _is_number(ref):
            raise ValueError(f"{where}: 'ref_mean_ms' must be a number or null, not {ref!r}")
        if ref <= 0 or timing["mean_ms"] <= 0:
            # A zero time has no speed to compare; the table still shows it.
            continue
        drawn.append(_Workload(name, timing, float(ref)))
    if len({w.name for w in drawn}) != len(drawn):
        raise ValueError("benchmark results name a workload more than once")
    return sorted(drawn, key=lambda w: w.name)


def _format_ms(ms: float) -> str:
    if ms < 1:
        return f"{ms * 1000:.3g} µs"
    if ms < 100:
        return f"{ms:.3g} ms"
    return f"{ms:,.0f} ms"


def _format_rate(per_second: float) -> str:
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{unit} calls/s"
    return f"{per_second:.3g} calls/s"


def _format_speedup(speedup: float) -> str:
    if speedup >= 1:
        return f"{speedup:.2f}x faster"
    return f"{1 / speedup:.2f}x slower"


def _new_figure(FigureCanvasAgg, width: float, height: float, colors: dict[str, str]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    fig.set_facecolor(colors["background"])
    return fig


def _style_axes(ax, colors: dict[str, str], xlabel: str) -> None:
    ax.set_facecolor(colors["background"])
    ax.set_xlabel(xlabel, color=colors["muted"])
    ax.tick_params(colors=colors["muted"], labelcolor=colors["text"])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(colors["grid"])
    ax.grid(axis="x", color=colors["grid"], linewidth=0.5)
    ax.set_axisbelow(True)


def _legend(ax, colors: dict[str, str]) -> None:
    # Above the plot, right-aligned: never over a bar or a line.
    legend = ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, frameon=False, fontsize=9)
    for text in legend.get_texts():
        text.set_color(colors["text"])


def _bar_chart(
    FigureCanvasAgg,
    workloads: list[_Workload],
    theme: str,
    title: str,
    xlabel: str,
    kernel_values: list[float],
    reference_values: list[float],
    value_label: Callable[[float], str],
    kernel_spread: list[tuple[float, float]] | None = None,
):
    """Horizontal bars, kernel above reference, one group per workload (first on top).

    `kernel_spread` draws a capped range (low, high) over each kernel bar."""
    colors = _PALETTES[theme]
    n = len(workloads)
    fig = _new_figure(FigureCanvasAgg, 8.0, 1.2 + 0.75 * n, colors)
    ax = fig.add_subplot()
    _style_axes(ax, colors, xlabel)
    positions = [n - 1 - i for i in range(n)]
    height = 0.34
    kernel_y = [p + height / 2 for p in positions]
    reference_y = [p - height / 2 for p in positions]
    ax.barh(kernel_y, kernel_values, height=height, color=colors["kernel"], label="kernel")
    ax.barh(reference_y, reference_values, height=height, color=colors["reference"], label="reference")
    kernel_label_x = list(kernel_values)
    if kernel_spread is not None:
        ax.errorbar(
            [(low + high) / 2 for low, high in kernel_spread],
            kernel_y,
            xerr=[(high - low) / 2 for low, high in kernel_spread],
            fmt="none",
            ecolor=colors["text"],
            elinewidth=1,
            capsize=3,
            label="Q1-Q3",
        )
        kernel_label_x = [max(value, high) for value, (_, high) in zip(kernel_values, kernel_spread)]
    largest = max(kernel_label_x + reference_values)
    pad = largest * 0.02
    for y, x, value in zip(kernel_y, kernel_label_x, kernel_values):
        ax.text(x + pad, y, value_label(value), va="center", fontsize=8, color=colors["text"])
    for y, value in zip(reference_y, reference_values):
        ax.text(value + pad, y, value_label(value), va="center", fontsize=8, color=colors["muted"])
    ax.set_yticks(positions)
    ax.tick_params(axis="y", length=0)
    ax.set_yticklabels([f"{w.name}\n{_format_speedup(w.speedup)}" for w in workloads], fontsize=9)
    ax.set_xlim(0, largest * 1.3)
    ax.set_ylim(-0.7, n - 0.3)
    _legend(ax, colors)
    fig.suptitle(title, color=colors["text"], fontsize=12, x=0.02, ha="left")
    fig.tight_layout()
    return fig


def _latency_figure(FigureCanvasAgg, workloads: list[_Workload], theme: str):
    # The spread shown is the interquartile range: min-max would let one
    # scheduler hiccup stretch the axis until the bars cannot be compared.
    return _bar_chart(
        FigureCanvasAgg,
        workloads,
        theme,
        "Latency: kernel vs reference",
        "mean time per call (ms), shorter is better; whiskers: kernel Q1-Q3",
        [w.mean_ms for w in workloads],
        [w.ref_mean_ms for w in workloads],
        _format_ms,
        kernel_spread=[(min(w.q1_ms, w.q3_ms), max(w.q1_ms, w.q3_ms)) for w in workloads],
    )


def _throughput_figure(FigureCanvasAgg, workloads: list[_Workload], theme: str):
    return _bar_chart(
        FigureCanvasAgg,
        workloads,
        theme,
        "Throughput: kernel vs reference",
        "calls per second (1000 / mean ms), longer is better",
        [1000.0 / w.mean_ms for w in workloads],
        [1000.0 / w.ref_mean_ms for w in workloads],
        _format_rate,
    )


def _race_seconds(w: _Workload) -> tuple[float, float]:
    """Seconds the kernel and the reference take to cross the track."""
    slower = max(w.mean_ms, w.ref_mean_ms)
    return _RACE_SECONDS * w.mean_ms / slower, _RACE_SECONDS * w.ref_mean_ms / slower


# Layout of the race (SVG user units; the GIF uses the same proportions).
_RACE_WIDTH = 760
_RACE_TOP = 44
_RACE_ROW = 64
_RACE_BOTTOM = 34
_TRACK_X = 96
_TRACK_W = 520
_LANE_H = 12
_RACE_TITLE = "Kernel vs reference: a race per workload"
_RACE_NOTE = (
    f"Each bar crosses its track in a time proportional to the mean time per call "
    f"(the slower of the two: {_RACE_SECONDS:g} s)."
)


def _animation_svg(workloads: list[_Workload], theme: str) -> str:
    """A looping race between kernel and reference, one row per workload (SMIL)."""
    colors = _PALETTES[theme]
    cycle = _RACE_SECONDS + _REST_SECONDS
    height = _RACE_TOP + _RACE_ROW * len(workloads) + _RACE_BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_RACE_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_RACE_WIDTH} {height}" font-family="DejaVu Sans, Verdana, sans-serif">',
        "<title>Kernel vs reference: time per call as a race</title>",
        f'<rect width="100%" height="100%" fill="{colors["background"]}"/>',
        f'<text x="12" y="26" font-size="16" font-weight="bold" fill="{colors["text"]}">{_RACE_TITLE}</text>',
    ]
    for i, w in enumerate(workloads):
        top = _RACE_TOP + i * _RACE_ROW
        out.append(
            f'<text x="12" y="{top + 14}" font-size="12" font-weight="bold" fill="{colors["text"]}">'
            f"{escape(w.name)}</text>"
        )
        out.append(
            f'<text x="{_TRACK_X + _TRACK_W}" y="{top + 14}" font-size="12" text-anchor="end" '
            f'fill="{colors["kernel"] if w.speedup >= 1 else colors["muted"]}">{_format_speedup(w.speedup)}</text>'
        )
        kernel_s, reference_s = _race_seconds(w)
        lanes = (("kernel", kernel_s, w.mean_ms), ("reference", reference_s, w.ref_mean_ms))
        for lane, (label, seconds, ms) in enumerate(lanes):
            y = top + 22 + lane * (_LANE_H + 6)
            finish = max(0.001, seconds / cycle)
            out += [
                f'<text x="{_TRACK_X - 8}" y="{y + _LANE_H - 2}" font-size="11" text-anchor="end" '
                f'fill="{colors["muted"]}">{label}</text>',
                f'<rect x="{_TRACK_X}" y="{y}" width="{_TRACK_W}" height="{_LANE_H}" rx="3" fill="{colors["track"]}"/>',
                f'<rect class="{label}" x="{_TRACK_X}" y="{y}" width="0" height="{_LANE_H}" rx="3" '
                f'fill="{colors[label]}">',
                f'<animate attributeName="width" values="0;{_TRACK_W};{_TRACK_W}" keyTimes="0;{finish:.4f};1" '
                f'dur="{cycle}s" repeatCount="indefinite"/>',
                "</rect>",
                f'<text x="{_TRACK_X + _TRACK_W + 8}" y="{y + _LANE_H - 2}" font-size="11" '
                f'fill="{colors["text"]}">{_format_ms(ms)}</text>',
            ]
    out.append(f'<text x="12" y="{height - 12}" font-size="10" fill="{colors["muted"]}">{_RACE_NOTE}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _save_animation_gif(FigureCanvasAgg, workloads: list[_Workload], theme: str, path: Path) -> None:
    """The race of the animated SVG as a GIF (matplotlib animation, Pillow writer)."""
    from matplotlib.animation import FuncAnimation, PillowWriter
    from matplotlib.patches import Rectangle

    colors = _PALETTES[theme]
    height_units = _RACE_TOP + _RACE_ROW * len(workloads) + _RACE_BOTTOM
    fig = _new_figure(FigureCanvasAgg, _RACE_WIDTH / 100, height_units / 100, colors)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    # SVG-like coordinates: y grows downwards.
    ax.set_xlim(0, _RACE_WIDTH)
    ax.set_ylim(height_units, 0)
    ax.text(12, 26, _RACE_TITLE, fontsize=12, weight="bold", color=colors["text"])
    ax.text(12, height_units - 12, _RACE_NOTE, fontsize=7, color=colors["muted"])
    bars = []
    for i, w in enumerate(workloads):
        top = _RACE_TOP + i * _RACE_ROW
        ax.text(12, top + 14, w.name, fontsize=9, weight="bold", color=colors["text"])
        ax.text(_TRACK_X + _TRACK_W, top + 14, _format_speedup(w.speedup), fontsize=9, ha="right", color=colors["text"])
        kernel_s, reference_s = _race_seconds(w)
        for lane, (label, seconds, ms) in enumerate(
            (("kernel", kernel_s, w.mean_ms), ("reference", reference_s, w.ref_mean_ms))
        ):
            y = top + 22 + lane * (_LANE_H + 6)
            ax.add_patch(Rectangle((_TRACK_X, y), _TRACK_W, _LANE_H, color=colors["track"]))
            bar = Rectangle((_TRACK_X, y), 0, _LANE_H, color=colors[label])
            ax.add_patch(bar)
            bars.append((bar, seconds))
            ax.text(_TRACK_X - 8, y + _LANE_H - 2, label, fontsize=8, ha="right", color=colors["muted"])
            ax.text(_TRACK_X + _TRACK_W + 8, y + _LANE_H - 2, _format_ms(ms), fontsize=8, color=colors["text"])

    frames = int(round((_RACE_SECONDS + _REST_SECONDS) * _GIF_FPS))

    def draw_frame(frame: int):
        elapsed = frame / _GIF_FPS
        for bar, seconds in bars:
            bar.set_width(_TRACK_W * min(1.0, elapsed / seconds))
        return [bar for bar, _ in bars]

    animation = FuncAnimation(fig, draw_frame, frames=frames, blit=False, repeat=False)
    _atomic_write(path, lambda tmp: animation.save(str(tmp), writer=PillowWriter(fps=_GIF_FPS), dpi=_GIF_DPI))


def write_charts(
    results: list[dict], base: str, out_dir: Path = Path("media"), rasterized: bool = False
) -> list[Path]:
    """Draw latency, throughput and race charts of the workloads that have a reference time.

    For each theme (light, dark) writes `{base}_{theme}_latency.svg`,
    `{base}_{theme}_throughput.svg` and `{base}_{theme}_animation.svg` into
    `out_dir` (created if needed); `rasterized` adds `_latency.png`,
    `_throughput.png` and `_animation.gif`. Returns the paths written, sorted."""
    base = _check_base(base)
    workloads = _workloads_with_reference(results)
    if not workloads:
        raise ValueError(
            "no benchmark result has a reference time (ref_mean_ms), so there is nothing to chart; "
            "add verify_<workload> methods to the benchmark to time a reference"
        )
    matplotlib, FigureCanvasAgg = _import_matplotlib()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with _rc(matplotlib):
        for theme in THEMES:
            prefix = f"{base}_{theme}"
            for kind, make in (("latency", _latency_figure), ("throughput", _throughput_figure)):
                fig = make(FigureCanvasAgg, workloads, theme)
                for suffix in (".svg", ".png") if rasterized else (".svg",):
                    path = out_dir / f"{prefix}_{kind}{suffix}"
                    _save_figure(fig, path)
                    written.append(path)
            path = out_dir / f"{prefix}_animation.svg"
            _atomic_write_text(path, _animation_svg(workloads, theme))
            written.append(path)
            if rasterized:
                path = out_dir / f"{prefix}_animation.gif"
                _save_animation_gif(FigureCanvasAgg, workloads, theme, path)
                written.append(path)
    return sorted(written)


def _run_time(record: dict, where: str) -> datetime:
    stamp = record.get("timestamp")
    if not isinstance(stamp, str):
        raise ValueError(f"{where}: 'timestamp' must be an ISO 8601 string")
    try:
        # `Z` is accepted for UTC, as JSON writers commonly emit it.
        moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp)
    except ValueError:
        raise ValueError(f"{where}: timestamp {stamp!r} is not ISO 8601") from None
    # Runs without a zone are taken as UTC so they sort with the others.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def _history_runs(records: Any) -> list[tuple[datetime, str, dict[str, tuple[float, float]]]]:
    """(time, short commit sha, {workload: (mean, std)}) per run, oldest first."""
    if not isinstance(records, list):
        raise ValueError(f"benchmark history must be a list of runs, not {type(records).__name__}")
    if not records:
        raise ValueError("benchmark history is empty: there is no run to plot")
    runs = []
    for index, record in enumerate(records):
        where = f"run {index}"
        if not isinstance(record, dict):
            raise ValueError(f"{where} must be an object, not {type(record).__name__}")
        moment = _run_time(record, where)
        sha = record.get("kernelCommitSha")
        if not isinstance(sha, str):
            raise ValueError(f"{where}: 'kernelCommitSha' must be a string")
        results = record.get("results")
        if not isinstance(results, list):
            raise ValueError(f"{where}: 'results' must be a list")
        timings: dict[str, tuple[float, float]] = {}
        for position, item in enumerate(results):
            item_where = f"{where}: results[{position}]"
            if not isinstance(item, dict) or not isinstance(item.get("workload"), str):
                raise ValueError(f"{item_where} must be an object with a 'workload' string")
            timing = item.get("timingResults")
            if not isinstance(timing, dict):
                raise ValueError(f"{item_where} ({item['workload']}): 'timingResults' must be an object")
            for key in ("mean_ms", "std_ms"):
                if not _is_number(timing.get(key)):
                    raise ValueError(f"{item_where} ({item['workload']}): timingResults.{key} must be a number")
            timings[item["workload"]] = (float(timing["mean_ms"]), float(timing["std_ms"]))
        runs.append((moment, sha[:7] or "?", timings))
    runs.sort(key=lambda run: run[0])  # stable: runs at the same time keep their order
    return runs


def _file_part(name: str) -> str:
    """A workload name made safe as part of a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def plot_history(
    records: list[dict], workload: str | None, out_dir: Path = Path("media"), rasterized: bool = False
) -> list[Path]:
    """Plot the mean time (± std band) of each workload, or only `workload`, across runs.

    Runs are ordered by their `timestamp`; the x axis names each run by the
    short commit sha of its kernel. Writes `history_{workload or 'all'}_{theme}.svg`
    (and `.png` with `rasterized`) into `out_dir`; returns the paths, sorted."""
    runs = _history_runs(records)
    known = sorted({name for _, _, timings in runs for name in timings})
    if not known:
        raise ValueError("benchmark history has no results: there is no workload to plot")
    if workload is not None and workload not in known:
        raise ValueError(f"unknown workload {workload!r}; the history has: {', '.join(known)}")
    names = [workload] if workload is not None else known
    matplotlib, FigureCanvasAgg = _import_matplotlib()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    xs = list(range(len(runs)))
    written: list[Path] = []
    with _rc(matplotlib):
        for theme in THEMES:
            colors = _PALETTES[theme]
            fig = _new_figure(FigureCanvasAgg, max(6.0, 1.5 + 0.6 * len(runs)), 4.5, colors)
            ax = fig.add_subplot()
            _style_axes(ax, colors, "kernel commit (oldest first)")
            ax.grid(axis="y", color=colors["grid"], linewidth=0.5)
            ax.set_ylabel("mean time per call (ms)", color=colors["muted"])
            for name in names:
                # A workload missing from a run leaves a gap in its line.
                means = [timings.get(name, (math.nan, math.nan))[0] for _, _, timings in runs]
                stds = [timings.get(name, (math.nan, math.nan))[1] for _, _, timings in runs]
                (line,) = ax.plot(xs, means, marker="o", markersize=4, linewidth=1.5, label=name)
                ax.fill_between(
                    xs,
                    [m - s for m, s in zip(means, stds)],
                    [m + s for m, s in zip(means, stds)],
                    color=line.get_color(),
                    alpha=0.2,
                    linewidth=0,
                )
            ax.set_xticks(xs)
            ax.set_xticklabels([sha for _, sha, _ in runs], rotation=45, ha="right", fontfamily="DejaVu Sans Mono")
            ax.set_ylim(bottom=0)
            if len(runs) == 1:
                ax.set_xlim(-0.5, 0.5)
            _legend(ax, colors)
            title = f"History: {workload}" if workload is not None else "History: all workloads"
            fig.suptitle(title + " (band: ± std)", color=colors["text"], fontsize=12, x=0.02, ha="left")
            fig.tight_layout()
            stem = f"history_{_file_part(workload) if workload is not None else 'all'}_{theme}"
            for suffix in (".svg", ".png") if rasterized else (".svg",):
                path = out_dir / f"{stem}{suffix}"
                _save_figure(fig, path)
                written.append(path)
    return sorted(written)
