"""Data preparation as a step of its own: download, check against the official checksums, convert
the 64×64 caches, and write a manifest of exactly what the split holds.

Why a step of its own (the workflow's ``prepare_data`` jobs, workflow/rules/data.smk):
- GPU jobs never reach the network or spend their allocation decoding 200,000 JPEGs: they read
  only what this step made (``load_split(..., prepared_only=True)``).
- One job per (dataset, split) builds each cache, so two trainings never convert the same images
  at once; splits that share a download (CIFAR-10's batches, CelebA's files) take a file lock
  around it, so two preparations never download into one folder together.
- Files a user placed by hand are checked once, here, against the checksums the datasets publish
  (the same MD5s torchvision's downloaders check; a test compares the two tables), with one line
  naming a bad file. The manifest then records the files' MD5s and the split's array hashes, and
  every training copies it into its provenance: a reviewer can tell which bytes a number came from.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ali_bench.data import images

MANIFEST_FORMAT = "ali-bench/data-manifest/1"
log = logging.getLogger(__name__)

# The official files' MD5s (what torchvision.datasets.SVHN.split_list, CIFAR10.train_list/test_list
# and CelebA.file_list check; tests/test_data_prepare.py compares them). CelebA's images come in
# one zip whose checksum says nothing about an extracted folder: the two list files are checked,
# and the converted cache's MD5 is recorded. Digits (scikit-learn's bundled copy) and Tiny ImageNet
# (built by the user from ImageNet) have no official files: their arrays' hashes are recorded.
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


def split_files(dataset: str, split: str) -> list[str]:
    """The official files (relative to the data root) that ``split`` is read from."""
    if dataset == "svhn":
        return [f"svhn/{split}_32x32.mat"]
    if dataset == "cifar10":
        return [f"cifar-10-batches-py/{name}" for name in images.cifar10_files(split)]
    if dataset == "celeba":
        return ["celeba/list_attr_celeba.txt", "celeba/list_eval_partition.txt"]
    return []


def md5(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def check_file(root: Path, relative: str) -> dict[str, Any]:
    """One official file's size and MD5, refused in one line when it is not the published file."""
    path = root / relative
    if not path.is_file():
        raise images.DatasetMissing(f"dataset file '{path}' is missing: put the dataset there (see README, Data) "
                                    "or set config key 'images.download: true'")
    digest, expected = md5(path), KNOWN_MD5.get(relative)
    if expected is not None and digest != expected:
        raise images.DatasetCorrupt(f"dataset file '{path}' has MD5 {digest}, but the published file has {expected}: "
                                    "it is damaged or another version; delete it and download it again")
    return {"path": relative, "bytes": path.stat().st_size, "md5": digest, "checked_against_published_md5": expected is not None}


@contextmanager
def download_lock(root: Path, dataset: str):
    """Hold ``<root>/.ali_bench_<dataset>.lock`` while fetching: the splits of one download (CIFAR-10's
    batches, CelebA's files) are prepared by separate jobs, and only one of them may download."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".ali_bench_{dataset}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def array_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def prepare_split(dataset: str, split: str, root: str | Path, download: bool, workers: int = 1) -> dict[str, Any]:
    """Fetch (if asked), check, convert and read one split; its manifest (a JSON-ready dict)."""
    root = Path(root)
    if download:
        with download_lock(root, dataset):
            images.fetch(dataset, split, root)
    files = [check_file(root, relative) for relative in split_files(dataset, split)]
    data = images.load_split(dataset, split, root, workers=workers)  # converts a missing 64×64 cache
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "dataset": dataset,
        "split": split,
        "data_root": str(root.resolve()),
        "files": files,
        "examples": len(data),
        "image_shape": list(data.images.shape[1:]),
        "images_sha256": array_sha256(data.images.numpy()),
        "labels_sha256": array_sha256(data.labels.numpy()),
    }
    if dataset in images.CACHED:
        cache = images.cache_path(dataset, split, root)
        manifest["cache"] = {"path": str(cache.relative_to(root)), "bytes": cache.stat().st_size, "md5": md5(cache)}
    if dataset == "digits":
        manifest["source"] = f"scikit-learn {importlib.metadata.version('scikit-learn')} load_digits()"
    return manifest


def read_manifest(path: str | Path) -> dict[str, Any]:
    """A manifest written by prepare-data; anything else is refused in one line."""
    import json

    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise images.DatasetCorrupt(f"data manifest '{path}' cannot be read ({error}); delete it and prepare the data "
                                    "again") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise images.DatasetCorrupt(f"'{path}' is not a data manifest of format {MANIFEST_FORMAT}; delete it and "
                                    "prepare the data again")
    return manifest


def provenance_record(paths: list[str | Path]) -> list[dict[str, Any]]:
    """What a training's provenance says about its data: each split's manifest, less where it lived
    (a path on one machine says nothing about the bytes)."""
    return [{key: value for key, value in read_manifest(path).items() if key not in ("format", "data_root")}
            for path in paths]
