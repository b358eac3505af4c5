"""Device choice: the code picks its own device (Snakemake's gpu resource is only a token).

Why the card claim: on one box with N GPUs, ``snakemake --resources gpu=N`` lets N training jobs run
at once but tells none of them which card to use, so every one would land on card 0. Each process
therefore takes the first free card under an exclusive ``flock`` on a per-card lock file and keeps
it for its lifetime. A flock (unlike a pid file) dies with its process, even on SIGKILL, so a
crashed or killed job never leaves a card marked busy.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import torch

from ali_bench.config import ConfigError

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "ALI_BENCH_GPU_LOCK_DIR"


def resolve_device(choice: str) -> torch.device:
    """Map the config's ``device`` (auto | cpu | cuda) to a torch.device, failing clearly.

    With more than one visible GPU the process claims a card of its own (``claim_card``), once per
    process however often this is called, and makes it the current device so that code using the
    default device (streams, CUDA graphs, ``get_device_name()``) follows. With one visible card
    (a single-GPU box, or CUDA_VISIBLE_DEVICES pinning one, as SLURM does) nothing is locked.
    """
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    elif choice == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device' is 'cuda' but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    device = torch.device(choice)
    if device.type != "cuda" or device.index is not None:
        return device
    n_cards = torch.cuda.device_count()
    if n_cards <= 1:
        return device
    index, _ = _claimed_card(n_cards, gpu_lock_dir())
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def gpu_lock_dir() -> Path:
    """Where the card locks live: $ALI_BENCH_GPU_LOCK_DIR, else a per-user folder in the temp dir.

    Locks are per machine (a local folder; flock is not for network file systems) and per user (two
    users' jobs do not see each other's claims unless both point $ALI_BENCH_GPU_LOCK_DIR at one
    folder that both can write to).
    """
    if os.environ.get(LOCK_DIR_ENV):
        return Path(os.environ[LOCK_DIR_ENV])
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container user with no passwd entry
        user = str(os.getuid())
    return Path(tempfile.gettempdir()) / f"ali_bench_gpus_{user}"


def card_names(n_cards: int) -> list[str]:
    """Lock-file stems for the visible cards, named after the physical card where CUDA_VISIBLE_DEVICES
    says which it is: two runs of one user that see different subsets (0,1 and 2,3) then lock
    different files, and two that see the same card lock the same file."""
    visible = [entry.strip() for entry in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if entry.strip()]
    if len(visible) < n_cards:
        visible = [str(i) for i in range(n_cards)]
    return ["gpu" + re.sub(r"[^A-Za-z0-9_.-]", "_", entry) for entry in visible[:n_cards]]


def claim_card(
    n_cards: int, lock_dir: Path, wait_s: float = float("inf"), poll_s: float = 1.0, names: Sequence[str] | None = None
) -> tuple[int, IO[str]]:
    """Take the first card 0..n_cards-1 whose lock file no other process holds; return its index and
    the open lock file. The claim lasts while that file stays open (or until the process ends).

    When every card is held, wait for one (never share a card silently), saying so once; after
    ``wait_s`` seconds raise TimeoutError. ``names`` are the lock-file stems (default gpu0, gpu1, ...).
    """
    import fcntl  # POSIX only; imported here so that device.py still imports where there is none

    names = list(names) if names is not None else [f"gpu{i}" for i in range(n_cards)]
    lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    said_waiting = False
    while True:
        for index, name in enumerate(names):
            # read-only: flock needs no write access, so a lock dir shared by several users works
            handle = os.fdopen(os.open(lock_dir / f"{name}.lock", os.O_RDONLY | os.O_CREAT, 0o644), "r")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            except BaseException:
                handle.close()
                raise
            return index, handle
        if not said_waiting:
            log.warning(
                "all %d GPUs are held by other ali_bench jobs; waiting for one (run snakemake with --resources gpu=%d)",
                n_cards,
                n_cards,
            )
            said_waiting = True
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no free GPU among {n_cards} after {wait_s:g} s (locks in {lock_dir})")
        time.sleep(poll_s)


@functools.cache
def _claimed_card(n_cards: int, lock_dir: Path) -> tuple[int, IO[str]]:
    """This process's card, claimed on first use; the cache keeps the lock file open (and so the
    claim alive) for the life of the process, and makes later calls return the same card."""
    names = card_names(n_cards)
    index, handle = claim_card(n_cards, lock_dir, names=names)
    log.info("using GPU %d of %d (lock %s)", index, n_cards, lock_dir / f"{names[index]}.lock")
    return index, handle


def device_name(device: torch.device) -> str:
    """A human-readable name for provenance: the GPU model, or the CPU with its thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
