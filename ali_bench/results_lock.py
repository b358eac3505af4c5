"""One writer per results folder: a lock every Snakemake run takes on its ``results_dir``.

Why: Snakemake's own lock lives in the working directory's ``.snakemake/``, so two checkouts (or two
working directories) that point at one results folder take no common lock: both would train the
same model, the second resuming from the first's half-written checkpoint. The workflow takes this
lock before any job runs (the ``onstart`` hook, workflow/rules/common.smk) and holds it until the
Snakemake process exits; the OS frees it when that process dies, however it dies (``flock``), so a
killed run never leaves a stale lock behind. The lock file holds who has it (host, pid, checkout),
for the message of whoever is refused.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path
from typing import IO

from ali_bench import atomic
from ali_bench.config_schema import ConfigError

LOCK_NAME = ".ali-bench.lock"


class ResultsFolderBusy(ConfigError):
    """Another run holds the results folder; the message names it and that run."""


def _holder(handle: IO[str]) -> str:
    """Who holds the lock, as its lock file says (written when it was taken)."""
    handle.seek(0)
    fields = dict(line.split("=", 1) for line in handle.read().splitlines() if "=" in line)
    if not fields:
        return "a run that has not yet written its name"
    return f"host {fields.get('host', '?')}, pid {fields.get('pid', '?')}, checkout {fields.get('checkout', '?')}"


def hold(results_dir: str | Path, checkout: str | Path) -> IO[str]:
    """Take the results folder's lock, or raise ``ResultsFolderBusy`` naming the run that holds it.

    Returns the open lock file: the lock lasts as long as it stays open (keep a reference). The lock
    file is a run's first write into the folder, so a folder it cannot write (a read-only mount, no
    permission, a full disk) is ``atomic.WriteFailed`` here, in the one line any output would get."""
    folder = Path(results_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_NAME, "a+", encoding="utf-8")
    except OSError as error:
        failure = atomic.write_failure(folder / LOCK_NAME, error)
        if failure is None:
            raise
        raise failure from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        raise ResultsFolderBusy(
            f"results folder '{folder}' is in use by another Snakemake run ({holder}): wait for it to finish, "
            "or give this run another results_dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"host={socket.gethostname()}\npid={os.getpid()}\ncheckout={Path(checkout).resolve()}\n")
    handle.flush()
    return handle
