"""The verdict table: one row per (table, row, reported statistic), as CSV (every field) and as a
Markdown page a person reads first (the verdict and why, then the rule that decided it)."""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd

from ali_bench.config import VerdictConfig
from ali_bench.paper import SPREADS
from ali_bench.verdict.comparisons import Comparison
from ali_bench.verdict.decide import VERDICTS, Judgement
from ali_bench.verdict.protocol import differences, harness_references, unknowns

NAN = float("nan")


def verdict_frame(judged: list[tuple[Comparison, Judgement]]) -> pd.DataFrame:
    rows = []
    for c, j in judged:
        m, r = c.measured, c.reported
        rows.append(
            {
                "table": c.table,
                "row": c.row,
                "statistic": c.statistic,
                "verdict": j.verdict,
                "reason": j.reason,
                "measured_mean": m.mean if m else NAN,
                "measured_spread": m.spread if m and m.spread is not None else NAN,
                "measured_spread_kind": m.kind if m else "",
                "measured_n": m.n if m else NAN,
                "measured_column": c.measured_column,
                "measured_protocol": c.measured_protocol,
                "reported_mean": r.mean,
                "reported_spread": NAN if r.pm is None else r.pm,
                "reported_spread_kind": r.spread,
                "reported_n": NAN if r.n is None else r.n,
                "reported_source": r.source,
                "protocol_differences": "; ".join(differences(c.fields)),
                "protocol_unknown": "; ".join(unknowns(c.fields)),
                "protocol_reference": "; ".join(harness_references(c.fields)),
                "difference": j.difference,
                "test": j.test,
                "p_value": j.p_value,
            }
        )
    columns = [
        "table",
        "row",
        "statistic",
        "verdict",
        "reason",
        "measured_mean",
        "measured_spread",
        "measured_spread_kind",
        "measured_n",
        "measured_column",
        "measured_protocol",
        "reported_mean",
        "reported_spread",
        "reported_spread_kind",
        "reported_n",
        "reported_source",
        "protocol_differences",
        "protocol_unknown",
        "protocol_reference",
        "difference",
        "test",
        "p_value",
    ]
    return pd.DataFrame(rows, columns=columns)


def _number(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def _measured_text(row: pd.Series) -> str:
    if math.isnan(row["measured_mean"]):
        return "–"
    spread = (
        f" ± {_number(row['measured_spread'])} ({row['measured_spread_kind']})"
        if not math.isnan(row["measured_spread"])
        else ""
    )
    return f"{_number(row['measured_mean'])}{spread}, n = {int(row['measured_n'])}"


def _reported_text(row: pd.Series) -> str:
    spread = (
        f" ± {_number(row['reported_spread'])} ({row['reported_spread_kind']})"
        if not math.isnan(row["reported_spread"])
        else ""
    )
    n = "not published" if math.isnan(row["reported_n"]) else f"{int(row['reported_n'])}"
    return f"{_number(row['reported_mean'])}{spread}, n = {n}"


def verdict_markdown(frame: pd.DataFrame, thresholds: VerdictConfig, tables: list[str]) -> str:
    counts = Counter(frame["verdict"])
    summary = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]) or "no reported number in these tables"
    lines = [
        "# Verdict: each reported number against the harness's measurement",
        "",
        f"Tables judged: {', '.join(f'`{t}`' for t in tables) or 'none'}. {summary}.",
        "",
    ]
    if len(frame):
        lines += ["| table | row | statistic | measured | reported | verdict | why |", "|---|---|---|---|---|---|---|"]
        for _, row in frame.iterrows():
            why = row["reason"] + (f" ({row['test']})" if row["test"] else "")
            lines.append(
                f"| {row['table']} | {row['row']} | {row['statistic']} | {_measured_text(row)} | "
                f"{_reported_text(row)} | **{row['verdict']}** | {why.replace('|', '/')} |"
            )
        lines.append("")
    kinds = "; ".join(f"{k}: {v}" for k, v in SPREADS.items())
    lines += [
        "## How each verdict is decided",
        "",
        "In this order, per row:",
        "1. **not measured**: the harness quotes the number but trains nothing that measures it.",
        "2. **not comparable**: our setup differs from the reporter's in a field that changes what is measured "
        "(data or stand-in, network width, training length, hyperparameters, samples scored, labels, evaluation); "
        "every such difference is listed. A field the reporter never published is checked against the "
        "harness's own paper-scale setting (the default config) instead, and `verdict.csv` names it in "
        "`protocol_reference` (reference: harness paper-scale default, reporter unpublished), so a shortened "
        "or narrowed run never reads as a reproduction; a field with neither is listed as unknown "
        "(`protocol_unknown`), never counted as a match.",
        f"3. **too few runs**: fewer than {thresholds.min_runs} measured runs (config key `verdict.min_runs`).",
        f"4. **differs** or **consistent**: a two-sided test at level {thresholds.alpha:g} (config key `verdict.alpha`). "
        "Both sides are turned into (mean, sample std, n). Where the reporter gives its n and what its ± is, "
        "Welch's t-test from the summary statistics decides. Where either is not published, the conservative "
        "rule: the reported ± is read at its widest (as one std) and taken as the spread of a single run, and "
        "our mean, with its standard error, is tested against it (t with our n - 1 degrees of freedom). "
        "`consistent` means no difference was shown at this n, not that the numbers are equal.",
        "",
        f"Kinds of ±: {kinds}.",
        "",
        "A difference in the number of runs is listed but does not block: the test accounts for it. "
        "Every field of every comparison, the test statistic and p-value: `verdict.csv`.",
        "",
    ]
    return "\n".join(lines)
