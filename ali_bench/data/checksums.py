"""The published dataset files' MD5s and split sizes, checked on every read of an official file.

Why on every read and not only in ``prepare-data``: a command run by hand (``features``,
``image-train``) on a file that is not the published one would otherwise measure other bytes
without a word. The check costs one MD5 per file per process (a few seconds for SVHN's 1.3 GB
``extra``); ``images.verify_checksums: false`` turns it off for files that are knowingly another
version (and the data manifest then records that they were not checked).

The MD5s are the ones torchvision's downloaders check (``SVHN.split_list``, ``CIFAR10.train_list``
/ ``test_list``, ``CelebA.file_list``; tests/test_data_prepare.py compares the tables). CelebA's
images come in one zip whose checksum says nothing about an extracted folder: its two list files
are checked, and they decide which images a split holds. Digits (scikit-learn's bundled copy) and
Tiny ImageNet (built by the user from ImageNet) have no official files.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from ali_bench.data.errors import ChecksumMismatch, DatasetMissing

VERIFY_KEY = "images.verify_checksums"

KNOWN_MD5 = {
    "svhn/train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "svhn/test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    "svhn/extra_32x32.mat": "a93ce644f1a588dc4d68dda5feec44a7",
    "cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
    "cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
    "cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
    "celeba/list_attr_celeba.txt": "75e246fa4810816ffd6ee81facbd244c",
    "celeba/list_eval_partition.txt": "d32c9cbf5e040fd4025c592c306e6668",
}

# Examples per split of the published files (SVHN's and CIFAR-10's pages; CelebA's partition list:
# 0, 1, 2 = train, valid, test). CIFAR-10's train/valid are the released code's [0, 45000) and
# [45000, 50000) of the training batches. A split of another size was read wrongly.
PUBLISHED_SIZES = {
    ("svhn", "train"): 73_257,
    ("svhn", "extra"): 531_131,
    ("svhn", "test"): 26_032,
    ("cifar10", "train"): 45_000,
    ("cifar10", "valid"): 5_000,
    ("cifar10", "test"): 10_000,
    ("cifar10", "train_all"): 50_000,
    ("celeba", "train"): 162_770,
    ("celeba", "valid"): 19_867,
    ("celeba", "test"): 19_962,
}


def cifar10_files(split: str) -> list[str]:
    """The batch files a CIFAR-10 split reads."""
    return ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]


def split_files(dataset: str, split: str) -> list[str]:
    """The official files (relative to the data root) that ``split`` is read from."""
    if dataset == "svhn":
        return [f"svhn/{split}_32x32.mat"]
    if dataset == "cifar10":
        return [f"cifar-10-batches-py/{name}" for name in cifar10_files(split)]
    if dataset == "celeba":
        return ["celeba/list_attr_celeba.txt", "celeba/list_eval_partition.txt"]
    return []


def md5(path: Path) -> str:
    stat = path.stat()
    return _md5(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    """Once per (file, size, modification time) and process: a job reads its splits more than once."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def check_file(root: Path, relative: str, verify: bool, missing_fix: str) -> dict[str, Any]:
    """One official file's size and MD5; refused in one line when it is missing or, with ``verify``,
    not the published file."""
    path = root / relative
    if not path.is_file():
        raise DatasetMissing(f"dataset file '{path}' is missing: {missing_fix}")
    digest, expected = md5(path), KNOWN_MD5.get(relative)
    if verify and expected is not None and digest != expected:
        raise ChecksumMismatch(f"dataset file '{path}' has MD5 {digest}, but the published file has {expected}: it is "
                               f"damaged or another version; delete it and download it again (or, to use it as it "
                               f"is, set config key '{VERIFY_KEY}: false')")
    return {"path": relative, "bytes": path.stat().st_size, "md5": digest,
            "checked_against_published_md5": verify and expected is not None}


def check_size(dataset: str, split: str, examples: int, verify: bool) -> None:
    """A split read from the published files has the published number of examples."""
    expected = PUBLISHED_SIZES.get((dataset, split))
    if verify and expected is not None and examples != expected:
        raise ChecksumMismatch(f"dataset {dataset!r} split {split!r} has {examples:,} examples, but the published split "
                               f"has {expected:,}: its files are cut short or another version; delete them and download "
                               f"them again (or set config key '{VERIFY_KEY}: false')")
