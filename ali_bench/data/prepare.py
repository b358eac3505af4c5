"""Data preparation as a step of its own: download, check against the official checksums, convert
the 64×64 caches, and write a manifest of exactly what the split holds.

Why a step of its own (the workflow's ``prepare_data`` jobs, workflow/rules/data.smk):
- GPU jobs never reach the network or spend their allocation decoding 200,000 JPEGs: they read
  only what this step made (``load_split(..., prepared_only=True)``).
- One job per (dataset, split) builds each cache, so two trainings never convert the same images
  at once; splits that share a download (CIFAR-10's batches, CelebA's files) take a file lock
  around it, so two preparations never download into one folder together.
- Files a user placed by hand are checked here, as on every read (ali_bench/data/checksums.py),
  against the checksums the datasets publish (the same MD5s torchvision's downloaders check; a test
  compares the two tables), with one line naming a bad file. The manifest then records the files' MD5s and the split's array hashes, and
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
from ali_bench.data.checksums import md5

MANIFEST_FORMAT = "ali-bench/data-manifest/1"
log = logging.getLogger(__name__)

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


def prepare_split(dataset: str, split: str, root: str | Path, download: bool | str, workers: int = 1,
                  verify: bool = True) -> dict[str, Any]:
    """Fetch (if asked), check, convert and read one split; its manifest (a JSON-ready dict)."""
    root = Path(root)
    if images.wants_download(dataset, download):
        with download_lock(root, dataset):
            images.fetch(dataset, split, root)
    data = images.load_split(dataset, split, root, verify=verify, workers=workers)  # checks, converts a missing cache
    files = images.check_official_files(dataset, split, root, verify)  # the records (the MD5s are computed once)
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


def _short(value: Any) -> Any:
    return value[:16] if isinstance(value, str) else value


def check_manifests(manifests: list[str | Path] | None, loaded: dict[tuple[str, str], Any]) -> None:
    """Refuse, before any training step, a split that is not what its manifest records: its number of
    examples, or the hash of its images or labels, differs. ``loaded`` maps (dataset, split) to the
    ImageSplit the job read; manifests of splits it did not read are left alone.

    Why: the manifest is what the model's provenance copies as its data. A manifest edited by hand
    (1,000 examples where 1,297 were read), or data replaced after preparation, would otherwise give a
    model whose record names other bytes than it was trained on."""
    for path in manifests or []:
        manifest = read_manifest(path)
        dataset, split = manifest.get("dataset"), manifest.get("split")
        data = loaded.get((dataset, split))
        if data is None:
            continue
        now = {
            "examples": len(data),
            "images_sha256": array_sha256(data.images.numpy()),
            "labels_sha256": array_sha256(data.labels.numpy()),
        }
        for key, value in now.items():
            if manifest.get(key) != value:
                # --forcerun names the manifest, not a rule: the embedded digits' is no prepare_data job
                raise images.DatasetCorrupt(
                    f"data manifest '{path}' records {key} {_short(manifest.get(key))!r} for {dataset} {split}, but "
                    f"the split read now has {_short(value)!r}: the data or the manifest changed after prepare-data; "
                    f"prepare it again (snakemake <your targets> --forcerun {path})"
                )


def data_provenance(manifests: list[str | Path] | None) -> dict[str, Any]:
    """The data manifests (``--data-manifest``) a training was given, for its provenance."""
    if not manifests:
        return {"data": "not recorded (no --data-manifest; the workflow passes the prepare_data manifests)"}
    return {"data": provenance_record(manifests)}


def provenance_record(paths: list[str | Path]) -> list[dict[str, Any]]:
    """What a training's provenance says about its data: each split's manifest, less where it lived
    (a path on one machine says nothing about the bytes)."""
    return [{key: value for key, value in read_manifest(path).items() if key not in ("format", "data_root")}
            for path in paths]
