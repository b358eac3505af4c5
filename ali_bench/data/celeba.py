"""CelebA, aligned and cropped: ``celeba/img_align_celeba/*.jpg`` and its two list files under the
data root, converted once to a 64×64 cache (``data/cache64.py``) as Fuel's ``convert_celeba_64``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ali_bench.atomic import atomic_path
from ali_bench.data import checksums
from ali_bench.data.cache64 import convert_images, feed_file_stats, read_cache
from ali_bench.data.errors import DownloadFailed
from ali_bench.data.reading import SWITCH, ImageSplit, corrupt, download, missing, text_lines
from ali_bench.data.registry import DATASETS

URL = DATASETS["celeba"].source
SPLITS = {"train": 0, "valid": 1, "test": 2}  # the partition list's numbers
CACHE_VERSION = "lanczos"  # in the cache file names: caches converted with another filter are not reused
# The 40 attributes in the order of list_attr_celeba.txt's header (and of the label vectors).
ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs", "Big_Lips", "Big_Nose",
    "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses",
    "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes",
    "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling",
    "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)


def files(split: str) -> list[str]:
    """Both list files, whatever the split: together they decide its images and attributes."""
    del split
    return ["celeba/list_attr_celeba.txt", "celeba/list_eval_partition.txt"]


def missing_fix(relative: str, root: Path) -> str:
    del relative
    return f"get it from {URL} (Anno/ and Eval/) into '{root / 'celeba'}/', {SWITCH}"


def source_digest(split: str, root: Path) -> str:
    """What the split's cache is converted from: the two list files (their MD5s), which decide the
    split's images and attributes, and each of the split's images by name, size and modification
    time (``cache64.feed_file_stats``: a stat, not a read, per image)."""
    digest = hashlib.sha256()
    for relative in files(split):  # found, or named as missing
        digest.update(checksums.check_file(root, relative, False, missing_fix(relative, root))["md5"].encode())
    names, partition, _ = read_lists(root / "celeba")
    split_names = [names[i] for i in np.flatnonzero(partition == SPLITS[split])]
    feed_file_stats(digest, root / "celeba" / "img_align_celeba", split_names)
    return digest.hexdigest()


def cache_name(split: str, key: str) -> str:
    return f"{split}_{CACHE_VERSION}_{key}.npz"


def to_64(image) -> np.ndarray:
    """Fuel's ``convert_celeba_64``: resize to 64 wide × 78 high, keep rows 7..70: 64×64.

    The filter is Fuel's, ``Image.ANTIALIAS``, which is PIL's Lanczos (a 3-lobe windowed sinc,
    ``Image.Resampling.LANCZOS`` in today's PIL): sharper than bicubic at this 2.8× reduction.
    """
    from PIL import Image

    resized = image.convert("RGB").resize((64, 78), Image.Resampling.LANCZOS, reducing_gap=None)
    return np.asarray(resized, dtype=np.uint8)[7:71].transpose(2, 0, 1)  # (3, 64, 64)


def read_lists(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """File names, partition (0/1/2) and attributes in {0, 1} (N, 40) from the two CelebA list files."""
    partition_file, attr_file = folder / "list_eval_partition.txt", folder / "list_attr_celeba.txt"
    for path in (partition_file, attr_file):
        if not path.is_file():
            raise missing(path, missing_fix(f"celeba/{path.name}", folder.parent))
    fix = f"get it again from {URL}"
    partition = {}
    for number, line in enumerate(text_lines(partition_file, fix), start=1):
        fields = line.split()
        if fields and (len(fields) != 2 or fields[1] not in ("0", "1", "2")):
            raise corrupt(partition_file, "CelebA's partition list", f"line {number} is {line[:60]!r}, expected "
                           "'<image> 0|1|2'", fix)
        if fields and fields[0] in partition:
            raise corrupt(partition_file, "CelebA's partition list", f"line {number} names {fields[0]!r} a second time",
                           fix)
        if fields:
            partition[fields[0]] = int(fields[1])
    lines = text_lines(attr_file, fix)
    header = tuple(lines[1].split()) if len(lines) > 1 else ()
    if header != ATTRIBUTES:
        raise corrupt(attr_file, "CelebA's attribute list", f"got {len(header)} attribute names", "its second line must "
                       "list the 40 attributes in their usual order; " + fix)
    n_attributes = len(header)
    names, attributes, seen = [], [], set()
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 1 + n_attributes or any(v not in ("-1", "1") for v in fields[1:]):
            raise corrupt(attr_file, "CelebA's attribute list", f"line {number} is {line[:60]!r}, expected an image "
                           f"name and {n_attributes} values of -1 or 1", fix)
        if fields[0] not in partition:
            raise corrupt(partition_file, "CelebA's partition list", f"it has no line for {fields[0]!r}", fix)
        if fields[0] in seen:
            raise corrupt(attr_file, "CelebA's attribute list", f"line {number} names {fields[0]!r} a second time", fix)
        seen.add(fields[0])
        names.append(fields[0])
        attributes.append([int(v) for v in fields[1:]])
    unlisted = [name for name in partition if name not in seen]
    if unlisted:  # a cut-short attribute list would otherwise drop these images from their split
        raise corrupt(attr_file, "CelebA's attribute list", f"it has no line for {len(unlisted):,} of the partition "
                       f"list's images, the first {unlisted[0]!r}", fix)
    attrs = ((np.asarray(attributes, dtype=np.int64).reshape(-1, n_attributes) + 1) // 2).astype(np.uint8)  # {-1, 1} -> {0, 1}
    return names, np.asarray([partition[name] for name in names], dtype=np.int64), attrs


def fetch(split: str, root: Path) -> None:
    del split  # one download holds every split
    folder = root / "celeba"
    if not (folder / "list_eval_partition.txt").is_file():
        import importlib.util

        import torchvision

        if importlib.util.find_spec("gdown") is None:
            raise DownloadFailed("downloading CelebA (Google Drive) needs gdown: pip install 'ali-bench[celeba]' "
                                 f"(or gdown), or get the files from {URL} into '{folder}/'")
        download(lambda: torchvision.datasets.CelebA(str(root), split="all", target_type="attr", download=True),
                 URL, folder, "put img_align_celeba/, list_attr_celeba.txt and list_eval_partition.txt")


def read(split: str, root: Path, cache: Path, workers: int = 1) -> ImageSplit:
    """The aligned, cropped CelebA faces at 64×64; converted once and cached beside the originals."""
    folder = root / "celeba"
    if not cache.is_file():
        names, partition, attributes = read_lists(folder)
        keep = np.flatnonzero(partition == SPLITS[split])
        images = convert_images([folder / "img_align_celeba" / names[i] for i in keep], to_64, f"CelebA {split}",
                                workers)
        with atomic_path(cache) as tmp:
            np.savez(tmp, images=images, attributes=attributes[keep])
    return read_cache(cache, "attributes")
