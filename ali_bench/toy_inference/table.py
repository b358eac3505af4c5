"""The toy inference table: each method's numbers, the run it builds on, and the paper's Fig. 8 reading beside."""

from __future__ import annotations

import pandas as pd

from ali_bench.paper import TOY_INFERENCE_CLAIMS, TOY_INFERENCE_SOURCE
from ali_bench.table_inputs import Column, Spec

# What toy-select's selection.json must hold for the evaluation: the chosen run of each model.
SELECTION_SPEC = Spec(
    "toy run selection",
    (
        *(
            column
            for model in ("ali", "gan")
            for column in (
                Column(f"{model}.run", "string"),
                Column(f"{model}.seed", "integer", low=0),
                Column(f"{model}.hyperparameter_set", "string", choices=("random", "released")),
                Column(f"{model}.modes", "integer", low=0, required=False),
                Column(f"{model}.high_quality_share", low=0, high=1, required=False),
            )
        ),
        Column("rule", "string"),
    ),
    key=(),
    rebuild="rule toy_select",
    key_name="selection",
)


def toy_inference_table(metrics: pd.DataFrame, selection: dict) -> pd.DataFrame:
    """Our numbers per method, with the run each builds on and the paper's qualitative claim beside."""
    table = metrics.copy()
    table.insert(
        2,
        "built_on",
        [
            selection["ali"]["run"] if m == "ali" else (selection["gan"]["run"] if m != "vae" else "")
            for m in table["method"]
        ],
    )
    table["paper_claim"] = [TOY_INFERENCE_CLAIMS[m] for m in table["method"]]
    table["paper_source"] = TOY_INFERENCE_SOURCE
    return table
