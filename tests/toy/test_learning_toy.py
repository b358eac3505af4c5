"""Toy ALI and GAN learn: seeded CPU runs of the real trainer (train_toy) cross measured thresholds.

What is guarded: the optimiser as the released code ran it (Adam beta1 in PyTorch's convention,
0.2 = Blocks-2016 0.8), the generator's swapped-label objective, and ALI's encoder being trained
through the joint discriminator. Each was broken once on purpose and the test failed (numbers in
the comments below and in the stage report).

Small networks (128 hidden units, 64 maxout units) and lr 3e-4 instead of the released 1e-4 so that
the runs fit in CI; everything else is the released set (beta1 0.2, init std 0.02, batch 100).
Measured on seed 0 (2026-11-29, float32, one thread): ALI after 7,000 steps: held-out
reconstructions in their input's mode 0.610, high-quality samples 0.126; GAN after 6,000 steps:
high-quality samples 0.256. Chance levels: same mode 1/25 = 0.04; a sample smeared uniformly over
[-5, 5]² is high quality with probability about 0.018.

The same seed gives other numbers on another CPU: adversarial training amplifies the last bit of
a matrix product, and MKL picks its kernels by processor. ALI on seed 0 measured 0.610 / 0.126 on
the machine above; on an AMD EPYC (AVX-512, 2026-12-02) 0.313 / 0.052 with MKL's default kernels,
0.677 / 0.104 with MKL_CBWR=AVX2 and 0.537 / 0.207 with MKL_CBWR=COMPATIBLE. The thresholds sit
below every one of these and above every broken value.

Broken once on purpose (same seed and settings), each failed:
- generator loss = the discriminator's own objective (labels not swapped): GAN high quality 0.000;
- ALI's encoder left out of the generator's optimiser (never updated): same mode 0.109;
- beta1 read as PyTorch 0.8 (the unconverted Blocks value): ALI same mode 0.015 and high quality
  0.023; GAN high quality 0.045 (on the AMD EPYC: ALI 0.051 and 0.006).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ali_bench.config import load_config
from ali_bench.data.mixture import train_and_test
from ali_bench.seeding import generator_for
from ali_bench.toy.evaluate import generate
from ali_bench.toy.metrics import assign_components, mode_coverage
from ali_bench.toy.train import load_models, train_toy

SMALL_RELEASED = {
    "hyperparameter_sets": ["released"],
    "seeds": [0],
    "mixture": {"n_train": 20000, "n_test": 5000},
    "network": {"encoder_hidden": [128, 128], "decoder_hidden": [128, 128, 128, 128], "discriminator_units": 64},
    "released": {"lr": 3.0e-4},
    "training": {"checkpoint_every": 1000},
}
ALI_EPOCHS, GAN_EPOCHS = 35, 30  # of 200 steps: 7,000 and 6,000 steps
THRESHOLDS = {  # measured value (seed 0) -> threshold; broken values in the module docstring's report
    "ali_same_mode": 0.2,  # measured 0.313-0.677 across CPUs; broken at most 0.109
    "ali_high_quality": 0.03,  # measured 0.052-0.207 across CPUs; broken at most 0.023
    "gan_high_quality": 0.12,  # measured 0.256
}


def train_and_measure(tmp_path, model: str, epochs: int, **toy_overrides) -> dict[str, float]:
    """Train one released-set run of ``model`` with the real trainer; its coverage (and, for ALI,
    held-out reconstructions), evaluated with recomputed batch-norm statistics. Run it on one thread
    (the ``one_thread`` fixture)."""
    toy = {
        **SMALL_RELEASED,
        "models": [model],
        "training": {**SMALL_RELEASED["training"], "epochs": epochs},
        **toy_overrides,
    }
    cfg = load_config({"device": "cpu", "toy": toy})
    out = tmp_path / model
    train_toy(
        cfg.toy,
        "released",
        out / "models.pt",
        out / "log.csv",
        out / "ck.pt",
        torch.device("cpu"),
        "cpu",
        cfg.batchnorm,
        progress=False,
    )
    payload, models = load_models(out / "models.pt", "recomputed")
    mixture, _, (x_test, components) = train_and_test(cfg.toy.mixture)
    samples = generate(models, payload, cfg.toy.coverage.n_samples, cfg.toy.network.latent_dim)
    measured = {f"{model}_high_quality": mode_coverage(samples[f"{model}-released-seed0"], mixture).high_quality_share}
    if model == "ali":
        eps = torch.randn(1, len(x_test), cfg.toy.network.latent_dim, generator=generator_for(0, 99))
        with torch.no_grad():
            ali = models["ali"]
            reconstructions = ali.decoder(ali.encode(torch.from_numpy(x_test)[None], eps))[0].numpy()
        finite = np.isfinite(reconstructions).all(axis=1)
        same = np.zeros(len(x_test), dtype=bool)
        same[finite] = assign_components(reconstructions[finite], mixture) == components[finite]
        measured["ali_same_mode"] = float(same.mean())
    return measured


@pytest.mark.slow
def test_toy_ali_reconstructs_into_the_right_mode_and_samples_sharply(tmp_path, one_thread):
    measured = train_and_measure(tmp_path, "ali", ALI_EPOCHS)
    print(measured)
    assert measured["ali_same_mode"] > THRESHOLDS["ali_same_mode"], measured
    assert measured["ali_high_quality"] > THRESHOLDS["ali_high_quality"], measured


@pytest.mark.slow
def test_toy_gan_samples_sharply(tmp_path, one_thread):
    measured = train_and_measure(tmp_path, "gan", GAN_EPOCHS)
    print(measured)
    assert measured["gan_high_quality"] > THRESHOLDS["gan_high_quality"], measured
