"""scikit-learn's bundled 8×8 digits, the embedded stand-in for SVHN: no files, no download."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ali_bench.data.reading import ImageSplit

BOUNDS = {"train": (0, 1297), "valid": (1297, 1547), "test": (1547, 1797)}  # rows of the fixed permutation


def read(split: str, root: Path) -> ImageSplit:
    """scikit-learn's 1,797 8×8 digits, scaled to SVHN's 3×32×32 (bilinear, grey replicated to RGB).

    Pixels map from [0, 16] to [0.1, 0.9], a grey background rather than black: with an all-black
    border the mean image is 0 there, the decoder's log-odds output bias starts at logit(1e-7) and
    its sigmoid passes no gradient to those pixels. SVHN's mean image has no such pixels.
    Split (fixed permutation, seed 0): 1,297 train, 250 valid, 250 test.
    """
    del root
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.images))
    bounds = BOUNDS[split]
    index = order[bounds[0] : bounds[1]]
    x = torch.tensor(bunch.images[index], dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    x = torch.nn.functional.interpolate(x, size=32, mode="bilinear", align_corners=False).clamp(0, 1)
    x = 0.1 + 0.8 * x
    images = (x * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    return ImageSplit(images, torch.tensor(bunch.target[index], dtype=torch.int64))
