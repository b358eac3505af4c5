"""Samples, reconstructions and latent interpolations of a trained image model (docs/paper-vs-code.md §4).

All three use the model in inference mode (BN population statistics, no dropout) and encode by
*sampling* ẑ = μ + σ ε, as the released ``scripts/`` do. Draws come from the images seed, so a
figure is reproducible.
"""

from __future__ import annotations

import torch

from ali_bench.data.images import ImageSplit
from ali_bench.nets.image import ImageALI
from ali_bench.seeding import generator_for

FIGURES = 20


def _latent(model: ImageALI, n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, model.arch.latent_dim, 1, 1, generator=generator)


@torch.no_grad()
def samples(model: ImageALI, seed: int, n: int = 100) -> torch.Tensor:
    """x̃ = G_x(z), z ~ N(0, I): (n, 3, H, W) in [0, 1]."""
    return model.decoder(_latent(model, n, generator_for(seed, FIGURES, 0)))


@torch.no_grad()
def reconstructions(
    model: ImageALI, valid: ImageSplit, seed: int, rows: int = 10, pairs_per_row: int = 10
) -> torch.Tensor:
    """Validation images and their reconstructions interleaved: odd columns data, even columns G_x(G_z(x))."""
    generator = generator_for(seed, FIGURES, 1)
    pick = torch.randperm(len(valid), generator=generator)[: rows * pairs_per_row]
    x = valid.images[pick].float() / 255.0
    x_rec = model.decoder(model.encode(x, _latent(model, len(x), generator)))
    return torch.stack([x, x_rec], dim=1).flatten(0, 1)  # x0, rec0, x1, rec1, ...


@torch.no_grad()
def interpolations(model: ImageALI, valid: ImageSplit, seed: int, pairs: int = 10, steps: int = 10) -> torch.Tensor:
    """Per row: x₁, decodings of z₁ + α(z₂ − z₁) for α in linspace(0, 1, steps + 1), then x₂."""
    generator = generator_for(seed, FIGURES, 2)
    pick = torch.randperm(len(valid), generator=generator)[: 2 * pairs]
    x = valid.images[pick].float() / 255.0
    z = model.encode(x, _latent(model, len(x), generator))
    z1, z2 = z[:pairs], z[pairs:]
    alphas = torch.linspace(0, 1, steps + 1).view(1, -1, 1, 1, 1)
    path = z1.unsqueeze(1) + alphas * (z2 - z1).unsqueeze(1)  # (pairs, steps + 1, latent, 1, 1)
    decoded = model.decoder(path.flatten(0, 1)).unflatten(0, (pairs, steps + 1))
    return torch.cat([x[:pairs].unsqueeze(1), decoded, x[pairs:].unsqueeze(1)], dim=1).flatten(0, 1)


CLASSIFIER_SIDE = 8  # the judge sees 8×8 images: the digits' own resolution, and a fit of seconds, not minutes
CLASSIFIER_IMAGES = 10_000  # at most this many training images fit the judge (SVHN has 73,257)


def classifier_pixels(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] -> (N, C·8·8): area-averaged to 8×8, what the label judge reads."""
    return torch.nn.functional.adaptive_avg_pool2d(images, CLASSIFIER_SIDE).flatten(1)


def fit_label_judge(train: ImageSplit, seed: int):
    """A logistic regression from 8×8 area-averaged pixels to the class label, fit on at most
    CLASSIFIER_IMAGES images of ``train`` (a seeded shuffle): the judge of reconstructions here and of
    class-conditioned samples (``ali_bench/conditional/metrics.py``)."""
    from sklearn.linear_model import LogisticRegression

    fit_rows = torch.randperm(len(train), generator=generator_for(seed, FIGURES, 4))[:CLASSIFIER_IMAGES]
    fit_x = classifier_pixels(train.images[fit_rows].float() / 255.0).numpy()
    return LogisticRegression(max_iter=2000).fit(fit_x, train.labels[fit_rows].numpy())


@torch.no_grad()
def reconstruction_metrics(model: ImageALI, valid: ImageSplit, seed: int, train: ImageSplit | None = None) -> dict:
    """How faithful reconstructions are, over the whole validation split (the paper reports none).

    ``mse``: mean squared pixel error in [0, 1] units, encoding by sampling. With ``train`` given
    (class-labelled data), ``label_agreement``: the share of reconstructions that a logistic
    regression, fit on ``train`` (its first 10,000 images of a seeded shuffle) area-averaged to 8×8,
    gives the label of their input; ``classifier_accuracy`` is that classifier on the validation
    images themselves, the ceiling; chance is 1 / classes. Why 8×8: the embedded digits are 8×8
    scans, so nothing is lost there, and a fit on 3,072 raw pixels took 35-40 s on 2 cores for
    1,347 digits (minutes for SVHN) where this one takes about a second.
    """
    generator = generator_for(seed, FIGURES, 3)
    x = valid.images.float() / 255.0
    x_rec = torch.cat(
        [model.decoder(model.encode(chunk, _latent(model, len(chunk), generator))) for chunk in x.split(500)]
    )
    out = {"validation_images": len(x), "mse": float(((x_rec - x) ** 2).mean())}
    if train is not None:
        classifier = fit_label_judge(train, seed)
        labels = valid.labels.numpy()
        out["label_agreement"] = float((classifier.predict(classifier_pixels(x_rec).numpy()) == labels).mean())
        out["classifier_accuracy"] = float((classifier.predict(classifier_pixels(x).numpy()) == labels).mean())
        out["chance"] = 1.0 / len(set(labels.tolist()))
    return out
