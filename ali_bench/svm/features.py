"""Encoder features for the SVHN L2-SVM table (paper Table 1; docs/paper-vs-code.md §5).

Two named feature sets, both read off the encoder in inference mode (BN population statistics: those
``images.train.load_model`` put in, by default recomputed for the final weights; config
``batchnorm.statistics``):

- ``released-code`` (5,376-d): what ``scripts/preprocess_representations`` concatenates: μ (not a
  sample, not log σ) and the outputs of encoder layers [-9], [-6], [-3] of the released layer list,
  which are the BatchNorm outputs (before the leaky ReLU) after conv4 (256×4×4), conv5 (512) and
  the 1×1 conv6 (512).
- ``paper`` (8,960-d): the paper's "last three hidden layers of the encoder as well as its output,
  concatenated", which no public source resolves into 8,960 dimensions. This harness's
  construction, chosen because it uses only the encoder's last layers and hits 8,960 exactly:
  conv4's BN output (4,096) and its leaky-ReLU output (4,096), conv5's BN output (512) and μ (256).

Features are written as float32 .npy files in chunks, so the 73,257 × 8,960 SVHN train matrix
(2.6 GB) never sits in memory; the SVM step reads them memory-mapped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ali_bench.atomic import atomic_path
from ali_bench.nets.image import ImageALI

FEATURE_SETS = ("paper", "released-code")


def _tap_layers(model: ImageALI) -> dict[str, nn.Module]:
    """The encoder modules whose outputs the feature sets use, by their role in the SVHN layer list."""
    layers = list(model.encoder)
    if len(layers) != 19:
        raise ValueError(
            f"feature sets are defined for the SVHN encoder (19 layers); got {len(layers)} for {model.arch.name}"
        )
    # layer list: (conv, BN, act) x 6, conv. [-9] = BN after conv4, [-8] its activation, [-6] BN after conv5, [-3] BN after conv6
    return {"bn4": layers[-9], "act4": layers[-8], "bn5": layers[-6], "bn6": layers[-3]}


FEATURE_PARTS = {
    "released-code": ("mu", "bn4", "bn5", "bn6"),  # 256 + 4096 + 512 + 512 = 5376
    "paper": ("bn4", "act4", "bn5", "mu"),  # 4096 + 4096 + 512 + 256 = 8960
}


@torch.no_grad()
def extract(model: ImageALI, images: torch.Tensor, feature_set: str) -> torch.Tensor:
    """Features (B, D) of uint8 images (B, 3, H, W)."""
    if feature_set not in FEATURE_PARTS:
        raise ValueError(f"unknown feature set {feature_set!r}; expected one of {', '.join(FEATURE_PARTS)}")
    taps = _tap_layers(model)
    captured: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(lambda _m, _i, out, name=name: captured.__setitem__(name, out.flatten(1)))
        for name, module in taps.items()
    ]
    try:
        x = images.to(next(model.parameters()).device).float() / 255.0
        mu, _ = model.posterior(x)
        captured["mu"] = mu.flatten(1)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.cat([captured[part] for part in FEATURE_PARTS[feature_set]], dim=1).float()


def feature_dimension(model: ImageALI, feature_set: str) -> int:
    size = model.arch.image_size
    return extract(model.eval(), torch.zeros(1, 3, size, size, dtype=torch.uint8), feature_set).shape[1]


def write_features(
    model: ImageALI, images: torch.Tensor, feature_set: str, path: str | Path, chunk: int = 500
) -> tuple[int, int]:
    """Extract features chunk by chunk into a float32 .npy at ``path`` (atomic); returns its shape."""
    model.eval()
    shape = (len(images), feature_dimension(model, feature_set))
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        for start in range(0, len(images), chunk):
            out[start : start + chunk] = extract(model, images[start : start + chunk], feature_set).cpu().numpy()
        out.flush()
        del out
    return shape
