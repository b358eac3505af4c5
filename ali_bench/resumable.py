"""An epoch loop that checkpoints as it goes and resumes after a kill, for every trainer, and the
per-epoch CSV log every trainer writes (``write_log``).

The caller supplies how to run one epoch and how to get and set its whole training state (models,
optimisers, anything else that changes); randomness must be a function of the epoch (as every
trainer here draws it), so resuming at epoch e replays exactly what an uninterrupted run would.
A checkpoint made with another config (``fingerprint``) or another version of the package's code
is ignored, with a warning.

The training's length is not part of the fingerprint: the checkpoint records the number of epochs it
trains toward, so that a config that only grows the length continues from the checkpoint (a finished
run of N epochs, grown to 2N, trains epochs N..2N-1 and ends with the parameters of a straight run of
2N), instead of training from scratch. That holds while nothing of the epochs already done depends
on the total: a trainer whose schedule does (semi-supervised ALI's learning-rate decay) says with
``same_schedule`` whether the epochs done would have been the same under the new total, and is
trained from scratch, with a warning, when they would not. A shorter length than the checkpoint's
always trains from scratch.

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
import os
import time
from collections.abc import Callable
from pathlib import Path

from ali_bench import checkpoint, sidecar_digest
from ali_bench.atomic import atomic_path
from ali_bench.progress import progress as progress_of
from ali_bench.training import TrainingDiverged, checkpoint_note

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


def length_free(settings: dict, section: str | None = None) -> dict:
    """``settings`` without their ``epochs`` (the one in ``settings[section]`` when ``section`` is
    given): the ``fingerprint`` that :func:`run_epochs` expects, so that growing the length continues
    a training from its checkpoint (see the module docstring)."""
    if section is not None:
        return {**settings, section: length_free(settings[section])}
    return {key: value for key, value in settings.items() if key != "epochs"}


def _resume_point(
    saved: dict,
    fingerprint: str,
    epochs: int,
    checkpoint_path: Path,
    length_key: str,
    same_schedule: Callable[[int, int], bool] | None,
) -> bool:
    """Whether the loaded checkpoint ``saved`` is this run's to resume (logging why when it is not).

    It is when it was made with the same settings and code (``fingerprint``, which leaves out the
    length) toward the same number of epochs, or toward fewer with a schedule that ``same_schedule``
    (``(epochs done, total then) -> bool``) says trained those epochs as a run toward ``epochs`` would.
    """
    if saved["fingerprint"] != fingerprint:
        log.warning(
            "ignoring checkpoint %s: it was made with another config or another version of the code; "
            "training from scratch",
            checkpoint_path,
        )
        return False
    done, trained_for = saved["epoch"], saved.get("epochs", saved["epoch"])
    if trained_for > epochs:
        log.warning(
            "ignoring checkpoint %s: it trains toward %d epochs, more than the %d of %s; training from scratch",
            checkpoint_path,
            trained_for,
            epochs,
            length_key,
        )
        return False
    if trained_for < epochs and same_schedule is not None and not same_schedule(done, trained_for):
        log.warning(
            "not continuing %s from epoch %d: %s grew from %d to %d, and the learning-rate schedule of the epochs "
            "done depends on the total, so they would differ from a run of %d epochs; training from scratch",
            checkpoint_path,
            done,
            length_key,
            trained_for,
            epochs,
            epochs,
        )
        return False
    if trained_for < epochs:
        log.info(
            "continuing %s from epoch %d: %s grew from %d to %d", checkpoint_path, done, length_key, trained_for, epochs
        )
    else:
        log.info("resuming %s from epoch %d", checkpoint_path, done)
    return True


def _readable_checkpoint(checkpoint_path: Path) -> dict | None:
    """The run's checkpoint, or None when it cannot be trusted (unreadable, changed on disk after it
    was saved, a non-finite weight): then it is kept aside as ``<name>.corrupt``, never resumed from,
    and the training starts over, saying so.

    Why not refuse, as other readers do: the training job is the checkpoint's only reader, and a
    refusal would leave the file in place for Snakemake's retry (the checkpoint is not a declared
    output), failing again; one checkpoint is kept, so there is no earlier good one to fall back to."""
    kept = checkpoint_path.with_name(checkpoint_path.name + ".corrupt")
    try:
        return checkpoint.load(checkpoint_path, CHECKPOINT_FORMAT, fix=f"kept as {kept.name}, training from scratch")
    except checkpoint.CheckpointError as error:
        os.replace(checkpoint_path, kept)
        log.warning("not resuming: %s", error)
        return None


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
    length_key: str = "epochs",
    same_schedule: Callable[[int, int], bool] | None = None,
) -> tuple[list[dict], float]:
    """Run epochs [resume point, epochs); return every epoch's log rows and the total wall time.

    ``run_epoch(epoch)`` returns that epoch's log rows and a few numbers for the progress bar.
    ``fingerprint``: the settings that shape the weights, without the length ``epochs`` (the config
    key ``length_key`` names, for the log); see the module docstring for when a checkpoint toward
    another length is continued (``same_schedule``).
    ``on_rows(rows)``, if given, gets every row so far after an epoch, at most every ``ROWS_EVERY_S``
    seconds, and all of them once the loop ends (the trainers write their CSV log with it, atomically,
    so the log grows while training runs and is complete at the end, even when a rerun found every
    epoch done; after a resume the rows are those of the checkpoint, so no epoch appears twice).
    A checkpoint is written every ``checkpoint_every`` epochs once ``checkpoint_seconds`` have passed
    since the last one (or since the loop started), and after the last epoch. The checkpoint, the
    final one included, is left in place (see the module docstring). A ``TrainingDiverged`` from
    ``run_epoch`` comes out with what became of this run's checkpoint added to its message.
    """
    checkpoint_path = Path(checkpoint_path)
    fingerprint = f"{fingerprint}/code-{code_fingerprint()}"
    start, rows, wall_before, saved_epoch = 0, [], 0.0, None
    saved = _readable_checkpoint(checkpoint_path) if checkpoint_path.exists() else None
    if saved is not None:
        if _resume_point(saved, fingerprint, epochs, checkpoint_path, length_key, same_schedule):
            set_state(saved["state"])
            start, rows, wall_before = saved["epoch"], saved["log_rows"], saved["wall_time_s"]
            saved_epoch = start

    started = time.perf_counter()
    rows_written = float("-inf")
    checkpointed = started
    bar = progress_of(range(start, epochs), desc=desc, unit="epoch", disable=not progress, initial=start, total=epochs)
    for epoch in bar:
        try:
            epoch_rows, postfix = run_epoch(epoch)
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error}; {checkpoint_note(checkpoint_path, saved_epoch)}") from None
        wall = wall_before + time.perf_counter() - started
        rows += [{**row, "wall_time_s": round(wall, 3)} for row in epoch_rows]
        bar.set_postfix({key: f"{value:.3f}" for key, value in postfix.items()})
        done = epoch + 1
        if on_rows is not None and done < epochs and time.perf_counter() - rows_written >= ROWS_EVERY_S:
            on_rows(rows)
            rows_written = time.perf_counter()
        due = done % checkpoint_every == 0 and time.perf_counter() - checkpointed >= checkpoint_seconds
        if done == epochs or due:
            checkpoint.save(
                checkpoint_path,
                {
                    "format": CHECKPOINT_FORMAT,
                    "fingerprint": fingerprint,
                    "epoch": done,
                    "epochs": epochs,
                    "state": get_state(),
                    "log_rows": rows,
                    "wall_time_s": wall,
                },
            )
            checkpointed, saved_epoch = time.perf_counter(), done
    bar.close()
    if on_rows is not None:  # every row, once more at the end: also when a rerun found every epoch done
        on_rows(rows)
    return rows, wall_before + time.perf_counter() - started


def write_log(path: str | Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    """A per-epoch training log as CSV (atomic), and its ``.sha256``: the curve figures read it."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    sidecar_digest.record(path)
