"""Plotting helpers every stage shares, on matplotlib's Agg backend (no display needed), written atomically.

Stages draw their own figures (``ali_bench/<stage>/figures.py``) with ``plt`` from here, so that the
backend is chosen before pyplot is first used.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ali_bench.atomic import atomic_path


def save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def loss_curves(log: pd.DataFrame, path: str | Path, group: str, title: str) -> None:
    """Per-epoch training loss, one panel per ``group`` value: is the loss flat at the end?"""
    names = list(dict.fromkeys(log[group]))
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 2.8), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        rows = log[log[group] == name]
        adversarial = "loss_d" in rows and rows["loss_d"].notna().any()
        ax.plot(
            rows["epoch"], rows["loss"], color="tab:blue", label="generator (encoder) loss" if adversarial else "loss"
        )
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
