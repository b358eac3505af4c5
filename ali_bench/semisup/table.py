"""The semi-supervised table: test error over seeds per (dataset, labels, model), the paper's Tables 1-2 beside."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ali_bench.paper import SEMISUP
from ali_bench.semisup.models import MODELS, NAMES
from ali_bench.table_inputs import Column, Spec, TableInputError
from ali_bench.trained_with import SEMISUP_DATASETS

ERRORS = ("test_error_sampled", "train_error")
LATENT_ERRORS = ("test_error_posterior_mean", "test_error_prior")  # models with an encoder only (not gan-fm)

# A run's identity: read first, so that the config check (semisup/settings.py) can name the run.
RUN_KEY = (
    Column("dataset", "string", choices=SEMISUP_DATASETS),
    Column("n_labels", "integer", low=1),
    Column("seed", "integer", low=0),
    Column("model", "string", choices=NAMES),
)


def result_spec(statistics: str, identity_only: bool = False) -> Spec:
    """What one run's result file (semisup-train's JSON) must hold for the table: its identity, one
    file per (dataset, labels, seed, model), and every error the table reads, as fractions in 0-1."""
    other = "running" if statistics == "recomputed" else "recomputed"
    errors = [Column(f"evaluations.averaged.{statistics}.{key}", low=0, high=1) for key in ERRORS]
    errors += [
        Column(f"evaluations.averaged.{statistics}.{key}", low=0, high=1, required=False) for key in LATENT_ERRORS
    ]
    errors += [
        Column(f"evaluations.averaged.{other}.test_error_sampled", low=0, high=1),
        Column(f"evaluations.live.{statistics}.test_error_sampled", low=0, high=1),
    ]
    rest = (
        Column("epochs", "integer", low=1),
        Column("steps", "integer", low=1, required=False),
        Column("steps_per_epoch", "integer", low=1),
        Column("d_batchnorm", "string", required=False),
        Column("wall_time_s", low=0),
        Column("device", "string", required=False),
        *errors,
    )
    return Spec(
        "semi-supervised result file",
        RUN_KEY if identity_only else (*RUN_KEY, *rest),
        key=("dataset", "n_labels", "seed", "model"),
        rebuild="rule semisup_run",
    )


def check_distinct_runs(paths: list[Path]) -> None:
    """Refuse a result file that repeats another under a new seed label (a copy with its ``seed`` edited).

    Two trainings of different seeds draw different labelled subsets, so two files whose contents
    agree in everything but ``seed`` (labelled indices, every error, the wall time) are one run counted
    twice: it would narrow the std and add a seed that was never trained. Files without recorded
    labelled indices (written by hand) are not compared."""
    seen: dict[str, Path] = {}
    for path in paths:
        record = json.loads(Path(path).read_text())
        if "labelled_indices" not in record:
            continue
        fingerprint = json.dumps({k: v for k, v in record.items() if k != "seed"}, sort_keys=True)
        if fingerprint in seen:
            raise TableInputError(
                f"semi-supervised result files '{seen[fingerprint]}' and '{path}' are the same run under two seed "
                "labels (identical labelled indices, errors and wall time); pass each trained run once"
            )
        seen[fingerprint] = Path(path)


def semisup_table(results: list[dict], statistics: str) -> pd.DataFrame:
    """Per (dataset, labels, model): test error over seeds in percent (std and 3 x std), reported numbers beside.

    The headline columns evaluate the averaged discriminator with the ``statistics`` batch-norm
    statistics (``recomputed`` for the evaluated weights, or ``running``, as trained); beside them,
    the same for the other statistics, without the average, with the posterior mean or prior noise
    in place of the sampled ẑ, and the error on the labelled training set, so that an undertrained
    run shows as one and the encoder's part can be read off.
    """
    if statistics not in ("recomputed", "running"):
        raise ValueError(f"unknown batch-norm statistics {statistics!r}; expected recomputed or running")
    other = "running" if statistics == "recomputed" else "recomputed"

    def pct(runs: pd.DataFrame, weights: str, stats: str, key: str) -> pd.Series:
        """In percent; NaN for an evaluation a model does not have (gan-fm's D sees no z)."""
        return pd.Series(
            [100 * run["evaluations"][weights][stats].get(key, float("nan")) for run in runs["run"]], dtype=float
        )

    frame = pd.DataFrame(
        {
            "dataset": [r["dataset"] for r in results],
            "n_labels": [r["n_labels"] for r in results],
            "model": [r["model"] for r in results],
            "run": results,
        }
    )
    rows = []
    for (dataset, labels, model), runs in frame.groupby(["dataset", "n_labels", "model"], sort=False):
        errors = pct(runs, "averaged", statistics, "test_error_sampled")
        std = errors.std(ddof=1) if len(runs) > 1 else float("nan")
        first = runs["run"].iloc[0]
        reported = SEMISUP.get((dataset, int(labels))) if MODELS[model].paper_number else None
        rows.append(
            {
                "dataset": dataset,
                "labels": int(labels),
                "model": model,
                "seeds": len(runs),
                "epochs": int(first["epochs"]),
                "steps": int(first.get("steps", first["epochs"] * first["steps_per_epoch"])),
                # gan-fm's D is weight-normalised whatever semisup.d_batchnorm says (improved-GAN's D has no batch norm)
                "d_batchnorm": "weightnorm" if not MODELS[model].encoder else first.get("d_batchnorm", "joint"),
                "bn_statistics": statistics,
                "test_error_mean_pct": errors.mean(),
                "test_error_std_pct": std,
                "test_error_3std_pct": 3 * std,
                "test_error_min_pct": errors.min(),
                "test_error_max_pct": errors.max(),
                "train_error_mean_pct": pct(runs, "averaged", statistics, "train_error").mean(),
                f"test_error_{other}_bn_mean_pct": pct(runs, "averaged", other, "test_error_sampled").mean(),
                "test_error_no_average_mean_pct": pct(runs, "live", statistics, "test_error_sampled").mean(),
                "test_error_posterior_mean_mean_pct": pct(
                    runs, "averaged", statistics, "test_error_posterior_mean"
                ).mean(),
                "test_error_prior_z_mean_pct": pct(runs, "averaged", statistics, "test_error_prior").mean(),
                "paper_ali_error_pct": reported[0].mean if reported else float("nan"),
                "paper_ali_pm_pct": reported[0].pm if reported else float("nan"),
                "paper_ali_pm_is": reported[0].pm_is if reported else "",
                "paper_gan_fm_error_pct": reported[1].mean if reported else float("nan"),
                "paper_gan_fm_pm_pct": reported[1].pm if reported else float("nan"),
                "paper_source": reported[0].source if reported else "",
            }
        )
    return pd.DataFrame(rows)
