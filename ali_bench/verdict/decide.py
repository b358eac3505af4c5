"""The verdict of one comparison, in a fixed order: a number only quoted is ``not measured``; then a
protocol difference makes it ``not comparable`` (whatever the numbers say, so a mismatch is never
hidden by ``consistent``); then fewer runs than ``min_runs`` is ``too few runs``; only then does the
test of ``statistics.compare_means`` decide between ``consistent`` and ``differs``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ali_bench.config import VerdictConfig
from ali_bench.verdict.comparisons import Comparison
from ali_bench.verdict.protocol import differences
from ali_bench.verdict.statistics import Summary, compare_means

VERDICTS = ("consistent", "differs", "too few runs", "not comparable", "not measured")


@dataclass(frozen=True)
class Judgement:
    verdict: str  # one of VERDICTS
    reason: str
    test: str = ""
    p_value: float = float("nan")
    difference: float = float("nan")  # measured mean - reported mean


def judge(comparison: Comparison, thresholds: VerdictConfig) -> Judgement:
    reported = comparison.reported
    measured = comparison.measured
    if measured is None:
        return Judgement("not measured", comparison.not_measured)
    blocking = differences(comparison.fields, blocking=True)
    if blocking:
        return Judgement("not comparable", "; ".join(blocking))
    difference = measured.mean - reported.mean
    if measured.n < thresholds.min_runs:
        return Judgement(
            "too few runs",
            f"{measured.n} runs; the rule needs at least {thresholds.min_runs} (config key verdict.min_runs)",
            difference=difference,
        )
    if not math.isfinite(measured.mean):
        return Judgement(
            "differs",
            f"the measured mean is {measured.mean} (a run without any high-quality sample has an infinite reverse KL)",
            "non-finite measured mean",
            0.0,
            difference,
        )
    test = compare_means(measured, Summary(reported.mean, reported.pm, reported.spread, reported.n))
    if test.p_value < thresholds.alpha:
        direction = "higher" if difference > 0 else "lower"
        relative = (
            f", {100 * abs(difference) / abs(reported.mean):.0f} % of the reported value" if reported.mean else ""
        )
        return Judgement(
            "differs",
            f"{direction} by {abs(difference):.3g}{relative}: p < {thresholds.alpha:g}",
            test.description,
            test.p_value,
            difference,
        )
    return Judgement(
        "consistent",
        f"p >= {thresholds.alpha:g}: no difference shown at this n",
        test.description,
        test.p_value,
        difference,
    )
