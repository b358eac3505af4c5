"""The toy table: modes covered per (model, hyperparameter set), each reporter's protocol in its own
columns with its reported numbers beside: the ALI paper's (Sec. 4.5) for the random rows, PacGAN's
rerun of ALI's code (its Table 1) for the released rows (``ali_bench/paper.py``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ali_bench.paper import PACGAN_HIGH_QUALITY_PCT, PACGAN_REVERSE_KL, TOY_MODES, Reported
from ali_bench.table_inputs import Column, Spec

NAN = float("nan")


def coverage_spec(n_modes: int | None) -> Spec:
    """What ``toy/coverage.csv`` (toy-evaluate, one row per run) must hold for the table to be built
    from it: mode counts within the mixture's ``n_modes`` (no upper bound when not recorded),
    shares within 0-1, KLs non-negative (inf: no high-quality sample), each run once."""
    modes = {"kind": "integer", "low": 0, "high": n_modes}
    share = {"low": 0, "high": 1}
    return Spec(
        "toy coverage table",
        (
            Column("model", "string", choices=("ali", "gan")),
            Column("hyperparameter_set", "string", choices=("random", "released")),
            Column("seed", "integer", low=0),
            Column("epochs", "integer", low=1),
            Column("lr", low=0, low_open=True, required=False),
            Column("beta1", low=0, high=1, required=False),
            Column("init_std", low=0, low_open=True, required=False),
            Column("modes", **modes),
            Column("modes_high_quality", **modes),
            Column("high_quality_share", **share),
            Column("reverse_kl", low=0, infinite_ok=True),
            Column("finite_share", **share, required=False),
            Column("pacgan_modes", **modes, required=False),  # absent from an older toy-evaluate's file
            Column("pacgan_high_quality_share", **share, required=False),
            Column("pacgan_reverse_kl", low=0, infinite_ok=True, required=False),
            Column("diverged_epoch", "integer", low=0, missing_ok=True),
        ),
        key=("model", "hyperparameter_set", "seed"),
        rebuild="rule toy_evaluate",
    )


def mixture_modes(coverage_config: dict) -> int | None:
    """The number of mixture components the coverage was counted against, from the settings its
    provenance records (``config.trained.<set>.mixture.grid``, a square grid); None if none is recorded."""
    for trained in (coverage_config.get("trained") or {}).values():
        grid = ((trained or {}).get("mixture") or {}).get("grid")
        if isinstance(grid, list) and grid:
            return len(grid) ** 2
    return None


def _std(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else NAN


def _sem(values: pd.Series) -> float:
    return _std(values) / np.sqrt(len(values)) if len(values) > 1 else NAN


def _column(runs: pd.DataFrame, name: str, scale: float = 1.0) -> pd.Series:
    """A per-run column as floats; all NaN when the coverage file predates it (an older toy-evaluate)."""
    return runs[name].astype(float) * scale if name in runs else pd.Series([NAN] * len(runs), dtype=float)


def _reported(prefix: str, reported: Reported | None) -> dict:
    return {f"{prefix}_mean": reported.mean if reported else NAN, f"{prefix}_se": reported.pm if reported else NAN}


def toy_table(coverage: pd.DataFrame) -> pd.DataFrame:
    """Per (model, hyperparameter set): modes covered over the runs, with the reported numbers beside.

    ``modes_*`` follow the ALI paper (the ``n_samples`` samples, a mode covered by any sample);
    ``modes_std`` is the sample standard deviation (ddof=1) and ``modes_sem`` the standard error, so
    both kinds of published ± have a measured counterpart. ``pacgan_*`` follow PacGAN (its own
    ``pacgan_n_samples`` samples, modes with a high-quality sample, high-quality share in percent,
    reverse KL), mean and standard error over the runs as PacGAN reports them.
    """
    rows = []
    for (model, hset), runs in coverage.groupby(["model", "hyperparameter_set"], sort=False):
        modes = runs["modes"].astype(float)
        paper = TOY_MODES.get((model, hset)) if hset == "random" else None
        pacgan = TOY_MODES.get((model, hset)) if hset == "released" else None
        pacgan_columns = {}
        for name, values in (
            ("pacgan_modes", _column(runs, "pacgan_modes")),
            ("pacgan_high_quality_pct", _column(runs, "pacgan_high_quality_share", 100)),
            ("pacgan_reverse_kl", _column(runs, "pacgan_reverse_kl")),
        ):
            pacgan_columns.update({f"{name}_mean": float(values.mean()), f"{name}_sem": _sem(values)})
        rows.append(
            {
                "model": model.upper(),
                "hyperparameter_set": hset,
                "runs": len(runs),
                "epochs": int(runs["epochs"].iloc[0]),
                "modes_mean": modes.mean(),
                "modes_std": _std(modes),
                "modes_sem": _sem(modes),
                "modes_min": int(modes.min()),
                "modes_max": int(modes.max()),
                "modes_high_quality_mean": runs["modes_high_quality"].mean(),
                "high_quality_share_mean": runs["high_quality_share"].mean(),
                "reverse_kl_median": runs["reverse_kl"].median(),
                **pacgan_columns,
                "diverged_runs": int(runs["diverged_epoch"].notna().sum()),
                "paper_modes_mean": paper.mean if paper else NAN,
                "paper_modes_pm": paper.pm if paper else NAN,
                "paper_pm_is": paper.pm_is if paper else "",
                "paper_modes_min": paper.minimum if paper and paper.minimum is not None else NAN,
                "paper_modes_max": paper.maximum if paper and paper.maximum is not None else NAN,
                "paper_source": paper.source if paper else "",
                **_reported("paper_pacgan_modes", pacgan),
                **_reported("paper_pacgan_high_quality_pct", PACGAN_HIGH_QUALITY_PCT.get(model) if pacgan else None),
                **_reported("paper_pacgan_reverse_kl", PACGAN_REVERSE_KL.get(model) if pacgan else None),
                "paper_pacgan_source": pacgan.source if pacgan else "",
            }
        )
    return pd.DataFrame(rows)


def toy_table_title(n_modes: int | None) -> str:
    """The Markdown title, with the mixture's component count as its provenance records it."""
    return f"Toy {n_modes}-Gaussian mixture: modes covered" if n_modes else "Toy Gaussian mixture: modes covered"


def toy_table_notes(coverage_settings: dict, n_modes: int | None = None) -> list[str]:
    """The Markdown table's notes, with the sample counts, radius and mode count the coverage was
    scored with (from its provenance: what ran, not the defaults)."""
    n, n_pacgan = coverage_settings.get("n_samples"), coverage_settings.get("pacgan_n_samples")
    radius = coverage_settings.get("high_quality_stds")

    def count(value) -> str:
        return f"{value:,}" if isinstance(value, int) else "(not recorded)"

    of_modes = f" of the mixture's {n_modes:,}" if n_modes else ""
    return [
        f"ALI paper protocol (random rows; paper_* columns, its Sec. 4.5): modes_* count the modes{of_modes} that received at least "
        f"one of {count(n)} p(x) samples per run (highest responsibility); modes_std is the sample std (ddof=1), "
        "modes_sem the standard error; the paper does not say which std it printed.",
        f"On the same samples: modes_high_quality, high_quality_share and reverse_kl count only samples within {radius:g} std "
        "of their assigned mean (the VEEGAN/PacGAN convention)."
        if radius is not None
        else "modes_high_quality, high_quality_share and reverse_kl count only high-quality samples (VEEGAN/PacGAN convention).",
        f"PacGAN protocol (released rows; paper_pacgan_* columns, PacGAN Table 1, 2D-grid): pacgan_* score {count(n_pacgan)} "
        "samples per run drawn from a stream of their own: modes with at least one high-quality sample, the "
        "high-quality share in percent, the reverse KL of the high-quality mode histogram to uniform; mean and "
        "standard error (_sem) over the runs, as PacGAN reports (_se).",
        "paper_* columns are reported numbers, never computed here; paper_source and paper_pacgan_source name where each "
        "was printed. Whether each pair is comparable, and the verdict: verdict.md.",
    ]
