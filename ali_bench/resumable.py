"""An epoch loop that checkpoints as it goes and resumes after a kill, for every trainer.

The caller supplies how to run one epoch and how to get and set its whole training state (models,
optimisers, anything else that changes); randomness must be a function of the epoch (as every
trainer here draws it), so resuming at epoch e replays exactly what an uninterrupted run would.
A checkpoint made with another config (``fingerprint``) is ignored, with a warning.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from ali_bench import checkpoint

CHECKPOINT_FORMAT = "ali-bench/epoch-checkpoint/1"
log = logging.getLogger(__name__)


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
) -> tuple[list[dict], float]:
    """Run epochs [resume point, epochs); return every epoch's log rows and the total wall time.

    ``run_epoch(epoch)`` returns that epoch's log rows and a few numbers for the progress bar.
    The checkpoint is left in place: delete it once the final output is written.
    """
    checkpoint_path = Path(checkpoint_path)
    start, rows, wall_before = 0, [], 0.0
    if checkpoint_path.exists():
        saved = checkpoint.load(checkpoint_path, CHECKPOINT_FORMAT)
        if saved["fingerprint"] != fingerprint:
            log.warning("ignoring checkpoint %s: it was made with another config", checkpoint_path)
        else:
            set_state(saved["state"])
            start, rows, wall_before = saved["epoch"], saved["log_rows"], saved["wall_time_s"]
            log.info("resuming %s from epoch %d", checkpoint_path, start)

    started = time.perf_counter()
    bar = tqdm(range(start, epochs), desc=desc, unit="epoch", disable=not progress, initial=start, total=epochs)
    for epoch in bar:
        epoch_rows, postfix = run_epoch(epoch)
        wall = wall_before + time.perf_counter() - started
        rows += [{**row, "wall_time_s": round(wall, 3)} for row in epoch_rows]
        bar.set_postfix({key: f"{value:.3f}" for key, value in postfix.items()})
        done = epoch + 1
        if done < epochs and done % checkpoint_every == 0:
            checkpoint.save(checkpoint_path, {
                "format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": done,
                "state": get_state(), "log_rows": rows, "wall_time_s": wall,
            })
    bar.close()
    return rows, wall_before + time.perf_counter() - started
