"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one, never half.

Why: Snakemake decides what to rerun from which outputs exist; a table or checkpoint cut short by a
kill must not look finished. Every writer in ali_bench goes through ``atomic_path``.

Two details a shared results folder needs: the finished file gets the permissions any other file
would get under the process umask (``mkstemp`` creates 0600 files, which would hide every table and
model from the rest of a group), and hidden temporaries that a kill left beside an output are
removed by the next successful write of that output.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterator


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def _temporary_prefix(path: Path) -> str:
    return f".{path.stem}."


def _remove_stale_temporaries(path: Path, keep: Path) -> None:
    """Temporaries of ``path`` left by a killed writer (same prefix and suffix as ours), except ``keep``."""
    for stale in path.parent.glob(f"{_temporary_prefix(path)}*.tmp{path.suffix}"):
        if stale != keep:
            stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over ``path``.

    The temporary file keeps the final suffix, so writers that choose a format by extension
    (matplotlib, numpy) still do the right thing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _remove_stale_temporaries(path, keep=tmp)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
