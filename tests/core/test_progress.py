"""Progress off a terminal (ali_bench/progress.py): timestamped lines a log file can hold, at most
one per LINE_EVERY_S and one after the last item; a terminal keeps tqdm's live bar."""

from __future__ import annotations

import io
import re

from tqdm import tqdm

from ali_bench import progress as progress_module
from ali_bench.progress import LINE_EVERY_S, LogLines, progress

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?P<desc>.+): epoch (?P<n>\d+)/(?P<total>\d+) \((?P<speed>[^,]+), \d+ s\)"
)


class Clock:
    """A clock the test advances: ``seconds`` per read, as if each epoch took that long."""

    def __init__(self, seconds: float) -> None:
        self.now, self.seconds = 0.0, seconds

    def __call__(self) -> float:
        self.now += self.seconds
        return self.now


def _run(epoch_seconds: float, epochs: int = 10, initial: int = 0) -> list[str]:
    stream = io.StringIO()
    clock = Clock(epoch_seconds)
    bar = LogLines(range(initial, epochs), "ali digits", "epoch", epochs, initial, stream, LINE_EVERY_S, clock)
    for epoch in bar:
        bar.set_postfix({"loss_d": f"{epoch / 10:.3f}"})
    bar.close()
    return stream.getvalue().splitlines()


def test_short_epochs_give_one_line_per_interval_and_one_at_the_end():
    lines = _run(epoch_seconds=7.0, epochs=20)  # 7 s an epoch: a line every 5 epochs (35 s), and the 20th
    counts = [int(LINE.match(line)["n"]) for line in lines]
    assert counts == [5, 10, 15, 20]
    assert "\r" not in "".join(lines) and all(LINE.match(line)["total"] == "20" for line in lines)
    assert lines[-1].endswith("loss_d=1.900")  # the values set in the last epoch's body


def test_long_epochs_give_one_line_per_epoch_with_their_rate():
    lines = _run(epoch_seconds=100.0, epochs=3)
    assert [int(LINE.match(line)["n"]) for line in lines] == [1, 2, 3]
    assert LINE.match(lines[0])["speed"] == "100 s/epoch"


def test_a_resumed_loop_counts_from_where_it_resumed():
    lines = _run(epoch_seconds=100.0, epochs=5, initial=3)
    assert [int(LINE.match(line)["n"]) for line in lines] == [4, 5]


def test_a_terminal_gets_the_live_bar_and_a_file_the_lines(monkeypatch):
    monkeypatch.setattr(progress_module, "interactive", lambda stream=None: True)
    assert isinstance(progress(range(3), desc="d", unit="epoch", total=3), tqdm)
    monkeypatch.setattr(progress_module, "interactive", lambda stream=None: False)
    assert isinstance(progress(range(3), desc="d", unit="epoch", total=3), LogLines)
    inner = progress(range(3), desc="epoch 1", unit="step", total=3, lines=False)  # its epoch's line says it
    assert isinstance(inner, tqdm) and inner.disable and list(inner) == [0, 1, 2]
    assert progress(range(3), desc="d", unit="epoch", total=3, disable=True).disable
