"""Statistics of one workload's timings (runtime spec 10.2 step 9) and the
ratio of two workloads' means for `kernels benchmark --compare`.

Pure Python on purpose: the numbers must not depend on which torch or numpy
is installed, and they are unit-tested against hand-computed values."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

DECIMALS = 4
# Two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of ascending values, interpolated linearly
    between the values around index (n-1)*p/100; 0.0 for no values."""
    n = len(sorted_values)
    if n == 0:
        return 0.0
    if n == 1:
        return float(sorted_values[0])
    position = (n - 1) * p / 100.0
    below = int(position)
    above = min(below + 1, n - 1)
    fraction = position - below
    return sorted_values[below] * (1.0 - fraction) + sorted_values[above] * fraction


@dataclass(frozen=True)
class TimingStats:
    """The `timingResults` object of the payload, every time in ms."""

    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    q1_ms: float
    q3_ms: float
    iqr_ms: float
    outliers: int
    iterations: int

    def as_payload(self) -> dict:
        return asdict(self)


def summarize(times_ms: Sequence[float]) -> TimingStats:
    """Mean, population standard deviation (divides by n), extremes, quartiles,
    IQR and the count of values outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR], each
    time rounded to 4 decimals. Quartiles and IQR are computed unrounded."""
    n = len(times_ms)
    if n == 0:
        return TimingStats(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0)
    ordered = sorted(float(t) for t in times_ms)
    mean = sum(ordered) / n
    std = math.sqrt(sum((t - mean) ** 2 for t in ordered) / n)
    q1 = percentile(ordered, 25)
    q3 = percentile(ordered, 75)
    iqr = q3 - q1
    low, high = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    outliers = sum(1 for t in ordered if t < low or t > high)
    return TimingStats(
        mean_ms=round(mean, DECIMALS),
        std_ms=round(std, DECIMALS),
        min_ms=round(ordered[0], DECIMALS),
        max_ms=round(ordered[-1], DECIMALS),
        q1_ms=round(q1, DECIMALS),
        q3_ms=round(q3, DECIMALS),
        iqr_ms=round(iqr, DECIMALS),
        outliers=outliers,
        iterations=n,
    )


@dataclass(frozen=True)
class RatioEstimate:
    """mean(a) / mean(b) with a 95% confidence interval."""

    ratio: float
    low: float
    high: float
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        """The interval excludes 1: the two means differ at the 5% level."""
        return self.high < 1.0 or self.low > 1.0


def mean_ratio(a_ms: Sequence[float], b_ms: Sequence[float]) -> RatioEstimate:
    """Ratio of the means of two independent samples with a 95% interval from
    the delta method on the log scale: Var(log(ma/mb)) ~ sa^2/(na ma^2) +
    sb^2/(nb mb^2), with the unbiased (n-1) sample variances of each side as
    in Welch's test, and the interval exp(log r +- z*se) (z of the normal
    distribution: the samples of a benchmark are large). The log scale keeps
    the interval positive and makes A/B and B/A intervals reciprocal.
    Needs at least two positive samples on each side."""
    na, nb = len(a_ms), len(b_ms)
    if na < 2 or nb < 2:
        raise ValueError(f"a ratio interval needs at least 2 timings per side (got {na} and {nb})")
    ma, mb = sum(a_ms) / na, sum(b_ms) / nb
    if ma <= 0 or mb <= 0:
        raise ValueError("a ratio interval needs positive mean times")
    va = sum((t - ma) ** 2 for t in a_ms) / (na - 1)
    vb = sum((t - mb) ** 2 for t in b_ms) / (nb - 1)
    se = math.sqrt(va / (na * ma * ma) + vb / (nb * mb * mb))
    ratio = ma / mb
    return RatioEstimate(
        ratio=ratio, low=ratio * math.exp(-Z_95 * se), high=ratio * math.exp(Z_95 * se), n_a=na, n_b=nb
    )
