"""Learning curves of the semi-supervised models: test error against training steps, over seeds.

A table row is where a run ended; the curve says how it got there: whether a model was still
improving when training stopped (too short to judge), whether the semi-supervised models pull
away from the baseline early or late, and how far the averaged weights (what the table reports)
lag the live ones.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ali_bench.figures import plt, save
from ali_bench.semisup.models import MODELS

COLOURS = {"ali": "tab:red", "supervised": "tab:grey", "gan-fm": "tab:blue"}


def curve_frame(results: list[dict], logs: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per logged curve point: the run's identity beside its log row (step, test errors in %)."""
    frames = []
    for result, log in zip(results, logs, strict=True):
        points = log.dropna(subset=["test_error"])
        frames.append(
            pd.DataFrame(
                {
                    "dataset": result["dataset"],
                    "labels": int(result["n_labels"]),
                    "model": result["model"],
                    "seed": int(result["seed"]),
                    "step": points["step"].astype(int),
                    "test_error_pct": 100 * points["test_error"].astype(float),
                    "test_error_live_pct": 100 * points["test_error_live"].astype(float),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def learning_curves(points: pd.DataFrame, path: str | Path) -> None:
    save(build_learning_curves(points), path)


def build_learning_curves(points: pd.DataFrame):
    """One panel per (dataset, labels); per model, the mean over seeds of the averaged weights' test
    error (solid, the band spans the best and worst seed) and of the live weights' (dotted)."""
    panels = list(dict.fromkeys(zip(points["dataset"], points["labels"], strict=True)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (dataset, labels) in zip(axes[0], panels, strict=True):
        panel = points[(points["dataset"] == dataset) & (points["labels"] == labels)]
        for model in [name for name in MODELS if name in set(panel["model"])]:
            runs = panel[panel["model"] == model]
            by_step = runs.groupby("step")
            averaged = by_step["test_error_pct"].agg(["mean", "min", "max"])
            live = by_step["test_error_live_pct"].mean()
            colour = COLOURS.get(model)
            seeds = runs["seed"].nunique()
            label = f"{model} ({seeds} seed{'s' if seeds > 1 else ''})"
            ax.plot(averaged.index, averaged["mean"], color=colour, label=label)
            ax.fill_between(averaged.index, averaged["min"], averaged["max"], color=colour, alpha=0.15, lw=0)
            ax.plot(live.index, live, color=colour, ls=":", lw=1)
        ax.set_title(f"{dataset}, {labels} labels", fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.set_ylabel("test error (%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(
        "Semi-supervised learning curves\naveraged D (solid; band: best to worst seed), live D (dotted)", fontsize=9
    )
    fig.tight_layout()
    return fig
