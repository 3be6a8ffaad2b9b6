"""Charts of benchmark results (kernels.benchmark.charts): the files written,
what they show, reproducibility, and the errors for input that cannot be drawn."""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.util import find_spec
from pathlib import Path

import pytest

from kernels.benchmark import charts

needs_matplotlib = pytest.mark.skipif(find_spec("matplotlib") is None, reason="matplotlib is not installed")

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def result(name, mean, ref, verified=True):
    return {
        "workload": name,
        "timingResults": {
            "mean_ms": mean,
            "std_ms": mean * 0.1,
            "min_ms": mean * 0.8,
            "max_ms": mean * 1.6,
            "q1_ms": mean * 0.95,
            "q3_ms": mean * 1.05,
            "iqr_ms": mean * 0.1,
            "outliers": 2,
            "iterations": 100,
        },
        "ref_mean_ms": ref,
        "verified": verified,
    }


# Kernel 2x faster on one workload, 1.25x slower on another; one has no reference.
RESULTS = [
    result("ReluBenchmark.small", 0.05, 0.1),
    result("ReluBenchmark.large", 2.5, 2.0),
    result("ReluBenchmark.noref", 1.0, None, verified=None),
]
DRAWN = ["ReluBenchmark.large", "ReluBenchmark.small"]


def expected_names(base, rasterized):
    names = []
    for theme in ("light", "dark"):
        names += [f"{base}_{theme}_latency.svg", f"{base}_{theme}_throughput.svg", f"{base}_{theme}_animation.svg"]
        if rasterized:
            names += [f"{base}_{theme}_latency.png", f"{base}_{theme}_throughput.png", f"{base}_{theme}_animation.gif"]
    return sorted(names)


@pytest.fixture(scope="module")
def rasterized_charts(tmp_path_factory):
    out = tmp_path_factory.mktemp("charts") / "media"  # not there yet: write_charts creates it
    return out, charts.write_charts(RESULTS, "relu", out, rasterized=True)


def svg_root(path):
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG_NS}svg", path
    return root


def svg_text(path):
    return "".join(svg_root(path).itertext())


@needs_matplotlib
def test_writes_every_chart_and_returns_them_sorted(rasterized_charts):
    out, paths = rasterized_charts
    assert paths == sorted(paths)
    assert [p.name for p in paths] == expected_names("relu", rasterized=True)
    assert all(p.parent == out for p in paths)
    # Atomic writes leave nothing else behind.
    assert sorted(p.name for p in out.iterdir()) == expected_names("relu", rasterized=True)


@needs_matplotlib
def test_svgs_show_only_the_workloads_with_a_reference(rasterized_charts):
    _, paths = rasterized_charts
    svgs = [p for p in paths if p.suffix == ".svg"]
    assert len(svgs) == 6
    for path in svgs:
        text = svg_text(path)
        for name in DRAWN:
            assert name in text, (path.name, name)
        assert "ReluBenchmark.noref" not in path.read_text(), path.name


@needs_matplotlib
def test_latency_and_throughput_state_the_speedups(rasterized_charts):
    _, paths = rasterized_charts
    by_name = {p.name: p for p in paths}
    for kind in ("latency", "throughput"):
        text = svg_text(by_name[f"relu_light_{kind}.svg"])
        assert "2.00x faster" in text  # small: 0.1 ms reference / 0.05 ms kernel
        assert "1.25x slower" in text  # large: 2.5 ms kernel / 2.0 ms reference
    assert "20k calls/s" in svg_text(by_name["relu_light_throughput.svg"])  # 1000 / 0.05 ms
    latency = svg_text(by_name["relu_light_latency.svg"])
    assert "50 µs" in latency and "2.5 ms" in latency


@needs_matplotlib
def test_animated_svg_races_kernel_and_reference_in_proportion(rasterized_charts):
    _, paths = rasterized_charts
    root = svg_root(next(p for p in paths if p.name == "relu_light_animation.svg"))
    finish = {}
    for rect in root.iter(f"{SVG_NS}rect"):
        animate = rect.find(f"{SVG_NS}animate")
        if animate is None:
            continue
        assert animate.get("attributeName") == "width"
        assert animate.get("repeatCount") == "indefinite"
        finish.setdefault(rect.get("class"), []).append(float(animate.get("keyTimes").split(";")[1]))
    assert set(finish) == {"kernel", "reference"}
    # Rows in name order: large (kernel slower, 2.5 vs 2.0 ms), small (kernel 2x faster).
    (large_kernel, small_kernel), (large_ref, small_ref) = finish["kernel"], finish["reference"]
    assert large_kernel > large_ref and large_ref / large_kernel == pytest.approx(2.0 / 2.5, abs=1e-3)
    assert small_kernel < small_ref and small_kernel / small_ref == pytest.approx(0.5, abs=1e-3)


@needs_matplotlib
def test_png_and_gif_are_real_images(rasterized_charts):
    from PIL import Image

    _, paths = rasterized_charts
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE, path.name
            with Image.open(path) as image:
                assert image.format == "PNG"
                assert image.width > 0 and image.height > 0
        elif path.suffix == ".gif":
            with Image.open(path) as image:
                assert image.format == "GIF"
                assert image.n_frames > 5, path.name
                image.seek(0)
                first = image.convert("RGB").tobytes()
                image.seek(image.n_frames - 1)
                assert image.convert("RGB").tobytes() != first, "the bars must move"


@needs_matplotlib
def test_dark_and_light_themes_differ(rasterized_charts):
    _, paths = rasterized_charts
    by_name = {p.name: p.read_bytes() for p in paths}
    for kind in ("latency.svg", "throughput.svg", "animation.svg", "latency.png", "animation.gif"):
        assert by_name[f"relu_light_{kind}"] != by_name[f"relu_dark_{kind}"], kind
    assert b"#0d1117" in by_name["relu_dark_latency.svg"]
    assert b"#0d1117" not in by_name["relu_light_latency.svg"]


@needs_matplotlib
def test_same_results_give_identical_files(rasterized_charts, tmp_path):
    out, first = rasterized_charts
    again = charts.write_charts(RESULTS, "relu", tmp_path, rasterized=True)
    assert [p.name for p in again] == [p.name for p in first]
    for a, b in zip(first, again):
        assert a.read_bytes() == b.read_bytes(), a.name


@needs_matplotlib
def test_overwrites_existing_charts(tmp_path):
    (tmp_path / "relu_light_latency.svg").write_text("old")
    charts.write_charts(RESULTS, "relu", tmp_path)
    assert "ReluBenchmark.small" in svg_text(tmp_path / "relu_light_latency.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == expected_names("relu", rasterized=False)


def test_no_reference_is_an_error_and_writes_nothing(tmp_path):
    out = tmp_path / "media"
    with pytest.raises(ValueError, match="nothing to chart"):
        charts.write_charts([result("ReluBenchmark.small", 0.05, None)], "relu", out)
    with pytest.raises(ValueError, match="nothing to chart"):
        charts.write_charts([], "relu", out)
    assert not out.exists()


@pytest.mark.parametrize(
    "bad, message",
    [
        ("not a list", "must be a list"),
        ([42], r"results\[0\] must be an object"),
        ([{"timingResults": {}}], r"results\[0\]: 'workload'"),
        ([{**result("A.b", 1.0, 2.0), "timingResults": {"mean_ms": 1.0}}], r"results\[0\] \(A.b\): .* lacks 'std_ms'"),
        ([{**result("A.b", 1.0, 2.0), "ref_mean_ms": "fast"}], r"A.b.*'ref_mean_ms' must be a number"),
        ([result("A.b", 1.0, 2.0), result("A.b", 1.0, 2.0)], "more than once"),
    ],
)
def test_malformed_results_are_named(bad, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        charts.write_charts(bad, "x", tmp_path)


@pytest.mark.parametrize("base", ["", "a/b", "..", "../up"])
def test_base_must_be_a_plain_name(base, tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        charts.write_charts(RESULTS, base, tmp_path / "media")
    assert not (tmp_path / "media").exists()


def test_missing_matplotlib_says_how_to_install(tmp_path):
    """With matplotlib unimportable, drawing fails with the install hint."""
    script = f"""
import sys
class NoMatplotlib:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, NoMatplotlib())
from pathlib import Path
from kernels.benchmark import charts
import json
for call in (lambda: charts.write_charts(json.loads(sys.argv[1]), "x", Path(sys.argv[2])),
             lambda: charts.plot_history(json.loads(sys.argv[3]), None, Path(sys.argv[2]))):
    try:
        call()
    except ImportError as e:
        print(str(e).replace(chr(10), " | "))
"""
    history = [{"timestamp": "2026-01-01T00:00:00Z", "kernelCommitSha": "abc", "results": RESULTS}]
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(RESULTS), str(tmp_path / "media"), json.dumps(history)],
        capture_output=True,
        text=True,
        check=True,
    )
    hint = "Missing dependencies for benchmark: matplotlib | Install with: pip install 'kernels[benchmark]'"
    assert proc.stdout.splitlines() == [hint, hint]
    assert not (tmp_path / "media").exists()


def run_record(sha, timestamp, means):
    return {
        "results": [result(name, mean, None) for name, mean in means.items()],
        "machineInfo": {"gpu": "N/A", "backend": "CPU", "pytorchVersion": "1.13.1", "os": "Linux", "cpu": "x86_64"},
        "kernelCommitSha": sha,
        "timestamp": timestamp,
    }


# Listed out of order: the plot orders runs by time (a time without zone is UTC).
HISTORY = [
    run_record("cccccccc3333", "2026-03-01T12:00:00+00:00", {"ReluBenchmark.small": 0.04, "ReluBenchmark.large": 2.0}),
    run_record("aaaaaaaa1111", "2026-01-01T12:00:00Z", {"ReluBenchmark.small": 0.06, "ReluBenchmark.large": 2.6}),
    run_record("bbbbbbbb2222", "2026-02-01T12:00:00", {"ReluBenchmark.small": 0.05}),
]


@needs_matplotlib
def test_history_of_all_workloads_in_time_order(tmp_path):
    paths = charts.plot_history(HISTORY, None, tmp_path, rasterized=True)
    assert [p.name for p in paths] == sorted(
        ["history_all_dark.png", "history_all_dark.svg", "history_all_light.png", "history_all_light.svg"]
    )
    for path in paths:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
            continue
        text = svg_text(path)
        assert "ReluBenchmark.small" in text and "ReluBenchmark.large" in text
        # x labels: short shas, oldest run first.
        shas = re.findall(r"[abc]{7}", text)
        assert shas == ["aaaaaaa", "bbbbbbb", "ccccccc"], path.name
        assert "aaaaaaaa" not in text
    light, dark = (tmp_path / "history_all_light.svg").read_bytes(), (tmp_path / "history_all_dark.svg").read_bytes()
    assert light != dark
    again = charts.plot_history(HISTORY, None, tmp_path / "again")
    assert (tmp_path / "again" / "history_all_light.svg").read_bytes() == light
    assert [p.name for p in again] == ["history_all_dark.svg", "history_all_light.svg"]


@needs_matplotlib
def test_history_of_one_workload(tmp_path):
    paths = charts.plot_history(HISTORY, "ReluBenchmark.large", tmp_path)
    assert [p.name for p in paths] == ["history_ReluBenchmark.large_dark.svg", "history_ReluBenchmark.large_light.svg"]
    text = svg_text(paths[1])
    assert "ReluBenchmark.large" in text and "ReluBenchmark.small" not in text


def test_history_unknown_workload_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError) as error:
        charts.plot_history(HISTORY, "ReluBenchmark.huge", tmp_path)
    assert "'ReluBenchmark.huge'" in str(error.value)
    assert "ReluBenchmark.large, ReluBenchmark.small" in str(error.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "records, message",
    [
        ([], "history is empty"),
        ([{**HISTORY[0], "timestamp": "yesterday"}], "run 0: timestamp 'yesterday' is not ISO 8601"),
        ([HISTORY[0], {**HISTORY[1], "timestamp": None}], "run 1: 'timestamp'"),
        ([{**HISTORY[0], "kernelCommitSha": 7}], "run 0: 'kernelCommitSha'"),
        ([{**HISTORY[0], "results": {}}], "run 0: 'results' must be a list"),
        ([run_record("abc", "2026-01-01T00:00:00Z", {})], "no workload to plot"),
    ],
)
def test_history_bad_records_are_named(records, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        charts.plot_history(records, None, tmp_path)


def test_history_does_not_touch_the_working_directory(tmp_path, monkeypatch):
    """Errors come before anything is created in the default ./media."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        charts.plot_history(HISTORY, "nope")
    with pytest.raises(ValueError):
        charts.write_charts([], "relu")
    assert not (tmp_path / "media").exists()


@needs_matplotlib
def test_a_failed_write_leaves_no_partial_files(tmp_path):
    # A directory where a chart should go: moving the finished file there fails.
    (tmp_path / "relu_light_throughput.svg").mkdir()
    with pytest.raises(OSError):
        charts.write_charts(RESULTS, "relu", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["relu_light_latency.svg", "relu_light_throughput.svg"]
    assert (tmp_path / "relu_light_throughput.svg").is_dir()
