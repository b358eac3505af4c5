"""Image datasets as one uint8 tensor each, (N, 3, H, W), read from their official on-disk formats.

``load_split`` is the one entry: it checks the split against the dataset's record
(``data/registry.py``), downloads what ``images.download`` asks for, checks the official files
against their published MD5s and sizes (``data/checksums.py``), and calls the dataset's reader, one
module per format (``data/<dataset>.py``; the 64×64 caches: ``data/cache64.py``). Files are read by
those modules' own small parsers of the official formats (what torchvision reads too); torchvision
is used to *download* them when the config allows, which also checks their checksums. Tests build
tiny files in the same formats and load them here.

| dataset       | folder under data_root         | files                                                        |
|---------------|--------------------------------|--------------------------------------------------------------|
| svhn          | svhn/                          | train_32x32.mat, extra_32x32.mat, test_32x32.mat (format 2)  |
| cifar10       | cifar-10-batches-py/           | data_batch_1..5, test_batch (python pickles)                 |
| celeba        | celeba/                        | img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt |
| tiny_imagenet | tiny_imagenet/<split>/<class>/ | any images, ImageFolder layout; center-cropped to 64×64      |
| digits        | (none)                         | scikit-learn's bundled 8×8 digits, scaled to 32×32           |
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ali_bench.data import checksums
from ali_bench.data.errors import ChecksumMismatch, DatasetCorrupt, DatasetMissing, DownloadFailed
from ali_bench.data.reading import ImageSplit
from ali_bench.data.registry import DATASETS

__all__ = ["ChecksumMismatch", "DatasetCorrupt", "DatasetMissing", "DownloadFailed", "ImageSplit", "load_split"]

SPLITS = {name: record.splits for name, record in DATASETS.items()}
AUTO_DOWNLOAD = tuple(name for name, record in DATASETS.items() if record.download == "auto")  # images.download: auto
CACHED = tuple(name for name, record in DATASETS.items() if record.cached)  # read from a converted 64×64 cache


def reader(dataset: str) -> ModuleType:
    """The module that reads ``dataset``'s format (its record's ``reader``), imported on first use."""
    return importlib.import_module(f"ali_bench.data.{DATASETS[dataset].reader}")


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
        data = reader(dataset).read(split, root, cache, workers)
    else:
        data = reader(dataset).read(split, root)
    checksums.check_size(dataset, split, len(data), verify)
    return data


def official_files(dataset: str, split: str) -> list[str]:
    """The official files (relative to the data root) that ``split`` is read from: its reader's
    ``files(split)``; none for a dataset without official files (digits, Tiny ImageNet)."""
    module = reader(dataset)
    return list(module.files(split)) if hasattr(module, "files") else []


def check_official_files(dataset: str, split: str, root: Path, verify: bool) -> list[dict]:
    """Each official file ``split`` reads, checked (``checksums.check_file``): its manifest records."""
    module = reader(dataset)
    locate = getattr(module, "locate", lambda relative, root: None)  # a reader that looks in more than one place
    return [checksums.check_file(root, relative, verify, module.missing_fix(relative, root), locate(relative, root))
            for relative in official_files(dataset, split)]


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
    module = reader(dataset)
    if hasattr(module, "fetch"):
        module.fetch(split, Path(root))


def cache_path(dataset: str, split: str, root: str | Path) -> Path:
    """Where ``dataset``'s converted 64×64 cache of ``split`` lives (CelebA, Tiny ImageNet).

    Named by a digest of what it is converted from (CelebA's two list files, which decide the
    split's images and attributes, and the split's image files; Tiny ImageNet's image files: the
    reader's ``source_digest``; each image by name, size and modification time), so a cache built
    from other lists or other images (cut short, an older copy, an image replaced) is never read in
    their place: the images are converted again.
    """
    root = Path(root)
    if dataset not in CACHED:
        raise ValueError(f"dataset {dataset!r} has no converted cache; expected one of {', '.join(CACHED)}")
    module = reader(dataset)
    key = module.source_digest(split, root)[:16]
    return root / dataset / "ali_bench_64" / module.cache_name(split, key)
