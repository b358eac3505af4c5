"""Image datasets as one uint8 tensor each, (N, 3, H, W), read from their official on-disk formats.

Why uint8 tensors: training keeps the whole split on the device and gathers batches by index
(pixels become floats in [0, 1] inside the step, as Fuel's ``uint8_pixels_to_floatX``), so no
Python DataLoader sits between the GPU and the data.

Files are read by this module's own small parsers of the official formats (what torchvision reads
too); torchvision is used to *download* them when the config says ``images.download: true``, which
also checks their checksums. Tests build tiny files in the same formats and load them here.

| dataset       | folder under data_root         | files                                                        |
|---------------|--------------------------------|--------------------------------------------------------------|
| svhn          | svhn/                          | train_32x32.mat, extra_32x32.mat, test_32x32.mat (format 2)  |
| cifar10       | cifar-10-batches-py/           | data_batch_1..5, test_batch (python pickles)                 |
| celeba        | celeba/                        | img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt |
| tiny_imagenet | tiny_imagenet/<split>/<class>/ | any images, ImageFolder layout; center-cropped to 64×64      |
| digits        | (none)                         | scikit-learn's bundled 8×8 digits, scaled to 32×32           |
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ali_bench.atomic import atomic_path

SPLITS = {
    "digits": ("train", "valid", "test"),
    "svhn": ("train", "extra", "test"),
    "cifar10": ("train", "valid", "test", "train_all"),
    "celeba": ("train", "valid", "test"),
    "tiny_imagenet": ("train", "valid", "test"),
}
SVHN_URL = "http://ufldl.stanford.edu/housenumbers/"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2}
# The 40 attributes in the order of list_attr_celeba.txt's header (and of the label vectors).
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes",
    "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling",
    "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)


class DatasetMissing(FileNotFoundError):
    """A dataset file is not where it should be; the message says where to put it or how to download it."""


@dataclass(frozen=True)
class ImageSplit:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class labels, or (N, 40) uint8 attributes (CelebA)

    def __len__(self) -> int:
        return len(self.images)


def load_split(dataset: str, split: str, root: str | Path, download: bool = False) -> ImageSplit:
    """One split of one dataset; a missing file raises DatasetMissing naming it and the remedy."""
    if dataset not in SPLITS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(SPLITS)}")
    if split not in SPLITS[dataset]:
        raise ValueError(f"dataset {dataset!r} has no split {split!r}; expected one of {', '.join(SPLITS[dataset])}")
    root = Path(root)
    loader = {"digits": _digits, "svhn": _svhn, "cifar10": _cifar10, "celeba": _celeba, "tiny_imagenet": _tiny_imagenet}
    return loader[dataset](split, root, download)


def _missing(path: Path, how: str) -> DatasetMissing:
    return DatasetMissing(f"dataset file '{path}' is missing: {how}")


# --------------------------------------------------------------------------------------------------
# digits (embedded)


def _digits(split: str, root: Path, download: bool) -> ImageSplit:
    """scikit-learn's 1,797 8×8 digits, scaled to SVHN's 3×32×32 (bilinear, grey replicated to RGB).

    Pixels map from [0, 16] to [0.1, 0.9], a grey background rather than black: with an all-black
    border the mean image is 0 there, the decoder's log-odds output bias starts at logit(1e-7) and
    its sigmoid passes no gradient to those pixels. SVHN's mean image has no such pixels.
    Split (fixed permutation, seed 0): 1,297 train, 250 valid, 250 test.
    """
    del root, download
    from sklearn.datasets import load_digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.images))
    bounds = {"train": (0, 1297), "valid": (1297, 1547), "test": (1547, 1797)}[split]
    index = order[bounds[0] : bounds[1]]
    x = torch.tensor(bunch.images[index], dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    x = torch.nn.functional.interpolate(x, size=32, mode="bilinear", align_corners=False).clamp(0, 1)
    x = 0.1 + 0.8 * x
    images = (x * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    return ImageSplit(images, torch.tensor(bunch.target[index], dtype=torch.int64))


# --------------------------------------------------------------------------------------------------
# SVHN


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Format-2 SVHN .mat: X (32, 32, 3, N) uint8 and y (N, 1) with 10 meaning the digit 0."""
    from scipy.io import loadmat

    mat = loadmat(str(path))
    images = np.ascontiguousarray(np.transpose(mat["X"], (3, 2, 0, 1)))  # (N, 3, H, W), as torchvision
    labels = mat["y"].astype(np.int64).reshape(-1) % 10
    return images, labels


def _svhn(split: str, root: Path, download: bool) -> ImageSplit:
    folder = root / "svhn"
    path = folder / f"{split}_32x32.mat"
    if not path.is_file() and download:
        import torchvision

        torchvision.datasets.SVHN(str(folder), split=split, download=True)
    if not path.is_file():
        raise _missing(path, f"download {SVHN_URL}{path.name} into '{folder}/', or set config key 'images.download: true'")
    images, labels = read_svhn_mat(path)
    return ImageSplit(torch.from_numpy(images), torch.from_numpy(labels))


# --------------------------------------------------------------------------------------------------
# CIFAR-10


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch: a pickled dict with 'data' (N, 3072) uint8 and 'labels'."""
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="latin1")
    images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch["labels"], dtype=np.int64)


def _cifar10(split: str, root: Path, download: bool) -> ImageSplit:
    """train = [0, 45000) and valid = [45000, 50000) of the training batches, as the released code."""
    folder = root / "cifar-10-batches-py"
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    if download and not all((folder / name).is_file() for name in names):
        import torchvision

        torchvision.datasets.CIFAR10(str(root), train=split != "test", download=True)
    for name in names:
        if not (folder / name).is_file():
            raise _missing(folder / name, f"extract {CIFAR_URL} into '{root}/', or set config key 'images.download: true'")
    parts = [read_cifar_batch(folder / name) for name in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    window = {"train": slice(0, 45000), "valid": slice(45000, 50000)}.get(split, slice(None))
    return ImageSplit(torch.from_numpy(images[window].copy()), torch.from_numpy(labels[window].copy()))


# --------------------------------------------------------------------------------------------------
# CelebA


CELEBA_CACHE_VERSION = "lanczos"  # in the cache file names: caches converted with another filter are not reused


def celeba_64(image) -> np.ndarray:
    """Fuel's ``convert_celeba_64``: resize to 64 wide × 78 high, keep rows 7..70: 64×64.

    The filter is Fuel's, ``Image.ANTIALIAS``, which is PIL's Lanczos (a 3-lobe windowed sinc,
    ``Image.Resampling.LANCZOS`` in today's PIL): sharper than bicubic at this 2.8× reduction.
    """
    from PIL import Image

    resized = image.convert("RGB").resize((64, 78), Image.Resampling.LANCZOS, reducing_gap=None)
    return np.asarray(resized, dtype=np.uint8)[7:71].transpose(2, 0, 1)  # (3, 64, 64)


def read_celeba_lists(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """File names, partition (0/1/2) and attributes in {0, 1} (N, 40) from the two CelebA list files."""
    partition_file, attr_file = folder / "list_eval_partition.txt", folder / "list_attr_celeba.txt"
    for path in (partition_file, attr_file):
        if not path.is_file():
            raise _missing(path, f"get it from {CELEBA_URL} (Anno/ and Eval/) into '{folder}/', "
                                 "or set config key 'images.download: true'")
    partition = dict(line.split() for line in partition_file.read_text().splitlines() if line.strip())
    lines = attr_file.read_text().splitlines()
    header = tuple(lines[1].split())
    if header != CELEBA_ATTRIBUTES:
        raise ValueError(f"'{attr_file}' does not list CelebA's 40 attributes in their usual order (got {len(header)} names)")
    n_attributes = len(header)
    names, attributes = [], []
    for line in lines[2:]:
        fields = line.split()
        if fields:
            names.append(fields[0])
            attributes.append([int(v) for v in fields[1 : 1 + n_attributes]])
    attrs = ((np.asarray(attributes, dtype=np.int64) + 1) // 2).astype(np.uint8)  # {-1, 1} -> {0, 1}
    return names, np.asarray([int(partition[name]) for name in names]), attrs


def _celeba(split: str, root: Path, download: bool) -> ImageSplit:
    """The aligned, cropped CelebA faces at 64×64; converted once and cached beside the originals."""
    folder = root / "celeba"
    cache = folder / "ali_bench_64" / f"{split}_{CELEBA_CACHE_VERSION}.npz"
    if not cache.is_file():
        if download and not (folder / "list_eval_partition.txt").is_file():
            import torchvision

            torchvision.datasets.CelebA(str(root), split="all", target_type="attr", download=True)
        names, partition, attributes = read_celeba_lists(folder)
        keep = np.flatnonzero(partition == CELEBA_SPLITS[split])
        images = _convert_images([folder / "img_align_celeba" / names[i] for i in keep], celeba_64, f"CelebA {split}")
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, attributes=attributes[keep])
    with np.load(cache) as archive:
        return ImageSplit(torch.from_numpy(archive["images"]), torch.from_numpy(archive["attributes"]))


def _convert_images(paths: list[Path], convert, description: str) -> np.ndarray:
    from PIL import Image
    from tqdm import tqdm

    out = None
    for i, path in enumerate(tqdm(paths, desc=f"converting {description}", unit="image", mininterval=5)):
        if not path.is_file():
            raise _missing(path, "the image folder is incomplete")
        with Image.open(path) as image:
            array = convert(image)
        if out is None:
            out = np.empty((len(paths), *array.shape), dtype=np.uint8)
        out[i] = array
    if out is None:
        raise DatasetMissing(f"no images found for {description}")
    return out


# --------------------------------------------------------------------------------------------------
# Tiny ImageNet (64×64 ImageNet, from an image folder)


def center_crop_64(image) -> np.ndarray:
    """The largest centred square, resized (antialiased) to 64×64: "a center-cropped, 64×64 ImageNet"."""
    from PIL import Image

    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((64, 64), Image.Resampling.BICUBIC, reducing_gap=None), dtype=np.uint8).transpose(2, 0, 1)


def _tiny_imagenet(split: str, root: Path, download: bool) -> ImageSplit:
    """An ImageFolder tree ``tiny_imagenet/<split>/<class>/<image>``; converted once and cached.

    The paper's file (``ilsvrc2012_tiny.hdf5``) was never published and has no download; build the
    folder from ImageNet (train: the 1.28M training images; valid: the 50k validation images).
    """
    folder = root / "tiny_imagenet" / split
    cache = root / "tiny_imagenet" / "ali_bench_64" / f"{split}.npz"
    if not cache.is_file():
        if not folder.is_dir():
            raise _missing(folder, "no download exists; build an ImageFolder tree <split>/<class>/<image> from "
                                   f"ImageNet under '{root / 'tiny_imagenet'}/' (see README)")
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

        _, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
        images = _convert_images([Path(p) for p, _ in samples], center_crop_64, f"Tiny ImageNet {split}")
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, labels=np.asarray([c for _, c in samples], dtype=np.int64))
    with np.load(cache) as archive:
        return ImageSplit(torch.from_numpy(archive["images"]), torch.from_numpy(archive["labels"]))
