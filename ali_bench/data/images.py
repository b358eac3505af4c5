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
from ali_bench.data import checksums
from ali_bench.data.errors import DatasetCorrupt, DatasetMissing, DownloadFailed

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


def _corrupt(path: Path, expected: str, reason: object, fix: str) -> DatasetCorrupt:
    detail = " ".join(str(reason).split())[:160]  # one line, whatever the parser said
    return DatasetCorrupt(f"dataset file '{path}' is not {expected} ({detail}): {fix}")


DOWNLOAD_TIMEOUT_S = 60  # per network read: a firewall that drops packets fails in a minute, not never


def _download(fetch, url: str, folder: Path, by_hand: str) -> None:
    """Run a torchvision download; without network (or with a refused one) one line, not a traceback."""
    import socket
    import urllib.error

    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torchvision's urlopen takes no timeout of its own
    try:
        fetch()
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        reason = " ".join(str(getattr(error, "reason", error)).split())[:160]
        raise DownloadFailed(f"could not download {url} ({reason}); {by_hand} into '{folder}/', or set config key "
                             "'images.download: false' to stop downloads") from None
    finally:
        socket.setdefaulttimeout(before)


@dataclass(frozen=True)
class ImageSplit:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class labels, or (N, 40) uint8 attributes (CelebA)

    def __len__(self) -> int:
        return len(self.images)


def load_split(dataset: str, split: str, root: str | Path, download: bool | str = False, *, prepared_only: bool = False,
               verify: bool = False, workers: int = 1) -> ImageSplit:
    """One split of one dataset; a missing file raises DatasetMissing naming it and the remedy.

    ``download``: config key images.download, ``auto``, true or false (``wants_download``).
    ``prepared_only``: read what ``prepare-data`` made and nothing else: no download, no conversion
    of images into a 64×64 cache (what the workflow's training and evaluation jobs ask, so that GPU
    jobs never reach the network or convert images; ali_bench/data/prepare.py). ``verify``: the
    official files must be the published ones and the split its published size (the commands pass
    config key images.verify_checksums, true by default; ali_bench/data/checksums.py). ``workers``:
    processes that convert images into a missing cache.
    """
    _check_split(dataset, split)
    root = Path(root)
    if not prepared_only and wants_download(dataset, download):
        fetch(dataset, split, root)
    check_official_files(dataset, split, root, verify)  # before reading: CelebA's lists decide what is converted
    if dataset in CACHED:
        cache = cache_path(dataset, split, root)
        if prepared_only and not cache.is_file():
            raise DatasetMissing(f"dataset cache '{cache}' is missing: prepare the data first (python -m ali_bench "
                                 f"prepare-data --dataset {dataset} --split {split}; in the workflow, snakemake "
                                 "--forcerun prepare_data plus your targets)")
        data = {"celeba": _celeba, "tiny_imagenet": _tiny_imagenet}[dataset](split, root, cache, workers)
    else:
        data = {"digits": _digits, "svhn": _svhn, "cifar10": _cifar10}[dataset](split, root)
    checksums.check_size(dataset, split, len(data), verify)
    return data


def check_official_files(dataset: str, split: str, root: Path, verify: bool) -> list[dict]:
    """Each official file ``split`` reads, checked (``checksums.check_file``): its manifest records."""
    return [checksums.check_file(root, relative, verify, missing_fix(relative, root))
            for relative in checksums.split_files(dataset, split)]


def missing_fix(relative: str, root: Path) -> str:
    """What to do about a missing official file ``relative`` (to the data root): where to get it."""
    switch = "or set config key 'images.download: true'"
    if relative.startswith("svhn/"):
        return f"download {SVHN_URL}{Path(relative).name} into '{root / 'svhn'}/', {switch}"
    if relative.startswith("cifar-10-batches-py/"):
        return f"extract {CIFAR_URL} into '{root}/', {switch}"
    return f"get it from {CELEBA_URL} (Anno/ and Eval/) into '{root / 'celeba'}/', {switch}"


AUTO_DOWNLOAD = ("svhn", "cifar10")  # what images.download: auto fetches


def wants_download(dataset: str, download: bool | str) -> bool:
    """Whether ``images.download`` (auto, true or false) fetches ``dataset``'s missing files.

    Why ``auto`` is the default and leaves CelebA out: SVHN and CIFAR-10 come from their authors'
    university servers with published MD5s, so fetching them is what a user of the SVHN command
    wants; CelebA's files sit on a Google Drive that refuses downloads once its daily quota is
    spent and need gdown, so they are fetched only when asked (true). Tiny ImageNet has no download.
    """
    if download == "auto":
        return dataset in AUTO_DOWNLOAD
    if not isinstance(download, bool):
        raise ValueError(f"images.download is {download!r}; expected auto, true or false")
    return download


def _check_split(dataset: str, split: str) -> None:
    if dataset not in SPLITS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(SPLITS)}")
    if split not in SPLITS[dataset]:
        raise ValueError(f"dataset {dataset!r} has no split {split!r}; expected one of {', '.join(SPLITS[dataset])}")


def fetch(dataset: str, split: str, root: str | Path) -> None:
    """Download the files ``split`` reads, where they are missing (torchvision's downloaders, which
    also check the archives' checksums); a dataset without a download (digits, Tiny ImageNet) is a no-op."""
    _check_split(dataset, split)
    root = Path(root)
    if dataset == "svhn":
        _fetch_svhn(split, root)
    elif dataset == "cifar10":
        _fetch_cifar10(split, root)
    elif dataset == "celeba":
        _fetch_celeba(root)


CACHED = ("celeba", "tiny_imagenet")  # datasets read from a converted 64×64 cache
TINY_IMAGENET_FIX = "no download exists; build an ImageFolder tree <split>/<class>/<image> from ImageNet"


def cache_path(dataset: str, split: str, root: str | Path) -> Path:
    """Where ``dataset``'s converted 64×64 cache of ``split`` lives (CelebA, Tiny ImageNet).

    Named by a digest of what it is converted from (CelebA's two list files, which decide the
    split's images and attributes; Tiny ImageNet's list of image files), so a cache built from
    other lists (cut short, an older copy) is never read in their place: the images are converted
    again. Images replaced under the same names are not seen (hashing 200,000 JPEGs per job would
    cost minutes).
    """
    root = Path(root)
    if dataset not in CACHED:
        raise ValueError(f"dataset {dataset!r} has no converted cache; expected one of {', '.join(CACHED)}")
    key = _source_digest(dataset, split, root)[:16]
    if dataset == "celeba":
        return root / "celeba" / "ali_bench_64" / f"{split}_{CELEBA_CACHE_VERSION}_{key}.npz"
    return root / "tiny_imagenet" / "ali_bench_64" / f"{split}_{key}.npz"


def _source_digest(dataset: str, split: str, root: Path) -> str:
    import hashlib
    import os

    digest = hashlib.sha256()
    if dataset == "celeba":
        for record in check_official_files(dataset, split, root, verify=False):  # the lists' MD5s, found or named
            digest.update(record["md5"].encode())
        return digest.hexdigest()
    from torchvision.datasets.folder import IMG_EXTENSIONS

    folder = root / "tiny_imagenet" / split
    if not folder.is_dir():
        raise _missing(folder, f"{TINY_IMAGENET_FIX} under '{root / 'tiny_imagenet'}/' (docs/image-models.md)")
    names = sorted(os.path.relpath(os.path.join(top, name), folder) for top, _, files in os.walk(folder)
                   for name in files if name.lower().endswith(IMG_EXTENSIONS))  # os.walk: no stat per file
    for name in names:
        digest.update(name.encode() + b"\0")
    return digest.hexdigest()


def _missing(path: Path, how: str) -> DatasetMissing:
    return DatasetMissing(f"dataset file '{path}' is missing: {how}")


# --------------------------------------------------------------------------------------------------
# digits (embedded)


DIGITS_BOUNDS = {"train": (0, 1297), "valid": (1297, 1547), "test": (1547, 1797)}  # rows of the fixed permutation


def _digits(split: str, root: Path) -> ImageSplit:
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
    bounds = DIGITS_BOUNDS[split]
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

    fix = f"delete it and download {SVHN_URL}{path.name} again"
    try:
        mat = loadmat(str(path))
    except Exception as error:  # scipy raises ValueError, TypeError, OSError, ... on a bad file
        raise _corrupt(path, "a readable SVHN format-2 .mat file", error, fix) from None
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        raise _corrupt(path, "an SVHN format-2 .mat file", f"variables {sorted(k for k in mat if not k.startswith('__'))}, "
                       "expected X and y", fix)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or y.size != x.shape[3]:
        raise _corrupt(path, "an SVHN format-2 .mat file", f"X {x.dtype} {x.shape} and {y.size} labels, expected "
                       "uint8 (32, 32, 3, N) and N labels", fix)
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)))  # (N, 3, H, W), as torchvision
    labels = y.astype(np.int64).reshape(-1) % 10
    return images, labels


def _fetch_svhn(split: str, root: Path) -> None:
    folder = root / "svhn"
    path = folder / f"{split}_32x32.mat"
    if not path.is_file():
        import torchvision

        _download(lambda: torchvision.datasets.SVHN(str(folder), split=split, download=True), f"{SVHN_URL}{path.name}",
                  folder, f"put {path.name}")


def _svhn(split: str, root: Path) -> ImageSplit:
    folder = root / "svhn"
    path = folder / f"{split}_32x32.mat"
    if not path.is_file():
        raise _missing(path, missing_fix(f"svhn/{path.name}", root))
    images, labels = read_svhn_mat(path)
    return ImageSplit(torch.from_numpy(images), torch.from_numpy(labels))


# --------------------------------------------------------------------------------------------------
# CIFAR-10


def read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 python batch: a pickled dict with 'data' (N, 3072) uint8 and 'labels'."""
    expected, fix = "a CIFAR-10 python batch", f"delete it and extract {CIFAR_URL} again"
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="latin1")
    except Exception as error:  # unpickling garbage raises almost anything
        raise _corrupt(path, expected, f"{type(error).__name__}: {error}", fix) from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise _corrupt(path, expected, f"a {type(batch).__name__} without 'data' and 'labels'", fix)
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise _corrupt(path, expected, f"data {data.dtype} {data.shape} and labels {labels.shape}, expected "
                       "uint8 (N, 3072) and (N,)", fix)
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _fetch_cifar10(split: str, root: Path) -> None:
    folder = root / "cifar-10-batches-py"
    if not all((folder / name).is_file() for name in checksums.cifar10_files(split)):
        import torchvision

        _download(lambda: torchvision.datasets.CIFAR10(str(root), train=split != "test", download=True), CIFAR_URL,
                  root, "extract its cifar-10-batches-py/")


def _cifar10(split: str, root: Path) -> ImageSplit:
    """train = [0, 45000) and valid = [45000, 50000) of the training batches, as the released code."""
    folder = root / "cifar-10-batches-py"
    names = checksums.cifar10_files(split)
    for name in names:
        if not (folder / name).is_file():
            raise _missing(folder / name, missing_fix(f"cifar-10-batches-py/{name}", root))
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
            raise _missing(path, missing_fix(f"celeba/{path.name}", folder.parent))
    fix = f"get it again from {CELEBA_URL}"
    partition = {}
    for number, line in enumerate(_text_lines(partition_file, fix), start=1):
        fields = line.split()
        if fields and (len(fields) != 2 or fields[1] not in ("0", "1", "2")):
            raise _corrupt(partition_file, "CelebA's partition list", f"line {number} is {line[:60]!r}, expected "
                           "'<image> 0|1|2'", fix)
        if fields and fields[0] in partition:
            raise _corrupt(partition_file, "CelebA's partition list", f"line {number} names {fields[0]!r} a second time",
                           fix)
        if fields:
            partition[fields[0]] = int(fields[1])
    lines = _text_lines(attr_file, fix)
    header = tuple(lines[1].split()) if len(lines) > 1 else ()
    if header != CELEBA_ATTRIBUTES:
        raise _corrupt(attr_file, "CelebA's attribute list", f"got {len(header)} attribute names", "its second line must "
                       "list the 40 attributes in their usual order; " + fix)
    n_attributes = len(header)
    names, attributes, seen = [], [], set()
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + n_attributes or any(v not in ("-1", "1") for v in fields[1:]):
            raise _corrupt(attr_file, "CelebA's attribute list", f"line {number} is {line[:60]!r}, expected an image "
                           f"name and {n_attributes} values of -1 or 1", fix)
        if fields[0] not in partition:
            raise _corrupt(partition_file, "CelebA's partition list", f"it has no line for {fields[0]!r}", fix)
        if fields[0] in seen:
            raise _corrupt(attr_file, "CelebA's attribute list", f"line {number} names {fields[0]!r} a second time", fix)
        seen.add(fields[0])
        names.append(fields[0])
        attributes.append([int(v) for v in fields[1:]])
    unlisted = [name for name in partition if name not in seen]
    if unlisted:  # a cut-short attribute list would otherwise drop these images from their split
        raise _corrupt(attr_file, "CelebA's attribute list", f"it has no line for {len(unlisted):,} of the partition "
                       f"list's images, the first {unlisted[0]!r}", fix)
    attrs = ((np.asarray(attributes, dtype=np.int64).reshape(-1, n_attributes) + 1) // 2).astype(np.uint8)  # {-1, 1} -> {0, 1}
    return names, np.asarray([partition[name] for name in names], dtype=np.int64), attrs


def _text_lines(path: Path, fix: str) -> list[str]:
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as error:
        raise _corrupt(path, "a text file", error, fix) from None


def _fetch_celeba(root: Path) -> None:
    folder = root / "celeba"
    if not (folder / "list_eval_partition.txt").is_file():
        import importlib.util

        import torchvision

        if importlib.util.find_spec("gdown") is None:
            raise DownloadFailed("downloading CelebA (Google Drive) needs gdown: pip install 'ali-bench[celeba]' "
                                 f"(or gdown), or get the files from {CELEBA_URL} into '{folder}/'")
        _download(lambda: torchvision.datasets.CelebA(str(root), split="all", target_type="attr", download=True),
                  CELEBA_URL, folder, "put img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt")


def _celeba(split: str, root: Path, cache: Path, workers: int = 1) -> ImageSplit:
    """The aligned, cropped CelebA faces at 64×64; converted once and cached beside the originals."""
    folder = root / "celeba"
    if not cache.is_file():
        names, partition, attributes = read_celeba_lists(folder)
        keep = np.flatnonzero(partition == CELEBA_SPLITS[split])
        images = _convert_images([folder / "img_align_celeba" / names[i] for i in keep], celeba_64, f"CelebA {split}",
                                 workers)
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, attributes=attributes[keep])
    return _read_cache(cache, "attributes")


CONVERT_CHUNK = 256  # images per task when converting in several processes


def _convert_one(path: Path, convert) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise _missing(path, "the image folder is incomplete")
    try:
        with Image.open(path) as image:
            return convert(image)
    except (OSError, SyntaxError, ValueError) as error:  # PIL: unidentified, truncated or broken image
        raise _corrupt(path, "a readable image", error, "replace it with the dataset's original file") from None


def _convert_chunk(paths: list[Path], convert) -> np.ndarray:
    return np.stack([_convert_one(path, convert) for path in paths])


def _convert_images(paths: list[Path], convert, description: str, workers: int = 1) -> np.ndarray:
    """Every image through ``convert``, in order; in ``workers`` processes (decoding and resizing
    200,000 JPEGs is minutes of CPU per core: the prepare_data job gets several)."""
    from tqdm import tqdm

    if not paths:
        raise DatasetMissing(f"no images found for {description}")
    chunks = [paths[i : i + CONVERT_CHUNK] for i in range(0, len(paths), CONVERT_CHUNK)]
    bar = tqdm(total=len(paths), desc=f"converting {description}", unit="image", mininterval=5)
    out, done = None, 0

    def keep(part: np.ndarray) -> None:  # into one array as chunks arrive, in order (no second copy at the end)
        nonlocal out, done
        if out is None:
            out = np.empty((len(paths), *part.shape[1:]), dtype=np.uint8)
        out[done : done + len(part)] = part
        done += len(part)
        bar.update(len(part))

    if workers > 1 and len(chunks) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        # spawn, not fork: this process has imported torch (threads), and a forked child of a
        # multi-threaded process can deadlock (Python 3.12 warns about it)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for part in pool.map(partial(_convert_chunk, convert=convert), chunks):
                keep(part)
    else:
        for chunk in chunks:
            keep(_convert_chunk(chunk, convert))
    bar.close()
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


def _tiny_imagenet(split: str, root: Path, cache: Path, workers: int = 1) -> ImageSplit:
    """An ImageFolder tree ``tiny_imagenet/<split>/<class>/<image>``; converted once and cached.

    The paper's file (``ilsvrc2012_tiny.hdf5``) was never published and has no download; build the
    folder from ImageNet (train: the 1.28M training images; valid: the 50k validation images).
    """
    folder = root / "tiny_imagenet" / split
    if not cache.is_file():
        from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

        _, class_to_idx = find_classes(str(folder))
        samples = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS)
        images = _convert_images([Path(p) for p, _ in samples], center_crop_64, f"Tiny ImageNet {split}", workers)
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, labels=np.asarray([c for _, c in samples], dtype=np.int64))
    return _read_cache(cache, "labels")


def _read_cache(cache: Path, targets: str) -> ImageSplit:
    """A converted 64×64 cache; a broken one (a copy cut short) is named, with the fix: delete it."""
    try:
        with np.load(cache) as archive:
            return ImageSplit(torch.from_numpy(archive["images"]), torch.from_numpy(archive[targets]))
    except Exception as error:  # zipfile, pickle and key errors alike
        raise _corrupt(cache, "a readable converted-image cache", f"{type(error).__name__}: {error}",
                       "delete it; the next run converts the images again") from None
