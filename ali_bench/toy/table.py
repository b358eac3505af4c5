"""The toy table: modes covered per (model, hyperparameter set), the reported numbers beside
(the ALI paper's Sec. 4.5 and PacGAN's rerun of its code, ``ali_bench/paper.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ali_bench.paper import TOY_MODES


def toy_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per (model, hyperparameter set): modes covered over the runs, with the reported numbers beside.

    ``modes_std`` is the sample standard deviation (ddof=1) and ``modes_sem`` the standard error, so
    both kinds of published ± have a measured counterpart.
    """
    rows = []
    for (model, hset), runs in coverage.groupby(["model", "hyperparameter_set"], sort=False):
        modes = runs["modes"].astype(float)
        reported = TOY_MODES.get((model, hset))
        rows.append({
            "model": model.upper(),
            "hyperparameter_set": hset,
            "runs": len(runs),
            "epochs": int(runs["epochs"].iloc[0]),
            "modes_mean": modes.mean(),
            "modes_std": modes.std(ddof=1) if len(runs) > 1 else float("nan"),
            "modes_sem": modes.std(ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else float("nan"),
            "modes_min": int(modes.min()),
            "modes_max": int(modes.max()),
            "modes_high_quality_mean": runs["modes_high_quality"].mean(),
            "high_quality_share_mean": runs["high_quality_share"].mean(),
            "reverse_kl_median": runs["reverse_kl"].median(),
            "diverged_runs": int(runs["diverged_epoch"].notna().sum()),
            "paper_modes_mean": reported.mean if reported else float("nan"),
            "paper_modes_pm": reported.pm if reported else float("nan"),
            "paper_pm_is": reported.pm_is if reported else "",
            "paper_modes_min": reported.minimum if reported and reported.minimum is not None else float("nan"),
            "paper_modes_max": reported.maximum if reported and reported.maximum is not None else float("nan"),
            "paper_source": reported.source if reported else "",
        })
    return pd.DataFrame(rows)
