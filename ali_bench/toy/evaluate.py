"""Mode coverage of every trained toy run: 10,000 samples from each p(x), scored against q(x)."""

from __future__ import annotations

import numpy as np
import torch

from ali_bench.data.mixture import GridMixture
from ali_bench.nets.toy import ToyGAN
from ali_bench.toy.metrics import mode_coverage
from ali_bench.seeding import generator_for
from ali_bench.toy.runs import EVALUATION


@torch.no_grad()
def generate(models: dict[str, ToyGAN], payload: dict, n_samples: int, latent_dim: int) -> dict[str, np.ndarray]:
    """x̃ = G_x(z) with z ~ N(0, I) from each run's evaluation stream; BN uses population statistics."""
    seed_of = {run["run"]: run["seed"] for run in payload["runs"]}
    samples = {}
    for kind, model in models.items():
        names = payload["model_runs"][kind]
        z = torch.stack([torch.randn(n_samples, latent_dim, generator=generator_for(seed_of[name], EVALUATION)) for name in names])
        parameter = next(model.parameters())
        x = model.decoder(z.to(device=parameter.device, dtype=parameter.dtype)).float().cpu().numpy()  # (M, n, 2)
        samples.update({name: x[i] for i, name in enumerate(names)})
    return samples


def coverage_rows(payload: dict, samples: dict[str, np.ndarray], mixture: GridMixture, high_quality_stds: float) -> list[dict]:
    """One row per run: its identity and drawn hyperparameters, then its coverage statistics."""
    rows = []
    for run in payload["runs"]:
        stats = mode_coverage(samples[run["run"]], mixture, high_quality_stds)
        rows.append({
            "model": run["model"], "hyperparameter_set": run["hyperparameter_set"], "seed": run["seed"],
            "lr": run["lr"], "beta1": run["beta1"], "init_std": run["init_std"], "epochs": payload["epochs"],
            "modes": stats.modes, "high_quality_share": stats.high_quality_share,
            "modes_high_quality": stats.modes_high_quality, "reverse_kl": stats.reverse_kl,
            "finite_share": stats.finite_share, "diverged_epoch": run["diverged_epoch"],
        })
    return rows
