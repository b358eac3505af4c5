"""Mode coverage of every trained toy run, under each reporter's protocol: 10,000 samples from each
p(x) (the ALI paper's count, and the quality-aware statistics on the same samples), and 2,500 samples
from a stream of their own (PacGAN's Table 1: its GraphLogger scores 2,500 per trial)."""

from __future__ import annotations

import numpy as np
import torch

from ali_bench.data.mixture import GridMixture
from ali_bench.nets.toy import ToyGAN
from ali_bench.seeding import generator_for, seed_for
from ali_bench.toy.metrics import mode_coverage
from ali_bench.toy.runs import EVALUATION


@torch.no_grad()
def generate(
    models: dict[str, ToyGAN], payload: dict, n_samples: int, latent_dim: int, stream: int = EVALUATION
) -> dict[str, np.ndarray]:
    """x̃ = G_x(z) with z ~ N(0, I) from each run's ``stream`` (EVALUATION, or PACGAN_EVALUATION for
    PacGAN's samples); BN uses population statistics."""
    seed_of = {run["run"]: run["seed"] for run in payload["runs"]}
    samples = {}
    for kind, model in models.items():
        names = payload["model_runs"][kind]
        z = torch.stack(
            [torch.randn(n_samples, latent_dim, generator=generator_for(seed_of[name], stream)) for name in names]
        )
        parameter = next(model.parameters())
        x = model.decoder(z.to(device=parameter.device, dtype=parameter.dtype)).float().cpu().numpy()  # (M, n, 2)
        samples.update({name: x[i] for i, name in enumerate(names)})
    return samples


def stream_seeds(payload: dict, stream: int = EVALUATION) -> dict[str, int]:
    """The seed of each run's z draw in ``stream``, as ``generate`` draws it: ``torch.randn(n, latent_dim,
    generator=torch.Generator().manual_seed(seed))`` redraws that run's z exactly."""
    return {run["run"]: seed_for(run["seed"], stream) for run in payload["runs"]}


def sample_archive(samples: dict[str, np.ndarray], seeds: dict[str, int]) -> dict[str, np.ndarray]:
    """What a samples file holds: each run's samples (n, 2) under its name, and the seed of its z draw
    under ``<name>.z_seed``, so anyone can recount a column from the file, or redraw it."""
    return {**samples, **{f"{name}.z_seed": np.int64(seeds[name]) for name in samples}}


def archive_samples(archive) -> dict[str, np.ndarray]:
    """The runs' samples of a samples file (``sample_archive``), without the seeds."""
    return {name: archive[name] for name in archive.files if not name.endswith(".z_seed")}


def coverage_rows(
    payload: dict,
    samples: dict[str, np.ndarray],
    pacgan_samples: dict[str, np.ndarray],
    mixture: GridMixture,
    high_quality_stds: float,
) -> list[dict]:
    """One row per run: its identity and drawn hyperparameters, then its coverage statistics on
    ``samples`` (the ALI paper's 10,000) and, as ``pacgan_*``, PacGAN's on ``pacgan_samples``.

    PacGAN's MetricLogger assigns each sample to its nearest mean by diagonal Mahalanobis distance
    and keeps it when that distance is below 3; for this mixture (equal weights, one isotropic
    variance) that is ``mode_coverage``'s highest responsibility and radius of 3 std
    (tests/toy/test_toy_metrics.py checks the two agree).
    """
    rows = []
    for run in payload["runs"]:
        stats = mode_coverage(samples[run["run"]], mixture, high_quality_stds)
        pacgan = mode_coverage(pacgan_samples[run["run"]], mixture, high_quality_stds)
        rows.append(
            {
                "model": run["model"],
                "hyperparameter_set": run["hyperparameter_set"],
                "seed": run["seed"],
                "lr": run["lr"],
                "beta1": run["beta1"],
                "init_std": run["init_std"],
                "epochs": payload["epochs"],
                "modes": stats.modes,
                "high_quality_share": stats.high_quality_share,
                "modes_high_quality": stats.modes_high_quality,
                "reverse_kl": stats.reverse_kl,
                "finite_share": stats.finite_share,
                "pacgan_modes": pacgan.modes_high_quality,
                "pacgan_high_quality_share": pacgan.high_quality_share,
                "pacgan_reverse_kl": pacgan.reverse_kl,
                "diverged_epoch": run["diverged_epoch"],
            }
        )
    return rows
