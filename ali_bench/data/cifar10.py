"""CIFAR-10's python batches: ``cifar-10-batches-py/{data_batch_1..5,test_batch}`` under the data root.

train = [0, 45000) and valid = [45000, 50000) of the training batches, as the released code;
train_all = all 50,000.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from ali_bench.data.reading import SWITCH, ImageSplit, corrupt, download, missing
from ali_bench.data.registry import DATASETS

URL = DATASETS["cifar10"].source


def batches(split: str) -> list[str]:
    """The batch files a split reads."""
    return ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]


def files(split: str) -> list[str]:
    return [f"cifar-10-batches-py/{name}" for name in batches(split)]


def missing_fix(relative: str, root: Path) -> str:
    del relative
    return f"extract {URL} into '{root}/', {SWITCH}"


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch: a pickled dict with 'data' (N, 3072) uint8 and 'labels'."""
    expected, fix = "a CIFAR-10 python batch", f"delete it and extract {URL} again"
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
    except Exception as error:  # unpickling garbage raises almost anything
        raise corrupt(path, expected, f"{type(error).__name__}: {error}", fix) from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise corrupt(path, expected, f"a {type(batch).__name__} without 'data' and 'labels'", fix)
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise corrupt(path, expected, f"data {data.dtype} {data.shape} and labels {labels.shape}, expected "
                      "uint8 (N, 3072) and (N,)", fix)
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def fetch(split: str, root: Path) -> None:
    folder = root / "cifar-10-batches-py"
    if not all((folder / name).is_file() for name in batches(split)):
        import torchvision

        download(lambda: torchvision.datasets.CIFAR10(str(root), train=split != "test", download=True), URL,
                 root, "extract its cifar-10-batches-py/")


def read(split: str, root: Path) -> ImageSplit:
    folder = root / "cifar-10-batches-py"
    names = batches(split)
    for name in names:
        if not (folder / name).is_file():
            raise missing(folder / name, missing_fix(f"cifar-10-batches-py/{name}", root))
    parts = [read_batch(folder / name) for name in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    window = {"train": slice(0, 45000), "valid": slice(45000, 50000)}.get(split, slice(None))
    return ImageSplit(torch.from_numpy(images[window].copy()), torch.from_numpy(labels[window].copy()))
