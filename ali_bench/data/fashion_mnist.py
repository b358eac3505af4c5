"""Fashion-MNIST (Zalando Research): four IDX files, gzipped or not, found under the data root in
torchvision's layout (``FashionMNIST/raw/``, where ``torchvision.datasets.FashionMNIST`` downloads
them) or else where Debian's ``dataset-fashion-mnist`` package puts them
(``/usr/share/datasets/fashion-mnist/``).

Splits: train = the first 55,000 of the 60,000 training images, valid = the last 5,000 (the
training file's order, as CIFAR-10's 45,000 / 5,000), test = the 10,000 test images, train_all =
all 60,000. The 28×28 grey images are zero-padded to 32×32 (2 pixels a side; the background is
already black) and replicated to RGB, so that the SVHN architecture and every 3-channel network of
the harness take them unchanged (docs/paper-vs-code.md, "Fashion-MNIST").

Checksums: the published MD5s are of the decompressed IDX files. The published .gz files' own MD5s
(torchvision's ``FashionMNIST.resources``) cannot be used: Debian's package recompressed them, so
its .gz bytes differ while the data are identical (checked by tests/data/test_fashion_mnist.py).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from ali_bench.data.reading import SWITCH, ImageSplit, corrupt, download, missing
from ali_bench.data.registry import DATASETS

URL = DATASETS["fashion_mnist"].source
LAYOUT = "FashionMNIST/raw"  # torchvision's folder under the data root
SYSTEM_FOLDER = Path(DATASETS["fashion_mnist"].system_package)  # Debian's dataset-fashion-mnist
PREFIX = {"train": "train", "valid": "train", "train_all": "train", "test": "t10k"}  # the file each split reads
WINDOW = {"train": slice(0, 55_000), "valid": slice(55_000, 60_000)}  # of the training file; others whole
SIDE, PAD = 28, 2  # 28×28, zero-padded to 32×32
IDX_UBYTE = 0x08  # the IDX format's type code for unsigned bytes


def files(split: str) -> list[str]:
    """The split's images and labels, named as torchvision's layout names them (uncompressed)."""
    prefix = PREFIX[split]
    return [f"{LAYOUT}/{prefix}-images-idx3-ubyte", f"{LAYOUT}/{prefix}-labels-idx1-ubyte"]


def locate(relative: str, root: Path) -> Path | None:
    """Where ``relative`` is: under the data root first, then the system package's folder; each
    uncompressed or gzipped. None when nowhere."""
    name = Path(relative).name
    for folder in (root / LAYOUT, SYSTEM_FOLDER):
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def missing_fix(relative: str, root: Path) -> str:
    name = Path(relative).name
    return (f"install Debian's package (apt-get install dataset-fashion-mnist, into '{SYSTEM_FOLDER}/'), or put "
            f"{name}.gz from {URL} into '{root / LAYOUT}/', {SWITCH}")


def read_idx(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) whose dimensions after the first are ``shape``."""
    expected, fix = f"an IDX file of unsigned bytes, N × {' × '.join(map(str, shape)) or 'scalar'}", (
        f"delete it and get {path.name.removesuffix('.gz')}.gz from {URL} again")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as error:
        raise corrupt(path, expected, error, fix) from None
    ndim = 1 + len(shape)
    header = 4 + 4 * ndim
    if len(raw) < header or raw[:2] != b"\0\0" or raw[2] != IDX_UBYTE or raw[3] != ndim:
        raise corrupt(path, expected, f"header {raw[:4].hex() or 'empty'}, expected 0000{IDX_UBYTE:02x}{ndim:02x}", fix)
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if dims[1:] != shape or len(raw) != header + int(np.prod(dims)):
        raise corrupt(path, expected, f"dimensions {dims} and {len(raw) - header:,} bytes of data", fix)
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def fetch(split: str, root: Path) -> None:
    if any(locate(relative, root) is None for relative in files(split)):
        import torchvision

        download(lambda: torchvision.datasets.FashionMNIST(str(root), train=split != "test", download=True), URL,
                 root / LAYOUT, "put the four .gz files")


def to_rgb32(images: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) grey uint8 -> (N, 3, 32, 32): zero-padded, replicated to three channels."""
    padded = np.pad(images, ((0, 0), (PAD, PAD), (PAD, PAD)))
    return torch.from_numpy(padded).unsqueeze(1).repeat(1, 3, 1, 1)


def read(split: str, root: Path) -> ImageSplit:
    paths = []
    for relative in files(split):
        path = locate(relative, root)
        if path is None:
            raise missing(root / relative, missing_fix(relative, root))
        paths.append(path)
    images, labels = read_idx(paths[0], (SIDE, SIDE)), read_idx(paths[1], ())
    if len(images) != len(labels) or labels.max(initial=0) > 9:
        raise corrupt(paths[1], "the labels of its images", f"{len(labels):,} labels up to {labels.max(initial=0)} "
                      f"for {len(images):,} images, expected one class 0..9 each", f"get both files from {URL} again")
    window = WINDOW.get(split, slice(None))
    return ImageSplit(to_rgb32(images[window]), torch.from_numpy(labels[window].astype(np.int64)))
