"""The converted 64×64 caches of the datasets stored as image files (CelebA, Tiny ImageNet).

Why a cache: decoding and resizing 200,000 JPEGs costs minutes of CPU per core, so each split is
converted once (by its ``prepare_data`` job, in several processes) into one ``.npz`` beside the
originals, and every later read loads that. Where a cache lives and what names it:
``data/images.py``'s ``cache_path`` (a digest of what it is converted from, per dataset).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ali_bench.data.errors import DatasetMissing
from ali_bench.data.reading import ImageSplit, corrupt, missing

CONVERT_CHUNK = 256  # images per task when converting in several processes


def feed_file_stats(digest, folder: Path, names: list[str]) -> None:
    """Add each image file's name, size and modification time to ``digest``: a cache named by it is
    never served after an image was replaced under its old name (a copy of another version, a
    re-download), at the cost of one stat per image (about a second for CelebA's 202,599, against
    minutes to read and hash them). A name with no file adds a marker: the conversion names it."""
    for name in names:
        try:
            stat = (folder / name).stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        except FileNotFoundError:
            digest.update(f"{name}\0missing\0".encode())


def _convert_one(path: Path, convert) -> np.ndarray:
    from PIL import Image

    if not path.is_file():
        raise missing(path, "the image folder is incomplete")
    try:
        with Image.open(path) as image:
            return convert(image)
    except (OSError, SyntaxError, ValueError) as error:  # PIL: unidentified, truncated or broken image
        raise corrupt(path, "a readable image", error, "replace it with the dataset's original file") from None


def _convert_chunk(paths: list[Path], convert) -> np.ndarray:
    return np.stack([_convert_one(path, convert) for path in paths])


def convert_images(paths: list[Path], convert, description: str, workers: int = 1) -> np.ndarray:
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


def read_cache(cache: Path, targets: str) -> ImageSplit:
    """A converted 64×64 cache; a broken one (a copy cut short) is named, with the fix: delete it."""
    try:
        with np.load(cache) as archive:
            return ImageSplit(torch.from_numpy(archive["images"]), torch.from_numpy(archive[targets]))
    except Exception as error:  # zipfile, pickle and key errors alike
        raise corrupt(cache, "a readable converted-image cache", f"{type(error).__name__}: {error}",
                      "delete it; the next run converts the images again") from None
