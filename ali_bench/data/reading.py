"""What every image reader shares (``data/<dataset>.py``): the split they return, their one-line
errors, and the download wrapper.

Why uint8 tensors: training keeps the whole split on the device and gathers batches by index
(pixels become floats in [0, 1] inside the step, as Fuel's ``uint8_pixels_to_floatX``), so no
Python DataLoader sits between the GPU and the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ali_bench.data.errors import DatasetCorrupt, DatasetMissing, DownloadFailed

DOWNLOAD_TIMEOUT_S = 60  # per network read: a firewall that drops packets fails in a minute, not never


@dataclass(frozen=True)
class ImageSplit:
    images: torch.Tensor  # (N, 3, H, W) uint8
    labels: torch.Tensor  # (N,) int64 class labels, or (N, 40) uint8 attributes (CelebA)

    def __len__(self) -> int:
        return len(self.images)


def corrupt(path: Path, expected: str, reason: object, fix: str) -> DatasetCorrupt:
    detail = " ".join(str(reason).split())[:160]  # one line, whatever the parser said
    return DatasetCorrupt(f"dataset file '{path}' is not {expected} ({detail}): {fix}")


def missing(path: Path, how: str) -> DatasetMissing:
    return DatasetMissing(f"dataset file '{path}' is missing: {how}")


def text_lines(path: Path, fix: str) -> list[str]:
    try:
        return path.read_text().splitlines()
    except UnicodeDecodeError as error:
        raise corrupt(path, "a text file", error, fix) from None


def download(fetch, url: str, folder: Path, by_hand: str) -> None:
    """Run a torchvision download; without network (or with a refused one) one line, not a traceback."""
    import socket
    import urllib.error

    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torchvision's urlopen takes no timeout of its own
    try:
        fetch()
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        reason = " ".join(str(getattr(error, "reason", error)).split())[:160]
        raise DownloadFailed(
            f"could not download {url} ({reason}); {by_hand} into '{folder}/', or set config key "
            "'images.download: false' to stop downloads"
        ) from None
    finally:
        socket.setdefaulttimeout(before)


SWITCH = "or set config key 'images.download: true'"  # the end of a missing official file's fix
