"""Whether the condition controls the sample (paper Fig. 7's claim), measured rather than eyeballed.

A grid of samples x(z_i, y_j): Z latent draws (fixed by the seed) each decoded under C conditions.
- ``label_agreement``: the share of samples a judge trained on the real data reads as their
  condition. Digits and Fashion-MNIST: the 10 classes, judged by the label judge of ``ali_bench/images/figures.py``
  (chance 10 %). CelebA: one logistic regression per attribute on 16×16 area-averaged images, fit on
  CelebA's own training labels; the conditions are the attribute vectors of real validation images,
  and agreement is reported per attribute and on average (chance: each attribute's base rate).
- ``variation_across_conditions`` / ``variation_across_z``: the mean squared pixel deviation of a
  sample from the mean over conditions (z fixed), and from the mean over z (y fixed); their ratio
  says whether y changes the image as much as z does (near 0: the condition is ignored).
"""

from __future__ import annotations

import numpy as np
import torch

from ali_bench.data.celeba import ATTRIBUTES as CELEBA_ATTRIBUTES
from ali_bench.data.images import ImageSplit
from ali_bench.images.figures import CLASSIFIER_IMAGES, classifier_pixels, fit_label_judge
from ali_bench.nets.conditional import ConditionalALI
from ali_bench.seeding import generator_for

METRICS_Z, METRICS_CONDITIONS = 41, 42  # seeding tags (the figure's z is ali_bench.conditional.figures.FIGURE_Z)
CELEBA_JUDGE_SIDE = 16


@torch.no_grad()
def sample_grid(model: ConditionalALI, y: torch.Tensor, n_z: int, seed: int) -> torch.Tensor:
    """(n_z, C, channels, H, W): each of n_z fixed z decoded under each of the C conditions y (C, d)."""
    model.eval()
    z = torch.randn(n_z, model.arch.latent_dim, 1, 1, generator=generator_for(seed, METRICS_Z))
    device = next(model.parameters()).device
    rows = [
        model.decode_given(z[i : i + 1].expand(len(y), -1, -1, -1).to(device), y.to(device)).float().cpu()
        for i in range(n_z)
    ]
    return torch.stack(rows)


def variation(grid: torch.Tensor) -> dict:
    """How much the sample moves with the condition (z fixed) and with z (condition fixed)."""
    across_conditions = float(((grid - grid.mean(dim=1, keepdim=True)) ** 2).mean())
    across_z = float(((grid - grid.mean(dim=0, keepdim=True)) ** 2).mean())
    return {
        "variation_across_conditions": across_conditions,
        "variation_across_z": across_z,
        "conditions_to_z_ratio": across_conditions / across_z if across_z > 0 else float("nan"),
    }


def class_conditioning(
    model: ConditionalALI, train: ImageSplit, valid: ImageSplit, seed: int, n_z: int = 100, dataset: str = "digits"
) -> dict:
    """Agreement of class-conditioned samples (digits, Fashion-MNIST) with the label judge."""
    judge = fit_label_judge(train, seed)
    grid = sample_grid(model, torch.eye(10), n_z, seed)  # (n_z, 10, 3, 32, 32)
    predicted = judge.predict(classifier_pixels(grid.flatten(0, 1)).numpy()).reshape(n_z, 10)
    per_class = (predicted == np.arange(10)[None, :]).mean(axis=0)
    ceiling = float(
        (judge.predict(classifier_pixels(valid.images.float() / 255.0).numpy()) == valid.labels.numpy()).mean()
    )
    return {
        "dataset": dataset,
        "samples": int(grid.shape[0] * grid.shape[1]),
        "z_draws": n_z,
        "conditions": 10,
        "label_agreement": float(per_class.mean()),
        "chance": 0.1,
        "judge_accuracy_on_real_images": ceiling,
        "label_agreement_per_class": {str(k): float(v) for k, v in enumerate(per_class)},
        **variation(grid),
    }


def _celeba_pixels(images: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.adaptive_avg_pool2d(images, CELEBA_JUDGE_SIDE).flatten(1).numpy()


def celeba_conditioning(
    model: ConditionalALI, train: ImageSplit, valid: ImageSplit, seed: int, n_z: int = 20, n_conditions: int = 20
) -> dict:
    """Per-attribute agreement: 40 logistic regressions on CelebA's own labels judge n_z × n_conditions
    samples, the conditions being real validation images' attribute vectors. An attribute constant in
    the judge's training images (no judge can be fit) or among the conditions is left out (None)."""
    from sklearn.linear_model import LogisticRegression

    fit_rows = torch.randperm(len(train), generator=generator_for(seed, METRICS_CONDITIONS, 0))[:CLASSIFIER_IMAGES]
    fit_x, fit_y = _celeba_pixels(train.images[fit_rows].float() / 255.0), train.labels[fit_rows].numpy()
    pick = torch.randperm(len(valid), generator=generator_for(seed, METRICS_CONDITIONS, 1))[:n_conditions]
    y = valid.labels[pick].float()
    grid = sample_grid(model, y, n_z, seed)
    samples = _celeba_pixels(grid.flatten(0, 1))
    wanted = y.numpy()[None, :, :].repeat(n_z, axis=0).reshape(-1, y.shape[1])
    per_attribute, base_rate = {}, {}
    for a, name in enumerate(CELEBA_ATTRIBUTES):
        if len(set(fit_y[:, a].tolist())) < 2 or len(set(wanted[:, a].tolist())) < 2:
            per_attribute[name] = None
            continue
        judge = LogisticRegression(max_iter=1000).fit(fit_x, fit_y[:, a])
        per_attribute[name] = float((judge.predict(samples) == wanted[:, a]).mean())
        base_rate[name] = float(max(wanted[:, a].mean(), 1 - wanted[:, a].mean()))
    judged = [v for v in per_attribute.values() if v is not None]
    return {
        "dataset": "celeba",
        "samples": len(samples),
        "z_draws": n_z,
        "conditions": n_conditions,
        "label_agreement": float(np.mean(judged)) if judged else float("nan"),
        "chance": float(np.mean(list(base_rate.values()))) if base_rate else float("nan"),
        "label_agreement_per_attribute": per_attribute,
        "majority_rate_per_attribute": base_rate,
        **variation(grid),
    }
