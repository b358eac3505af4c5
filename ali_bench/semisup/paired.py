"""Paired comparisons of the semi-supervised models, seed by seed.

A seed draws one labelled subset (``settings.balanced_labels``) and every model of that seed trains
on it, so the models' errors on one seed share the luck of the draw: which 10 images per class were
labelled moves all three together. Differences taken seed by seed cancel that shared part, and a
paired test on them can see a gain that the unpaired spread over seeds hides. Each pair is a model
that learns from unlabelled images against the supervised-only baseline, then the semi-supervised
models against each other (``pairs``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ali_bench.semisup.models import MODELS
from ali_bench.table_inputs import TableInputError

CONFIDENCE = 0.95


def pairs(models: list[str]) -> list[tuple[str, str]]:
    """(model, reference) pairs among ``models``, in registry order: each semi-supervised model
    against each baseline (a model that does not learn from unlabelled images), then the
    semi-supervised models against each other."""
    ordered = [name for name in MODELS if name in models]
    learners = [name for name in ordered if MODELS[name].learns_from_unlabelled]
    baselines = [name for name in ordered if not MODELS[name].learns_from_unlabelled]
    against_baseline = [(m, b) for m in learners for b in baselines]
    among = [(a, b) for i, a in enumerate(learners) for b in learners[i + 1 :]]
    return against_baseline + among


def paired_difference(a: np.ndarray, b: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean of a − b over the pairs, its t confidence interval and the two-sided paired t-test's p
    (NaN with fewer than two pairs, or when every difference is the same and the t is undefined)."""
    differences = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(differences)
    mean = float(differences.mean()) if n else float("nan")
    if n < 2:
        return {"difference_mean_pct": mean, "ci_low_pct": np.nan, "ci_high_pct": np.nan, "p_value": np.nan}
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * differences.std(ddof=1) / np.sqrt(n))
    p = float(stats.ttest_rel(a, b).pvalue) if differences.std(ddof=1) > 0 else float("nan")
    return {"difference_mean_pct": mean, "ci_low_pct": mean - half, "ci_high_pct": mean + half, "p_value": p}


def check_paired(runs: pd.DataFrame) -> None:
    """Refuse runs of one (dataset, labels, seed) trained on different labelled subsets: they are not
    pairs (a result written by other code, or a seed's subset drawn another way)."""
    for (dataset, labels, seed), group in runs.groupby(["dataset", "labels", "seed"]):
        subsets = {tuple(r.get("labelled_indices", ())) for r in group["run"]} - {()}
        if len(subsets) > 1:
            raise TableInputError(
                f"semi-supervised runs of {dataset}, {labels} labels, seed {seed} were trained on different "
                f"labelled subsets ({', '.join(sorted(group['model']))}): they cannot be compared pair by pair; "
                "retrain them with rule semisup_run"
            )


def paired_table(results: list[dict], error) -> pd.DataFrame:
    """Per (dataset, labels) and model pair: the seeds both trained, each model's mean error, the mean
    per-seed difference (model − reference, negative: the model errs less) with its 95 % interval and
    paired t-test, and on how many seeds the model erred less. ``error(run)``: a run's headline test
    error in percent (the table's)."""
    runs = pd.DataFrame(
        {
            "dataset": [r["dataset"] for r in results],
            "labels": [int(r["n_labels"]) for r in results],
            "seed": [int(r["seed"]) for r in results],
            "model": [r["model"] for r in results],
            "error": [error(r) for r in results],
            "run": results,
        }
    )
    check_paired(runs)
    rows = []
    for (dataset, labels), group in runs.groupby(["dataset", "labels"], sort=False):
        by_model = {model: g.set_index("seed")["error"] for model, g in group.groupby("model")}
        for model, reference in pairs(list(by_model)):
            seeds = sorted(set(by_model[model].index) & set(by_model[reference].index))
            a, b = by_model[model].loc[seeds].to_numpy(), by_model[reference].loc[seeds].to_numpy()
            rows.append(
                {
                    "dataset": dataset,
                    "labels": labels,
                    "model": model,
                    "reference": reference,
                    "seeds": len(seeds),
                    "model_error_mean_pct": float(a.mean()),
                    "reference_error_mean_pct": float(b.mean()),
                    **paired_difference(a, b),
                    "model_lower_on": int((a < b).sum()),
                }
            )
    return pd.DataFrame(rows)
