"""Table writers every stage shares: pandas frames as CSV (the data) and Markdown (for reading), atomically.

Each stage builds its own table (``ali_bench/<stage>/table.py``); the paper's numbers come from
``ali_bench/paper.py``, in columns labelled as the paper's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ali_bench.atomic import atomic_path, write_text


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_markdown(frame: pd.DataFrame, path: str | Path, title: str, notes: list[str]) -> None:
    """The table as aligned Markdown (tabulate's pipe format, through pandas), with a title and notes
    on how to read it. Floats show 4 significant digits; missing values are empty cells."""
    table = frame.astype(object).where(frame.notna(), None).to_markdown(index=False, floatfmt=".4g", missingval="")
    text = "\n".join([f"# {title}", "", table, "", *[f"- {note}" for note in notes], ""])
    write_text(path, text)
