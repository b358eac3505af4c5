"""The L2-SVM table: one row per feature set, in percent, the paper's Table 1 numbers beside (SVHN only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ali_bench.paper import SVHN_ALI_L2SVM, SVHN_DCGAN_L2SVM


def svm_table(results: list[dict], with_paper: bool) -> pd.DataFrame:
    """One row per feature set: the protocol's numbers in percent, the paper's beside (SVHN only)."""
    rows = []
    for r in results:
        row = {
            "feature_set": r["feature_set"], "feature_dim": r["feature_dim"], "sampling": r["sampling"],
            "labels_per_svm": r["labels_per_svm"], "n_svms": r["n_svms"], "chosen_C": r["chosen_c"],
            "log_C": float(np.log(r["chosen_c"])), "validation_error_pct": 100 * r["validation_error"],
            "test_error_mean_pct": 100 * float(np.mean(r["test_errors"])),
            "test_error_std_pct": 100 * float(np.std(r["test_errors"])),  # population std, as the released code
            "test_examples": r["test_examples"], "unconverged_fits": r["unconverged"],
        }
        if with_paper:
            row.update({
                "paper_ali_error_pct": SVHN_ALI_L2SVM.mean, "paper_ali_pm_pct": SVHN_ALI_L2SVM.pm,
                "paper_pm_is": SVHN_ALI_L2SVM.pm_is, "paper_dcgan_l2svm_error_pct": SVHN_DCGAN_L2SVM.mean,
                "paper_source": SVHN_ALI_L2SVM.source,
            })
        rows.append(row)
    return pd.DataFrame(rows)
