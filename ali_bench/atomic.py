"""Atomic file writes: a reader (or a rerun after a kill) sees the old file or the new one, never half.

Why: Snakemake decides what to rerun from which outputs exist; a table or checkpoint cut short by a
kill must not look finished. Every writer in ali_bench goes through ``atomic_path``.

Three details a shared results folder needs:

- the finished file gets the permissions any other file would get under the process umask
  (``mkstemp`` creates 0600 files, which would hide every table and model from the rest of a group);
- hidden temporaries that a kill left beside an output are removed by the next successful write of
  that output, but only those that can no longer be in flight: a temporary's name carries its
  writer's pid and host, and it is removed when that process is gone (same host) or when it is
  older than ``STALE_AFTER_SECONDS`` (another host; a name without a writer, from before writers
  named themselves, is removed at once, as it always was). Another process
  writing the same output (a second checkout, a job Snakemake lost track of) keeps its file;
- a write that fails for want of space or permission is one line naming the output (``WriteFailed``),
  not a writer's traceback that names a hidden temporary.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

_UMASK_LOCK = threading.Lock()

STALE_AFTER_SECONDS = 24 * 3600  # a temporary this old is no write in flight (a checkpoint saves in minutes at most)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NO_PERMISSION = (errno.EACCES, errno.EPERM)
READ_ONLY_FILE_SYSTEM = (errno.EROFS,)  # no chmod helps: the mount itself is read-only
NEARLY_FULL_BYTES = 1 << 20  # a writer's RuntimeError with less free than this is taken for a full disk


class WriteFailed(RuntimeError):
    """An output that could not be written; the message names it, the cause, and what to do."""


def _umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    with _UMASK_LOCK:
        mask = os.umask(0)
        os.umask(mask)
    return mask


def _host() -> str:
    """This host's name as it may appear in a file name (no '@', no '/')."""
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"


def _temporary_prefix(path: Path) -> str:
    return f".{path.stem}."


def _writer_prefix(path: Path) -> str:
    """A temporary's prefix: the output's stem, then who writes it (``.models.1234@node7@``)."""
    return f"{_temporary_prefix(path)}{os.getpid()}@{_host()}@"


def _writer_of(path: Path, temporary: Path) -> tuple[int, str] | None | bool:
    """Who wrote ``temporary`` (pid, host); None for an old-style name without a writer; False when
    it is no temporary of ``path`` at all (e.g. ``.models.checkpoint.…`` seen from ``models.pt``)."""
    rest = temporary.name[len(_temporary_prefix(path)) :]
    suffix = re.escape(f".tmp{path.suffix}")
    named = re.fullmatch(rf"(\d+)@([A-Za-z0-9.-]+)@[^@./]+{suffix}", rest)
    if named:
        return int(named.group(1)), named.group(2)
    return None if re.fullmatch(rf"[^@./]+{suffix}", rest) else False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _in_flight(path: Path, temporary: Path) -> bool:
    """Whether ``temporary`` may still be written by someone: its writer lives, or it is recent
    and its writer, on another host, cannot be checked from here."""
    writer = _writer_of(path, temporary)
    if writer is False:
        return True  # not ours to judge
    if writer is None:
        return False  # a name from before writers named themselves: removed, as it always was
    try:
        age = time.time() - temporary.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > STALE_AFTER_SECONDS:
        return False
    pid, host = writer
    return host != _host() or _alive(pid)


def _remove_stale_temporaries(path: Path, keep: Path) -> None:
    """Temporaries of ``path`` that a killed writer left (same prefix and suffix as ours), except
    ``keep`` and any that another living writer may still be filling."""
    for stale in path.parent.glob(f"{_temporary_prefix(path)}*.tmp{path.suffix}"):
        if stale != keep and not _in_flight(path, stale):
            stale.unlink(missing_ok=True)


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def write_failure(path: Path, error: BaseException) -> WriteFailed | None:
    """The one-line error for a failed write of ``path``, or None when ``error`` is no space or
    permission problem (then it is a bug and keeps its traceback)."""
    if isinstance(error, WriteFailed):
        return error
    code = getattr(error, "errno", None)
    folder = path.parent
    free = _free_bytes(folder)
    # torch.save reports a full disk as a RuntimeError of its zip writer, with no errno: judged by the space left
    full = isinstance(error, RuntimeError) and free is not None and free < NEARLY_FULL_BYTES
    if code in NO_SPACE or full:
        return WriteFailed(
            f"cannot write '{path}': no space left on device (the disk of '{folder}'); free space there "
            "or set results_dir to a disk with room, then rerun"
        )
    if code in READ_ONLY_FILE_SYSTEM:
        return WriteFailed(
            f"cannot write '{path}': the file system of '{folder}' is mounted read-only; set results_dir to a "
            "folder on a writable disk (or remount it read-write), then rerun"
        )
    if code in NO_PERMISSION:
        return WriteFailed(
            f"cannot write '{path}': permission denied: the folder '{folder}' is read-only for this user; "
            "make it writable (chmod u+w) or set results_dir to a folder you can write, then rerun"
        )
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over ``path``.

    The temporary file keeps the final suffix, so writers that choose a format by extension
    (matplotlib, numpy) still do the right thing. A failure for want of space or permission, in
    the writer or here, is raised as ``WriteFailed`` naming ``path``.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=_writer_prefix(path), suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _remove_stale_temporaries(path, keep=tmp)
    except Exception as error:
        failure = write_failure(path, error)
        if failure is None:
            raise
        raise failure from error
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
