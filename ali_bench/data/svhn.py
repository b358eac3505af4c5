"""SVHN, format 2 (cropped 32×32 digits): ``svhn/{train,extra,test}_32x32.mat`` under the data root."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ali_bench.data.reading import SWITCH, ImageSplit, corrupt, download, missing
from ali_bench.data.registry import DATASETS

URL = DATASETS["svhn"].source


def files(split: str) -> list[str]:
    return [f"svhn/{split}_32x32.mat"]


def missing_fix(relative: str, root: Path) -> str:
    return f"download {URL}{Path(relative).name} into '{root / 'svhn'}/', {SWITCH}"


def read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Format-2 SVHN .mat: X (32, 32, 3, N) uint8 and y (N, 1) with 10 meaning the digit 0."""
    from scipy.io import loadmat

    fix = f"delete it and download {URL}{path.name} again"
    try:
        mat = loadmat(str(path))
    except Exception as error:  # scipy raises ValueError, TypeError, OSError, ... on a bad file
        raise corrupt(path, "a readable SVHN format-2 .mat file", error, fix) from None
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        raise corrupt(path, "an SVHN format-2 .mat file", f"variables {sorted(k for k in mat if not k.startswith('__'))}, "
                      "expected X and y", fix)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or y.size != x.shape[3]:
        raise corrupt(path, "an SVHN format-2 .mat file", f"X {x.dtype} {x.shape} and {y.size} labels, expected "
                      "uint8 (32, 32, 3, N) and N labels", fix)
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)))  # (N, 3, H, W), as torchvision
    labels = y.astype(np.int64).reshape(-1) % 10
    return images, labels


def fetch(split: str, root: Path) -> None:
    folder = root / "svhn"
    path = folder / f"{split}_32x32.mat"
    if not path.is_file():
        import torchvision

        download(lambda: torchvision.datasets.SVHN(str(folder), split=split, download=True), f"{URL}{path.name}",
                 folder, f"put {path.name}")


def read(split: str, root: Path) -> ImageSplit:
    path = root / "svhn" / f"{split}_32x32.mat"
    if not path.is_file():
        raise missing(path, missing_fix(f"svhn/{path.name}", root))
    images, labels = read_mat(path)
    return ImageSplit(torch.from_numpy(images), torch.from_numpy(labels))
