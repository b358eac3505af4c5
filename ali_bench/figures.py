"""Figures, rendered with matplotlib's Agg backend (no display needed) and written atomically."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ali_bench.atomic import atomic_path  # noqa: E402
from ali_bench.data.mixture import GridMixture  # noqa: E402
from ali_bench.toy.metrics import assign_components  # noqa: E402

TOY_LIMIT = 6.0  # the paper's x-space axes: [-6, 6]²


def save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def toy_samples(coverage: pd.DataFrame, samples: dict[str, np.ndarray], mixture: GridMixture, path: str | Path,
                max_points: int = 2500) -> None:
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
            ax.scatter(points[:max_points, 0], points[:max_points, 1], s=1.0, alpha=0.35, color="tab:blue", rasterized=True)
            reached = np.bincount(assign_components(points, mixture), minlength=mixture.n_components) > 0
            ax.scatter(*mixture.means[reached].T, s=14, facecolors="none", edgecolors="tab:red", linewidths=0.6)
            ax.scatter(*mixture.means[~reached].T, s=14, marker="x", color="0.5", linewidths=0.8)
            ax.set_title(f"seed {seed}: {int(run['modes'])}/{mixture.n_components} modes", fontsize=8)
    n_samples = len(next(iter(samples.values())))
    fig.suptitle(f"Toy {mixture.n_components}-Gaussian mixture: {n_samples:,} samples from each run's p(x) "
                 f"(first {min(max_points, n_samples):,} drawn)", fontsize=10)
    fig.tight_layout()
    save(fig, path)


LATENT_LIMIT = 4.0  # the paper's z-space axes: [-4, 4]²
INFERENCE_ROWS = ("held-out data x ~ q(x)", "latent codes ẑ ~ q(z|x)", "reconstructions", "prior samples z ~ p(z)",
                  "generator samples x̃ ~ p(x|z)")


def toy_inference(arrays: dict[str, np.ndarray], methods: list[str], titles: dict[str, str], path: str | Path) -> None:
    save(build_toy_inference(arrays, methods, titles), path)


def build_toy_inference(arrays: dict[str, np.ndarray], methods: list[str], titles: dict[str, str], max_points: int = 4000):
    """The paper's Fig. 8 layout: columns are methods, rows are x, ẑ, reconstructions, z, x̃.

    Points of the first three rows are coloured by the mixture component of the held-out x they
    come from (a jet-like map, as the paper); x axes span [-6, 6], z axes [-4, 4].
    """
    colour = arrays["components"][:max_points]
    fig, axes = plt.subplots(len(INFERENCE_ROWS), len(methods), figsize=(2.6 * len(methods), 2.6 * len(INFERENCE_ROWS)), squeeze=False)
    for col, method in enumerate(methods):
        panels = [arrays["x"], arrays[f"{method}/z_hat"], arrays[f"{method}/x_rec"], arrays["z_prior"], arrays[f"{method}/x_gen"]]
        for row, points in enumerate(panels):
            ax = axes[row][col]
            limit = LATENT_LIMIT if row in (1, 3) else TOY_LIMIT
            points = points[:max_points]
            keep = np.isfinite(points).all(axis=1)
            if row < 3:
                ax.scatter(points[keep, 0], points[keep, 1], c=colour[keep], cmap="jet", s=1.0, alpha=0.6, rasterized=True)
            else:
                ax.scatter(points[keep, 0], points[keep, 1], s=1.0, alpha=0.4, color="tab:blue", rasterized=True)
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=6)
            if row == 0:
                ax.set_title(titles[method], fontsize=9)
            if col == 0:
                ax.set_ylabel(INFERENCE_ROWS[row], fontsize=8)
    fig.tight_layout()
    return fig


def loss_curves(log: pd.DataFrame, path: str | Path, group: str, title: str) -> None:
    """Per-epoch training loss, one panel per ``group`` value: is the loss flat at the end?"""
    names = list(dict.fromkeys(log[group]))
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        rows = log[log[group] == name]
        adversarial = "loss_d" in rows and rows["loss_d"].notna().any()
        ax.plot(rows["epoch"], rows["loss"], color="tab:blue", label="generator (encoder) loss" if adversarial else "loss")
        if adversarial:
            ax.plot(rows["epoch"], rows["loss_d"], color="tab:red", label="discriminator loss")
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, path)


GRID_SIDE_PIXELS = 96  # each image of a grid is drawn at the integer multiple of its side nearest this
GRID_TITLE_PIXELS = 36
GRID_DPI = 100


def grid_scale(side: int) -> int:
    """Screen pixels per image pixel: an integer, so pixels stay square and sharp (32 -> 3, 64 -> 2)."""
    return max(1, round(GRID_SIDE_PIXELS / side))


def image_grid(images, nrow: int, path: str | Path, title: str, padding: int = 1) -> None:
    """Images (N, C, H, W) in [0, 1], ``nrow`` per row, as one picture with a title.

    Every image pixel becomes a ``grid_scale`` × ``grid_scale`` block of the PNG (upscaled here by
    repetition, drawn at a fixed dpi without a tight bounding box), so the file is exactly
    (width · scale) × (height · scale + title band) pixels and no resampling blurs or distorts it.
    """
    import torch
    from torchvision.utils import make_grid

    images = torch.as_tensor(images).float().clamp(0, 1)
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=1.0).permute(1, 2, 0).numpy()  # (H, W, 3)
    scale = grid_scale(images.shape[-1])
    pixels = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    height, width = pixels.shape[:2]
    total = height + GRID_TITLE_PIXELS
    fig = plt.figure(figsize=(width / GRID_DPI, total / GRID_DPI), dpi=GRID_DPI)
    ax = fig.add_axes([0, 0, 1, height / total])
    ax.imshow(pixels, interpolation="nearest", aspect="auto")
    ax.axis("off")
    fig.text(0.5, 1 - GRID_TITLE_PIXELS / 2 / total, title, ha="center", va="center", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=GRID_DPI)
    plt.close(fig)


def labelled_grid(images, rows: list[str], columns: list[str], path: str | Path, title: str) -> None:
    """Images (R·C, 3, H, W) in [0, 1] as an R × C grid with a label on every row and column."""
    images = np.asarray(images, dtype=np.float32).clip(0, 1)
    n_rows, n_cols = len(rows), len(columns)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.25 * n_cols + 1.6, 1.3 * n_rows + 1.0), squeeze=False)
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.imshow(images[r * n_cols + c].transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:  # long labels wrap rather than run into their neighbours
                ax.set_title(textwrap.fill(columns[c], 16), fontsize=7)
            if c == 0:
                ax.set_ylabel(textwrap.fill(rows[r], 14), fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save(fig, path)
