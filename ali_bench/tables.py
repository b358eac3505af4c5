"""Result tables: pandas frames written as CSV (the data) and Markdown (for reading), atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ali_bench.atomic import atomic_path, write_text
from ali_bench.paper import TOY_MODES


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_markdown(frame: pd.DataFrame, path: str | Path, title: str, notes: list[str]) -> None:
    """The table as aligned Markdown (tabulate's pipe format, through pandas), with a title and notes
    on how to read it. Floats show 4 significant digits; missing values are empty cells."""
    table = frame.astype(object).where(frame.notna(), None).to_markdown(index=False, floatfmt=".4g", missingval="")
    text = "\n".join([f"# {title}", "", table, "", *[f"- {note}" for note in notes], ""])
    write_text(path, text)


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


def toy_inference_table(metrics: pd.DataFrame, selection: dict) -> pd.DataFrame:
    """Our numbers per method, with the run each builds on and the paper's qualitative claim beside."""
    from ali_bench.paper import TOY_INFERENCE_CLAIMS, TOY_INFERENCE_SOURCE

    table = metrics.copy()
    table.insert(2, "built_on", [selection["ali"]["run"] if m == "ali" else (selection["gan"]["run"] if m != "vae" else "")
                                 for m in table["method"]])
    table["paper_claim"] = [TOY_INFERENCE_CLAIMS[m] for m in table["method"]]
    table["paper_source"] = TOY_INFERENCE_SOURCE
    return table


def svm_table(results: list[dict], with_paper: bool) -> pd.DataFrame:
    """One row per feature set: the protocol's numbers in percent, the paper's beside (SVHN only)."""
    from ali_bench.paper import SVHN_ALI_L2SVM, SVHN_DCGAN_L2SVM

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


def semisup_table(results: list[dict], statistics: str) -> pd.DataFrame:
    """Per (dataset, labels, model): test error over seeds in percent (std and 3 x std), reported numbers beside.

    The headline columns evaluate the averaged discriminator with the ``statistics`` batch-norm
    statistics (``recomputed`` for the evaluated weights, or ``running``, as trained); beside them,
    the same for the other statistics, without the average, with the posterior mean or prior noise
    in place of the sampled ẑ, and the error on the labelled training set, so that an undertrained
    run shows as one and the encoder's part can be read off.
    """
    from ali_bench.paper import SEMISUP

    if statistics not in ("recomputed", "running"):
        raise ValueError(f"unknown batch-norm statistics {statistics!r}; expected recomputed or running")
    other = "running" if statistics == "recomputed" else "recomputed"

    def pct(runs: pd.DataFrame, weights: str, stats: str, key: str) -> pd.Series:
        return pd.Series([100 * run["evaluations"][weights][stats][key] for run in runs["run"]], dtype=float)

    frame = pd.DataFrame({"dataset": [r["dataset"] for r in results], "n_labels": [r["n_labels"] for r in results],
                          "model": [r["model"] for r in results], "run": results})
    rows = []
    for (dataset, labels, model), runs in frame.groupby(["dataset", "n_labels", "model"], sort=False):
        errors = pct(runs, "averaged", statistics, "test_error_sampled")
        std = errors.std(ddof=1) if len(runs) > 1 else float("nan")
        first = runs["run"].iloc[0]
        reported = SEMISUP.get((dataset, int(labels))) if model == "ALI K+1" else None
        rows.append({
            "dataset": dataset, "labels": int(labels), "model": model, "seeds": len(runs),
            "epochs": int(first["epochs"]), "steps": int(first.get("steps", first["epochs"] * first["steps_per_epoch"])),
            "d_batchnorm": first.get("d_batchnorm", "joint"), "bn_statistics": statistics,
            "test_error_mean_pct": errors.mean(), "test_error_std_pct": std,
            "test_error_3std_pct": 3 * std, "test_error_min_pct": errors.min(), "test_error_max_pct": errors.max(),
            "train_error_mean_pct": pct(runs, "averaged", statistics, "train_error").mean(),
            f"test_error_{other}_bn_mean_pct": pct(runs, "averaged", other, "test_error_sampled").mean(),
            "test_error_no_average_mean_pct": pct(runs, "live", statistics, "test_error_sampled").mean(),
            "test_error_posterior_mean_mean_pct": pct(runs, "averaged", statistics, "test_error_posterior_mean").mean(),
            "test_error_prior_z_mean_pct": pct(runs, "averaged", statistics, "test_error_prior").mean(),
            "paper_ali_error_pct": reported[0].mean if reported else float("nan"),
            "paper_ali_pm_pct": reported[0].pm if reported else float("nan"),
            "paper_ali_pm_is": reported[0].pm_is if reported else "",
            "paper_gan_fm_error_pct": reported[1].mean if reported else float("nan"),
            "paper_gan_fm_pm_pct": reported[1].pm if reported else float("nan"),
            "paper_source": reported[0].source if reported else "",
        })
    return pd.DataFrame(rows)
