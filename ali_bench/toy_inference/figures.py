"""The paper's Fig. 8: each method's held-out data, codes, reconstructions, prior draws and samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ali_bench.figures import plt, save
from ali_bench.toy.figures import TOY_LIMIT

LATENT_LIMIT = 4.0  # the paper's z-space axes: [-4, 4]²
INFERENCE_ROWS = (
    "held-out data x ~ q(x)",
    "latent codes ẑ ~ q(z|x)",
    "reconstructions",
    "prior samples z ~ p(z)",
    "generator samples x̃ ~ p(x|z)",
)


def toy_inference(arrays: dict[str, np.ndarray], methods: list[str], titles: dict[str, str], path: str | Path) -> None:
    save(build_toy_inference(arrays, methods, titles), path)


def build_toy_inference(
    arrays: dict[str, np.ndarray], methods: list[str], titles: dict[str, str], max_points: int = 4000
):
    """The paper's Fig. 8 layout: columns are methods, rows are x, ẑ, reconstructions, z, x̃.

    Points of the first three rows are coloured by the mixture component of the held-out x they
    come from (a jet-like map, as the paper); x axes span [-6, 6], z axes [-4, 4].
    """
    colour = arrays["components"][:max_points]
    fig, axes = plt.subplots(
        len(INFERENCE_ROWS), len(methods), figsize=(2.6 * len(methods), 2.6 * len(INFERENCE_ROWS)), squeeze=False
    )
    for col, method in enumerate(methods):
        panels = [
            arrays["x"],
            arrays[f"{method}/z_hat"],
            arrays[f"{method}/x_rec"],
            arrays["z_prior"],
            arrays[f"{method}/x_gen"],
        ]
        for row, points in enumerate(panels):
            ax = axes[row][col]
            limit = LATENT_LIMIT if row in (1, 3) else TOY_LIMIT
            points = points[:max_points]
            keep = np.isfinite(points).all(axis=1)
            if row < 3:
                ax.scatter(
                    points[keep, 0], points[keep, 1], c=colour[keep], cmap="jet", s=1.0, alpha=0.6, rasterized=True
                )
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
