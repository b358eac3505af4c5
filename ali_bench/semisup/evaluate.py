"""A trained run's test errors, each with batch-norm statistics recomputed for the evaluated weights."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial

import torch

from ali_bench import batchnorm
from ali_bench.data.images import ImageSplit
from ali_bench.nets.image import ImageALI
from ali_bench.seeding import generator_for
from ali_bench.semisup.average import DiscriminatorAverage
from ali_bench.semisup.settings import BN_PASSES, EVAL, SemisupSettings

LATENT_AT_TEST = ("sampled", "posterior_mean", "prior")  # which z goes beside x into D at test


def training_shaped_forward(
    model: ImageALI, settings: SemisupSettings, x_lab: torch.Tensor, data: torch.Tensor, device: torch.device
) -> Callable[[int], None]:
    """``forward(k)``: batch k of the recomputation pass, shaped as a training step shapes it.

    ``bn_batch_size`` labelled (the labelled set tiled in a random order), unlabelled and prior draws
    from their own seeded stream. The encoder sees labelled and unlabelled images together, as in
    training. D sees the three groups as one batch (``joint``), the real pairs only (``separate``:
    in training each real group is normalised by real pairs' statistics, and test pairs are real),
    or the labelled pairs alone (the supervised model). The decoder runs where it ran in training.
    """
    size = settings.bn_batch_size
    latent = model.arch.latent_dim

    def forward(k: int) -> None:
        generator = generator_for(settings.seed, BN_PASSES, k)
        lab = torch.cat([torch.randperm(len(x_lab), generator=generator) for _ in range(-(-size // len(x_lab)))])[:size]
        unl = torch.randperm(len(data), generator=generator)[:size]
        eps = torch.randn(2 * size, latent, 1, 1, generator=generator).to(device)
        z = torch.randn(size, latent, 1, 1, generator=generator).to(device)
        xl, xu = x_lab[lab.to(device)].float() / 255.0, data[unl.to(device)].float() / 255.0
        z_hat = model.encode(torch.cat([xl, xu]), eps)
        if settings.supervised_only:
            model.discriminate(xl, z_hat[:size])
        elif settings.d_batchnorm == "separate":
            model.discriminate(torch.cat([xl, xu]), z_hat)
        else:
            model.discriminate(torch.cat([xl, xu, model.decoder(z)]), torch.cat([z_hat, z]))

    return forward


def with_recomputed_statistics(
    model: ImageALI, forward_for: Callable[[ImageALI], Callable[[int], None]], n_batches: int
) -> ImageALI:
    """A copy of ``model`` in eval mode whose batch-norm statistics are those of its own weights."""
    recomputed = batchnorm.recompute_statistics(model, forward_for(model), n_batches)
    copied = copy.deepcopy(model)
    copied.load_state_dict(batchnorm.with_statistics(copied.state_dict(), recomputed, "recomputed"))
    return copied.eval()


@torch.no_grad()
def classification_error(
    model: ImageALI,
    images: torch.Tensor,
    labels: torch.Tensor,
    seed: int,
    device: torch.device,
    latent: str = "sampled",
    stream: int = 0,
    chunk: int = 500,
) -> float:
    """Share of ``images`` whose K-way prediction argmax_k l_k(x, z) is wrong.

    ``latent`` is the z beside x: ``sampled`` ẑ ~ q(z|x) (the released scripts' encoding),
    ``posterior_mean`` μ(x), or ``prior`` z ~ N(0, I), which shows what the encoder adds.
    """
    if latent not in LATENT_AT_TEST:
        raise ValueError(f"unknown latent {latent!r}; expected one of {', '.join(LATENT_AT_TEST)}")
    model.eval()
    generator = generator_for(seed, EVAL, stream)
    wrong = 0
    for start in range(0, len(images), chunk):
        x = images[start : start + chunk].to(device).float() / 255.0
        noise = torch.randn(len(x), model.arch.latent_dim, 1, 1, generator=generator).to(device)
        if latent == "prior":
            z = noise
        else:
            mu, log_sigma = model.posterior(x)
            z = mu if latent == "posterior_mean" else mu + log_sigma.exp() * noise
        predicted = model.discriminate(x, z).argmax(1).cpu()
        wrong += int((predicted != labels[start : start + chunk].cpu()).sum())
    return wrong / len(images)


def evaluate(
    model: ImageALI, test: ImageSplit, x_lab: torch.Tensor, y_lab: torch.Tensor, seed: int, device: torch.device
) -> dict[str, float]:
    """Test error for each latent at test, and the error on the labelled training set (ẑ sampled), evaluated alike."""
    errors = {
        f"test_error_{latent}": classification_error(model, test.images, test.labels, seed, device, latent, stream=i)
        for i, latent in enumerate(LATENT_AT_TEST)
    }
    errors["train_error"] = classification_error(
        model, x_lab, y_lab, seed, device, "sampled", stream=len(LATENT_AT_TEST)
    )
    return errors


def evaluate_all(
    model: ImageALI,
    average: DiscriminatorAverage,
    settings: SemisupSettings,
    test: ImageSplit,
    x_lab: torch.Tensor,
    y_lab: torch.Tensor,
    data: torch.Tensor,
    device: torch.device,
) -> dict:
    """Every evaluation the result file records: {averaged, live} weights × {recomputed, running} statistics."""
    forward_for = partial(training_shaped_forward, settings=settings, x_lab=x_lab, data=data, device=device)
    weights = average.evaluated_copies(model)
    results = {}
    for name, candidate in weights.items():
        recomputed = with_recomputed_statistics(candidate, forward_for, settings.bn_batches)
        results[name] = {
            "recomputed": evaluate(recomputed, test, x_lab, y_lab, settings.seed, device),
            "running": evaluate(candidate, test, x_lab, y_lab, settings.seed, device),
        }
    return results


def headline(result: dict, statistics: str, averaged: bool = True) -> dict[str, float]:
    """The evaluation a table reports: averaged (or live) weights with the ``statistics`` batch-norm statistics."""
    if statistics not in batchnorm.STATISTICS:
        raise ValueError(
            f"unknown batch-norm statistics {statistics!r}; expected one of {', '.join(batchnorm.STATISTICS)}"
        )
    return result["evaluations"]["averaged" if averaged else "live"][statistics]
