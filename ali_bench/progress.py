"""Progress of long work: a live bar on a terminal, timestamped lines in a file.

Why: a job's stderr under Snakemake or SLURM is a log file, where a tqdm bar becomes one line of
carriage-return redraws that no pager or ``grep`` reads. Off a terminal, the loop writes a line of
its own instead, at most one every ``LINE_EVERY_S`` seconds and after its last item (so one per
epoch when epochs are longer, whichever is rarer), with the count, the rate and the loop's latest
values (losses). Inner loops (steps within an epoch) write nothing there: their epoch's line says it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm

LINE_EVERY_S = 30.0  # at most one line per this many seconds off a terminal, besides the last


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (stderr by default) is a terminal, where a live bar is readable."""
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)())


class LogLines:
    """Iterates ``iterable``; after an item, one line on ``stream`` when ``every_s`` seconds have
    passed since the last line (or the start), and after the last item. The same calls as the
    tqdm bar it stands in for (``set_postfix``, ``close``)."""

    def __init__(
        self,
        iterable: Iterable,
        desc: str,
        unit: str,
        total: int,
        initial: int = 0,
        stream: TextIO | None = None,
        every_s: float = LINE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.iterable, self.desc, self.unit, self.total = iterable, desc, unit, total
        self.n = self.initial = initial
        self.stream, self.every_s, self.clock = stream, every_s, clock
        self.postfix: dict[str, Any] = {}
        self.started = self.last = clock()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item  # the loop's body runs here, set_postfix included
            self.n += 1
            now = self.clock()
            if now - self.last >= self.every_s or self.n == self.total:
                self.write_line(now)

    def set_postfix(self, postfix: dict[str, Any]) -> None:
        self.postfix = dict(postfix)

    def close(self) -> None:
        """Nothing to clear: every line is already written."""

    def write_line(self, now: float) -> None:
        self.last = now
        done, elapsed = self.n - self.initial, now - self.started
        rate = done / elapsed if elapsed > 0 else float("inf")
        speed = f"{rate:.3g} {self.unit}/s" if rate >= 1 else f"{1 / rate:.3g} s/{self.unit}" if rate > 0 else ""
        values = " ".join(f"{key}={value}" for key, value in self.postfix.items())
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {self.desc}: {self.unit} {self.n}/{self.total} ({speed}, {elapsed:.0f} s) {values}".rstrip()
        print(line, file=sys.stderr if self.stream is None else self.stream, flush=True)


def steps_of_epoch(steps: int, epoch: int, enabled: bool) -> Any:
    """``range(steps)`` with an epoch's step bar on a terminal; nothing in a log file, where the
    epoch's own line (``run_epochs``) says it."""
    return progress(
        range(steps),
        desc=f"epoch {epoch + 1}",
        unit="step",
        total=steps,
        disable=not enabled,
        lines=False,
        leave=False,
        mininterval=2,
    )


def progress(
    iterable: Iterable,
    *,
    desc: str,
    unit: str,
    total: int,
    initial: int = 0,
    disable: bool = False,
    lines: bool = True,
    **bar_options: Any,
) -> Any:
    """A tqdm bar on a terminal; elsewhere ``LogLines`` (``lines``) or nothing (an inner loop whose
    outer loop writes the lines). ``disable`` turns both off."""
    if disable or (not lines and not interactive()):
        return tqdm(iterable, disable=True)
    if interactive():
        return tqdm(iterable, desc=desc, unit=unit, total=total, initial=initial, **bar_options)
    return LogLines(iterable, desc, unit, total, initial)
