"""The toy figure: every run's samples over the mixture, the modes it reached marked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ali_bench.data.mixture import GridMixture
from ali_bench.figures import plt, save
from ali_bench.toy.metrics import assign_components

TOY_LIMIT = 6.0  # the paper's x-space axes: [-6, 6]²


def toy_samples(
    coverage: pd.DataFrame,
    samples: dict[str, np.ndarray],
    mixture: GridMixture,
    path: str | Path,
    max_points: int = 2500,
) -> None:
    """One panel per run: its generated samples over the mixture's means, titled with modes covered.

    Rows are (model, hyperparameter set), columns are seeds. Red rings mark the modes that at least
    one of the samples reached (all of them, not only the ones drawn); grey crosses mark dropped modes.
    """
    groups = list(coverage.groupby(["model", "hyperparameter_set"], sort=False))
    seeds = sorted(coverage["seed"].unique())
    fig, axes = plt.subplots(len(groups), len(seeds), figsize=(1.9 * len(seeds), 2.0 * len(groups)), squeeze=False)
    for row, ((model, hset), runs) in enumerate(groups):
        for col, seed in enumerate(seeds):
            ax = axes[row][col]
            ax.set_xlim(-TOY_LIMIT, TOY_LIMIT)
            ax.set_ylim(-TOY_LIMIT, TOY_LIMIT)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            match = runs[runs["seed"] == seed]
            if col == 0:
                ax.set_ylabel(f"{model.upper()}\n{hset} hparams", fontsize=9)
            if match.empty:
                ax.axis("off")
                continue
            run = match.iloc[0]
            points = samples[f"{model}-{hset}-seed{seed}"]
            points = points[np.isfinite(points).all(axis=1)]
            ax.scatter(
                points[:max_points, 0], points[:max_points, 1], s=1.0, alpha=0.35, color="tab:blue", rasterized=True
            )
            reached = np.bincount(assign_components(points, mixture), minlength=mixture.n_components) > 0
            ax.scatter(*mixture.means[reached].T, s=14, facecolors="none", edgecolors="tab:red", linewidths=0.6)
            ax.scatter(*mixture.means[~reached].T, s=14, marker="x", color="0.5", linewidths=0.8)
            ax.set_title(f"seed {seed}: {int(run['modes'])}/{mixture.n_components} modes", fontsize=8)
    n_samples = len(next(iter(samples.values())))
    fig.suptitle(
        f"Toy {mixture.n_components}-Gaussian mixture: {n_samples:,} samples from each run's p(x) "
        f"(first {min(max_points, n_samples):,} drawn)",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, path)
