"""Tiny ImageNet (64×64 ImageNet): an ImageFolder tree ``tiny_imagenet/<split>/<class>/<image>`` under
the data root, converted once to a 64×64 cache (``data/cache64.py``).

The paper's file (``ilsvrc2012_tiny.hdf5``) was never published and has no download; build the
folder from ImageNet (train: the 1.28M training images; valid: the 50k validation images).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ali_bench.atomic import atomic_path
from ali_bench.data.cache64 import convert_images, feed_file_stats, read_cache
from ali_bench.data.reading import ImageSplit, missing

FIX = "no download exists; build an ImageFolder tree <split>/<class>/<image> from ImageNet"


def missing_fix(relative: str, root: Path) -> str:
    del relative
    return f"{FIX} under '{root / 'tiny_imagenet'}/' (docs/image-models.md)"


def source_digest(split: str, root: Path) -> str:
    """What the split's cache is converted from: its image files, by name, size and modification
    time (``cache64.feed_file_stats``: a stat, not a read, per image)."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    folder = root / "tiny_imagenet" / split
    if not folder.is_dir():
        raise missing(folder, missing_fix("", root))
    names = sorted(os.path.relpath(os.path.join(top, name), folder) for top, _, files in os.walk(folder)
                   for name in files if name.lower().endswith(IMG_EXTENSIONS))  # names from os.walk; stats below
    digest = hashlib.sha256()
    feed_file_stats(digest, folder, names)
    return digest.hexdigest()


def cache_name(split: str, key: str) -> str:
    return f"{split}_{key}.npz"


def center_crop_64(image) -> np.ndarray:
    """The largest centred square, resized (antialiased) to 64×64: "a center-cropped, 64×64 ImageNet"."""
    from PIL import Image

    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((64, 64), Image.Resampling.BICUBIC, reducing_gap=None), dtype=np.uint8).transpose(2, 0, 1)


def read(split: str, root: Path, cache: Path, workers: int = 1) -> ImageSplit:
    folder = root / "tiny_imagenet" / split
    if not cache.is_file():
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

        _, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
        images = convert_images([Path(p) for p, _ in samples], center_crop_64, f"Tiny ImageNet {split}", workers)
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, labels=np.asarray([c for _, c in samples], dtype=np.int64))
    return read_cache(cache, "labels")
