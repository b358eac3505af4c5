"""Which toy runs the comparison builds on: the best-covering ALI and GAN runs of one hyperparameter set."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ali_bench import sidecar_digest
from ali_bench.atomic import write_text


def select_best(coverage: pd.DataFrame, hyperparameter_set: str) -> dict:
    """The best-covering ALI and GAN runs of one hyperparameter set.

    Most modes first; ties broken by the larger high-quality share, then by the smaller seed.
    """
    chosen = {}
    for model in ("ali", "gan"):
        runs = coverage[(coverage["model"] == model) & (coverage["hyperparameter_set"] == hyperparameter_set)]
        if runs.empty:
            raise ValueError(f"coverage has no {model} run of the {hyperparameter_set!r} hyperparameter set")
        best = runs.sort_values(["modes", "high_quality_share", "seed"], ascending=[False, False, True]).iloc[0]
        chosen[model] = {
            "run": f"{model}-{hyperparameter_set}-seed{int(best['seed'])}",
            "seed": int(best["seed"]),
            "hyperparameter_set": hyperparameter_set,
            "modes": int(best["modes"]),
            "high_quality_share": float(best["high_quality_share"]),
        }
    chosen["rule"] = "most modes, then largest high-quality share, then smallest seed"
    return chosen


def write_selection(path: str | Path, selection: dict) -> None:
    write_text(path, json.dumps(selection, indent=2) + "\n")
    sidecar_digest.record(path)  # toy-infer and toy-inference-evaluate check it (table_inputs.load_json)
