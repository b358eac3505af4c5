"""Which runs the toy experiment trains, their hyperparameters, and their random streams.

Every random draw of a run is a pure function of its seed (and a fixed tag), never of the order in
which runs are trained or of the device, so a seed reruns alone exactly as it ran in the batch:

- the hyperparameters: from (seed, HYPERPARAMETERS). ALI and GAN of the same seed get the same
  drawn lr, β1 and init std: a paired comparison.
- the initial weights: N(0, 1) directions from (seed, INIT, model), scaled by the run's init std.
- epoch e's data order, prior draws z and encoder noise ε: from (seed, EPOCH, e), shared by ALI and
  GAN and by both hyperparameter sets of that seed.
- the 10,000 evaluation samples: from (seed, EVALUATION).
- the 2,500 samples scored under PacGAN's protocol: from (seed, PACGAN_EVALUATION), a stream of their
  own, as PacGAN drew its one fixed z per trial apart from anything else.
- the batches that recompute batch-norm statistics after training: from (seed, BATCHNORM, k).

Draws are made on the CPU and moved to the training device, so CPU and GPU runs see the same data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ali_bench.config import HyperParameters, Range, ToyConfig
from ali_bench.seeding import generator_for, seed_for

HYPERPARAMETERS, INIT, EPOCH, EVALUATION = 1, 2, 3, 4
BATCHNORM = 8  # 5-7 are the inference comparison's (ali_bench.toy_inference.methods)
PACGAN_EVALUATION = 9
MODEL_CODES = {"ali": 0, "gan": 1}


@dataclass(frozen=True)
class RunSpec:
    """One training run of the toy comparison."""

    model: str  # ali | gan
    hyperparameter_set: str  # random | released
    seed: int
    lr: float
    beta1: float
    init_std: float

    @property
    def name(self) -> str:
        return f"{self.model}-{self.hyperparameter_set}-seed{self.seed}"

    def as_row(self) -> dict:
        return asdict(self)


def _draw(rng: np.random.Generator, bounds: Range) -> float:
    if bounds.log:
        return float(np.exp(rng.uniform(np.log(bounds.low), np.log(bounds.high))))
    return float(rng.uniform(bounds.low, bounds.high))


def hyperparameters(cfg: ToyConfig, hyperparameter_set: str, seed: int) -> HyperParameters:
    """The released code's values, or a draw from the configured ranges made from ``seed`` alone."""
    if hyperparameter_set == "released":
        return cfg.released
    if hyperparameter_set != "random":
        raise ValueError(f"unknown hyperparameter set {hyperparameter_set!r}; expected random or released")
    rng = np.random.default_rng(seed_for(seed, HYPERPARAMETERS))
    search = cfg.random_search
    return HyperParameters(
        lr=_draw(rng, search.lr), beta1=_draw(rng, search.beta1), init_std=_draw(rng, search.init_std)
    )


def plan_runs(cfg: ToyConfig, hyperparameter_set: str, seeds: tuple[int, ...] | None = None) -> list[RunSpec]:
    """Every (model, seed) run of one hyperparameter set, models in config order, then seeds."""
    runs = []
    for model in cfg.models:
        for seed in seeds if seeds is not None else cfg.seeds:
            h = hyperparameters(cfg, hyperparameter_set, seed)
            runs.append(RunSpec(model, hyperparameter_set, seed, h.lr, h.beta1, h.init_std))
    return runs


def epoch_draws(seed: int, epoch: int, n_train: int, steps: int, batch_size: int, latent_dim: int):
    """Epoch ``epoch``'s data order (n_train,), prior draws z and encoder noise ε (steps, B, latent)."""
    generator = generator_for(seed, EPOCH, epoch)
    order = torch.randperm(n_train, generator=generator)
    z = torch.randn(steps, batch_size, latent_dim, generator=generator)
    eps = torch.randn(steps, batch_size, latent_dim, generator=generator)
    return order, z, eps


def batchnorm_draws(seed: int, k: int, n_train: int, batch_size: int, latent_dim: int):
    """Batch ``k`` of the batch-norm recomputation: training indices (B,), z and ε (B, latent).

    Drawn with replacement: with n_train below batches × batch_size a permutation would not do.
    """
    generator = generator_for(seed, BATCHNORM, k)
    index = torch.randint(n_train, (batch_size,), generator=generator)
    z = torch.randn(batch_size, latent_dim, generator=generator)
    eps = torch.randn(batch_size, latent_dim, generator=generator)
    return index, z, eps
