"""The L2-SVM table: one row per feature set, in percent, the paper's Table 1 numbers beside (SVHN only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ali_bench.paper import SVHN_ALI_L2SVM, SVHN_DCGAN_L2SVM
from ali_bench.table_inputs import Column, Spec
from ali_bench.trained_with import IMAGE_DATASETS

# What one feature set's summary (the svm command's JSON) must hold for the table: errors as
# fractions, a positive C (its log is a column), counts of at least one, each feature set once.
RESULT_SPEC = Spec(
    "SVM result file",
    (
        Column("dataset", "string", choices=IMAGE_DATASETS),
        Column("feature_set", "string", choices=("paper", "released-code", "pixels")),
        Column("feature_dim", "integer", low=1),
        Column("sampling", "string", choices=("balanced", "random")),
        Column("labels_per_svm", "integer", low=1),
        Column("n_svms", "integer", low=1),
        Column("chosen_c", low=0, low_open=True),
        Column("validation_error", low=0, high=1),
        Column("test_errors", "numbers", low=0, high=1),
        Column("test_examples", "integer", low=1),
        Column("validation_examples", "integer", low=1),
        Column("unconverged", "integer", low=0),
        Column("wall_time_s", low=0),
    ),
    key=("dataset", "feature_set"),
    key_name="feature set",
    rebuild="rule svm",
)


def svm_table_notes(results: list[dict], dataset: str, width: float, c_grid: tuple[float, float, int]) -> list[str]:
    """The Markdown notes: every count and dimension from the summaries (what ran), the C grid
    (low, high, count of exp(linspace)) and the encoder's width from the config the table was built with."""
    first = results[0]
    n_svms = ", ".join(f"{n:,}" for n in sorted({r["n_svms"] for r in results}))
    dims = {r["feature_set"]: f"{r['feature_dim']:,}-d" for r in results}
    parts = {
        "paper": "paper: our construction of the paper's features (conv4 BN + conv4 activation + conv5 BN + mu)",
        "released-code": "released-code: mu + BN outputs of conv4, conv5, conv6",
        "pixels": "pixels: the raw images",
    }
    width_text = "the paper's width" if width == 1 else f"{width:g} x the paper's width"
    return [
        f"Each SVM: scikit-learn LinearSVC (squared hinge = L2-SVM), no feature scaling, {first['labels_per_svm']:,} "
        f"{first['sampling']} labels; C chosen among exp(linspace({c_grid[0]:g}, {c_grid[1]:g}, {c_grid[2]})) "
        f"on {first['validation_examples']:,} validation examples.",
        f"test_error_*: mean and population std over {n_svms} SVMs on fresh training sets, each scored on "
        f"all {first['test_examples']:,} test examples: the spread over label draws for this one trained encoder, "
        "the protocol of the paper's Table 1 +- (experiments/semi_supervised_svhn.py), not a spread over training seeds.",
        "; ".join(f"{parts[name]}, {dim}" for name, dim in dims.items() if name in parts)
        + f". Encoder at {width_text} ({dataset} images); feature_dim is what ran.",
    ]


def svm_table(results: list[dict], with_paper: bool) -> pd.DataFrame:
    """One row per feature set: the protocol's numbers in percent, the paper's beside (SVHN only)."""
    rows = []
    for r in results:
        row = {
            "feature_set": r["feature_set"],
            "feature_dim": r["feature_dim"],
            "sampling": r["sampling"],
            "labels_per_svm": r["labels_per_svm"],
            "n_svms": r["n_svms"],
            "chosen_C": r["chosen_c"],
            "log_C": float(np.log(r["chosen_c"])),
            "validation_error_pct": 100 * r["validation_error"],
            "test_error_mean_pct": 100 * float(np.mean(r["test_errors"])),
            "test_error_std_pct": 100 * float(np.std(r["test_errors"])),  # population std, as the released code
            "test_examples": r["test_examples"],
            "unconverged_fits": r["unconverged"],
        }
        if with_paper:
            row.update(
                {
                    "paper_ali_error_pct": SVHN_ALI_L2SVM.mean,
                    "paper_ali_pm_pct": SVHN_ALI_L2SVM.pm,
                    "paper_pm_is": SVHN_ALI_L2SVM.pm_is,
                    "paper_dcgan_l2svm_error_pct": SVHN_DCGAN_L2SVM.mean,
                    "paper_source": SVHN_ALI_L2SVM.source,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)
