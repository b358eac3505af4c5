"""The decision rule: is a measured mean consistent with a reported one, from summary statistics alone?

Both sides are reduced to (mean, sample standard deviation, n). Where both give all three, Welch's
unequal-variance t-test decides. Where the reporter's n or the kind of its ± is not known, no test on
means is possible, so the rule is the conservative one: the reported ± is read at its widest (as one
standard deviation) and treated as the spread of a single run, i.e. the reported mean is taken to be
as uncertain as one run, and our mean is tested against that with our own standard error beside it
(t with our n - 1 degrees of freedom). It can only say ``differs`` when our runs sit far outside the
reported band. A reported number with no ± at all is tested with a one-sample t-test on our runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

# Spread kinds (ali_bench.paper.SPREADS) that, with n, give an exact sample std.
EXACT = ("std", "population_std", "std_ddof_unknown", "sem", "3std")


@dataclass(frozen=True)
class Summary:
    """mean ± spread over n runs; ``kind`` is a key of ``ali_bench.paper.SPREADS``."""

    mean: float
    spread: float | None
    kind: str
    n: int | None


@dataclass(frozen=True)
class Test:
    """One test's outcome: ``p_value`` < alpha means the two means differ."""

    p_value: float
    description: str


def sample_std(summary: Summary) -> float | None:
    """The sample standard deviation (ddof=1) behind ``summary``'s ±, at its widest reading where the
    kind leaves a choice; None when it cannot be had (no ±, or a kind that needs an n not given)."""
    pm, n, kind = summary.spread, summary.n, summary.kind
    if pm is None or kind == "none" or not math.isfinite(pm):
        return None
    if kind == "std":
        return pm
    if kind in ("population_std", "std_ddof_unknown"):  # ddof unknown: the population reading is the wider
        return pm * math.sqrt(n / (n - 1)) if n and n > 1 else (pm if kind == "std_ddof_unknown" else None)
    if kind == "sem":
        return pm * math.sqrt(n) if n else None
    if kind == "3std":
        return pm / 3
    if kind in ("1_or_3_std", "unknown"):
        return pm  # one std is the wider of the two readings
    raise ValueError(f"unknown spread kind {kind!r}")


def _p_two_sided(t: float, df: float) -> float:
    return float(2 * stats.t.sf(abs(t), df))


def _no_spread(difference: float) -> Test:
    return Test(1.0 if difference == 0 else 0.0, "no spread on either side: equal means or not")


def compare_means(measured: Summary, reported: Summary) -> Test:
    """The test the rule picks for these two summaries (measured.n >= 2 is the caller's to ensure)."""
    difference = measured.mean - reported.mean
    s1, n1 = sample_std(measured), measured.n
    if s1 is None or not n1 or n1 < 2:
        raise ValueError("the measured side needs a spread and at least 2 runs")
    s2 = sample_std(reported)
    if s2 is not None and reported.n and reported.n >= 2 and reported.kind in EXACT:
        v1, v2 = s1 * s1 / n1, s2 * s2 / reported.n
        if v1 + v2 == 0:
            return _no_spread(difference)
        t = difference / math.sqrt(v1 + v2)
        df = (
            (v1 + v2) ** 2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (reported.n - 1))
            if v1 * v2 > 0
            else (n1 - 1 if v1 else reported.n - 1)
        )
        p = _p_two_sided(t, df)
        return Test(p, f"Welch t = {t:.2f}, df = {df:.1f}, p = {p:.3g}")
    if s2 is not None:
        variance = s2 * s2 + s1 * s1 / n1
        if variance == 0:
            return _no_spread(difference)
        t = difference / math.sqrt(variance)
        p = _p_two_sided(t, n1 - 1)
        why = "its n is not published" if not reported.n else "its kind of spread is not stated"
        return Test(p, f"reported +- read as one run's std ({why}): t = {t:.2f}, df = {n1 - 1}, p = {p:.3g}")
    if s1 == 0:
        return _no_spread(difference)
    t = difference / (s1 / math.sqrt(n1))
    p = _p_two_sided(t, n1 - 1)
    return Test(p, f"one-sample t = {t:.2f}, df = {n1 - 1}, p = {p:.3g} (no reported spread)")
