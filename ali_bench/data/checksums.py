"""The published dataset files' MD5s and split sizes, checked on every read of an official file.

Why on every read and not only in ``prepare-data``: a command run by hand (``features``,
``image-train``) on a file that is not the published one would otherwise measure other bytes
without a word. The check costs one MD5 per file per process (a few seconds for SVHN's 1.3 GB
``extra``); ``images.verify_checksums: false`` turns it off for files that are knowingly another
version (and the data manifest then records that they were not checked).

The MD5s are the ones torchvision's downloaders check (``SVHN.split_list``, ``CIFAR10.train_list``
/ ``test_list``, ``CelebA.file_list``; tests/data/test_data_prepare.py compares the tables). CelebA's
images come in one zip whose checksum says nothing about an extracted folder: its two list files
are checked, and they decide which images a split holds. Digits (scikit-learn's bundled copy) and
Tiny ImageNet (built by the user from ImageNet) have no official files.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from pathlib import Path
from typing import Any

from ali_bench.data.errors import ChecksumMismatch, DatasetMissing
from ali_bench.data.registry import DATASETS

VERIFY_KEY = "images.verify_checksums"

# the published MD5s and split sizes, from the dataset records (ali_bench/data/registry.py)
KNOWN_MD5 = {path: digest for record in DATASETS.values() for path, digest in record.md5.items()}
# A split of another size than published was read wrongly. CelebA's are its partition list's 0, 1, 2.
PUBLISHED_SIZES = {(record.name, split): n for record in DATASETS.values() for split, n in record.sizes.items()}


def md5(path: Path) -> str:
    stat = path.stat()
    return _md5(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    """Once per (file, size, modification time) and process: a job reads its splits more than once."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def content_md5(path: Path) -> str:
    """The MD5 of what ``path`` holds: a gzipped file's decompressed bytes (Fashion-MNIST's IDX files
    are published gzipped, but Debian's package recompressed them: other .gz bytes, the same data)."""
    if path.suffix != ".gz":
        return md5(path)
    stat = path.stat()
    return _gunzip_md5(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _gunzip_md5(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.md5()
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except (OSError, EOFError) as error:  # not gzip, or cut short
        raise ChecksumMismatch(f"dataset file '{path}' cannot be decompressed ({error}): it is damaged; delete it and "
                               "get it again") from None
    return digest.hexdigest()


def check_file(root: Path, relative: str, verify: bool, missing_fix: str, path: Path | None = None) -> dict[str, Any]:
    """One official file's size and MD5; refused in one line when it is missing or, with ``verify``,
    not the published file. ``path``: where it was found, when not at ``root / relative`` (a system
    package's folder, a gzipped copy); its published MD5 is still looked up by ``relative``."""
    path = root / relative if path is None else path
    if not path.is_file():
        raise DatasetMissing(f"dataset file '{path}' is missing: {missing_fix}")
    digest, expected = content_md5(path), KNOWN_MD5.get(relative)
    if verify and expected is not None and digest != expected:
        of = "decompressed contents have" if path.suffix == ".gz" else "has"
        raise ChecksumMismatch(f"dataset file '{path}' {of} MD5 {digest}, but the published file has {expected}: it is "
                               f"damaged or another version; delete it and download it again (or, to use it as it "
                               f"is, set config key '{VERIFY_KEY}: false')")
    record = {"path": relative if path == root / relative else str(path), "bytes": path.stat().st_size,
              "md5": digest, "checked_against_published_md5": verify and expected is not None}
    if path.suffix == ".gz":
        record["md5_of"] = "decompressed contents"
    return record


def check_size(dataset: str, split: str, examples: int, verify: bool) -> None:
    """A split read from the published files has the published number of examples."""
    expected = PUBLISHED_SIZES.get((dataset, split))
    if verify and expected is not None and examples != expected:
        raise ChecksumMismatch(f"dataset {dataset!r} split {split!r} has {examples:,} examples, but the published split "
                               f"has {expected:,}: its files are cut short or another version; delete them and download "
                               f"them again (or set config key '{VERIFY_KEY}: false')")
