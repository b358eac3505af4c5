"""An epoch loop that checkpoints as it goes and resumes after a kill, for every trainer, and the
per-epoch CSV log every trainer writes (``write_log``).

The caller supplies how to run one epoch and how to get and set its whole training state (models,
optimisers, anything else that changes); randomness must be a function of the epoch (as every
trainer here draws it), so resuming at epoch e replays exactly what an uninterrupted run would.
A checkpoint made with another config (``fingerprint``) or another version of the package's code
is ignored, with a warning.

The last epoch is checkpointed too, and trainers leave that final checkpoint in place: if the job
is interrupted after training but before Snakemake records its outputs as complete (a SIGINT to
Snakemake alone does that), the rerun finds every epoch done and only writes the outputs again.
Because the fingerprint includes a hash of the package's source, a code edit never reuses a
checkpoint trained by other code.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import logging
import time
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from ali_bench import checkpoint
from ali_bench.atomic import atomic_path

CHECKPOINT_FORMAT = "ali-bench/epoch-checkpoint/1"
ROWS_EVERY_S = 10.0  # on_rows at most this often (and after the last epoch): a log of thousands of epochs is not rewritten every epoch
log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of every source file of the ali_bench package: the code a checkpoint was trained by."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")) + sorted(package.glob("*.yaml")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run_epochs(
    run_epoch: Callable[[int], tuple[list[dict], dict]],
    *,
    epochs: int,
    checkpoint_path: str | Path,
    checkpoint_every: int,
    fingerprint: str,
    get_state: Callable[[], dict],
    set_state: Callable[[dict], None],
    desc: str,
    progress: bool = True,
    on_rows: Callable[[list[dict]], None] | None = None,
    checkpoint_seconds: float = 0.0,
) -> tuple[list[dict], float]:
    """Run epochs [resume point, epochs); return every epoch's log rows and the total wall time.

    ``run_epoch(epoch)`` returns that epoch's log rows and a few numbers for the progress bar.
    ``on_rows(rows)``, if given, gets every row so far after an epoch, at most every ``ROWS_EVERY_S``
    seconds, and all of them once the loop ends (the trainers write their CSV log with it, atomically,
    so the log grows while training runs and is complete at the end, even when a rerun found every
    epoch done; after a resume the rows are those of the checkpoint, so no epoch appears twice).
    A checkpoint is written every ``checkpoint_every`` epochs once ``checkpoint_seconds`` have passed
    since the last one (or since the loop started), and after the last epoch. The checkpoint, the
    final one included, is left in place (see the module docstring).
    """
    checkpoint_path = Path(checkpoint_path)
    fingerprint = f"{fingerprint}/code-{code_fingerprint()}"
    start, rows, wall_before = 0, [], 0.0
    if checkpoint_path.exists():
        saved = checkpoint.load(checkpoint_path, CHECKPOINT_FORMAT)
        if saved["fingerprint"] != fingerprint:
            log.warning("ignoring checkpoint %s: it was made with another config or another version of the code",
                        checkpoint_path)
        else:
            set_state(saved["state"])
            start, rows, wall_before = saved["epoch"], saved["log_rows"], saved["wall_time_s"]
            log.info("resuming %s from epoch %d", checkpoint_path, start)

    started = time.perf_counter()
    rows_written = float("-inf")
    checkpointed = started
    bar = tqdm(range(start, epochs), desc=desc, unit="epoch", disable=not progress, initial=start, total=epochs)
    for epoch in bar:
        epoch_rows, postfix = run_epoch(epoch)
        wall = wall_before + time.perf_counter() - started
        rows += [{**row, "wall_time_s": round(wall, 3)} for row in epoch_rows]
        bar.set_postfix({key: f"{value:.3f}" for key, value in postfix.items()})
        done = epoch + 1
        if on_rows is not None and done < epochs and time.perf_counter() - rows_written >= ROWS_EVERY_S:
            on_rows(rows)
            rows_written = time.perf_counter()
        due = done % checkpoint_every == 0 and time.perf_counter() - checkpointed >= checkpoint_seconds
        if done == epochs or due:
            checkpoint.save(checkpoint_path, {
                "format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": done,
                "state": get_state(), "log_rows": rows, "wall_time_s": wall,
            })
            checkpointed = time.perf_counter()
    bar.close()
    if on_rows is not None:  # every row, once more at the end: also when a rerun found every epoch done
        on_rows(rows)
    return rows, wall_before + time.perf_counter() - started


def write_log(path: str | Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    """A per-epoch training log as CSV (atomic)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
