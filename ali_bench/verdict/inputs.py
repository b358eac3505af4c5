"""What each judged result table must hold for the verdict to read it (``ali_bench/table_inputs.py``):
the columns ``comparisons.py`` reads, their types, and one row per table key.

Declared here rather than taken from the stages that write the tables: the verdict reads their
output files and imports no stage (tests/tools/test_architecture.py). Measured columns a table may lack
(an older step's file, a single seed's empty std) are optional or may be empty; ``comparisons.py``
then says the number was not measured.
"""

from __future__ import annotations

import dataclasses

from ali_bench.data.registry import svm_tables
from ali_bench.table_inputs import Column, Spec


def _measured(*names: str) -> tuple[Column, ...]:
    """Measured statistics: numbers, empty where the table has none (one run has no std)."""
    return tuple(Column(name, missing_ok=True, required=False) for name in names)


_PACGAN = [f"pacgan_{name}_{stat}" for name in ("modes", "high_quality_pct", "reverse_kl") for stat in ("mean", "sem")]

_SVM = Spec(  # one per dataset's L2-SVM table, each naming its own rule
    "SVM result table",
    (
        Column("feature_set", "string"),
        Column("feature_dim", "integer", low=1),
        Column("sampling", "string"),
        Column("labels_per_svm", "integer", low=1),
        Column("n_svms", "integer", low=1),
        Column("test_examples", "integer", low=1),
        *_measured("test_error_mean_pct", "test_error_std_pct"),
    ),
    key=("feature_set",),
    key_name="feature set",
    rebuild="rule svhn_table",
)

SPECS = {
    "toy_table": Spec(
        "toy table",
        (
            Column("model", "string"),
            Column("hyperparameter_set", "string"),
            Column("runs", "integer", low=1),
            *_measured("modes_mean", "modes_std", *_PACGAN),
        ),
        key=("model", "hyperparameter_set"),
        key_name="row",
        rebuild="rule toy_table",
    ),
    **{table: dataclasses.replace(_SVM, rebuild=f"rule {table}") for table in svm_tables()},
    "semisup_table": Spec(
        "semi-supervised table",
        (
            Column("dataset", "string"),
            Column("labels", "integer", low=1),
            Column("model", "string"),
            Column("seeds", "integer", low=1),
            Column("epochs", "integer", low=1),
            *_measured("test_error_mean_pct", "test_error_std_pct"),
        ),
        key=("dataset", "labels", "model"),
        key_name="row",
        rebuild="rule semisup_table",
    ),
}
