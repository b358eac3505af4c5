"""Reading the intermediate files a table command aggregates (per-run CSV tables, per-run JSON
results, result tables), each against a declared spec: its columns, their types and allowed
ranges, the columns that name one run (unique), and at least one row.

Why: these files sit on disk between two jobs, where a hand edit, a half-copied folder or an older
step's output can change them. Read as given, a count of 99 modes out of 25, a negative KL or the
same run twice becomes a table that looks measured; a missing or non-numeric column becomes a
pandas traceback. Here each fault is one line (``TableInputError``, a ``ConfigError``: exit 2)
naming the file, the column, the run and the value, and what was expected.

A spec names columns of a CSV file, or keys of a JSON result; a dotted name reaches into nested
objects (``evaluations.averaged.running.train_error``).

Why one file over 300 lines: the spec type, the readers of each file kind and their one-line errors
are one contract; every table command reads its inputs through it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ali_bench import provenance, sidecar_digest
from ali_bench.config import ConfigError

KINDS = ("number", "integer", "string", "numbers")  # numbers: a non-empty list of numbers (JSON only)


class TableInputError(ConfigError):
    """An intermediate file a table command refuses to aggregate; the message is the one line shown."""


@dataclass(frozen=True)
class Column:
    """One column (or JSON key) a table command reads, with what a valid value is."""

    name: str
    kind: str = "number"
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # the bound ``low`` itself is refused (a C of 0 has no logarithm)
    missing_ok: bool = False  # an empty cell / null is a value (a run that never diverged)
    infinite_ok: bool = False  # +-inf is a value (a reverse KL with no high-quality sample)
    choices: tuple[str, ...] = ()
    required: bool = True  # False: an older step's file may lack it; present, it is checked

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name!r}: kind {self.kind!r} is not one of {KINDS}")

    def expected(self) -> str:
        """What a valid value is, in words (the end of every refusal)."""
        if self.kind == "string":
            text = "one of " + ", ".join(repr(c) for c in self.choices) if self.choices else "a text"
        else:
            text = {"number": "a number", "integer": "a whole number", "numbers": "a non-empty list of numbers"}[
                self.kind
            ]
            bounds = []
            if self.low is not None:
                bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
            if self.high is not None:
                bounds.append(f"<= {self.high:g}")
            if bounds:
                text += " " + " and ".join(bounds)
            if self.infinite_ok:
                text += " (inf allowed)"
        return text + (" or empty" if self.missing_ok else "")


@dataclass(frozen=True)
class Spec:
    """What one kind of intermediate file must hold."""

    what: str  # the kind of file, in words ("toy coverage table")
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # the columns that name one run: no two rows share them
    rebuild: str  # what writes the file, to say what to rerun ("rule toy_evaluate")
    key_name: str = "run"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class _Row:
    """One row's values by column name, and where it is (file, and line for a CSV)."""

    values: dict[str, Any]
    file: str
    where: str


# --------------------------------------------------------------------------------------- reading


def read_csv(path: str | Path, spec: Spec) -> pd.DataFrame:
    """The CSV at ``path``, checked against ``spec``; spec columns converted (numbers to float,
    integers to int, or float where empty cells are allowed), other columns as pandas infers them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{spec.what} '{path}' does not exist; {_rerun(path, spec)}")
    provenance.check_table(path, _rerun(path, spec))
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise TableInputError(f"{spec.what} '{path}' is empty (not even a header); {_rerun(path, spec)}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TableInputError(
            f"{spec.what} '{path}' is not a readable CSV table ({first}); {_rerun(path, spec)}"
        ) from None
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    if missing:
        raise TableInputError(
            f"{spec.what} '{path}' has no column '{missing[0]}' (its columns: {', '.join(raw.columns)}); "
            f"{_rerun(path, spec)}"
        )
    rows = [
        _Row(
            {name: (value if value != "" else None) for name, value in record.items()},
            str(path),
            f"'{path}' line {i + 2}",
        )
        for i, record in enumerate(raw.to_dict("records"))
    ]
    converted = check_rows(
        rows, spec, from_text=True, empty=f"{spec.what} '{path}' has a header but no rows; {_rerun(path, spec)}"
    )
    frame = raw.copy()
    for name in raw.columns:
        if any(c.name == name for c in spec.columns):
            frame[name] = _typed([row[name] for row in converted], spec.column(name))
        else:
            frame[name] = _inferred(raw[name])
    return frame


def read_json(paths: Sequence[str | Path], spec: Spec) -> list[dict]:
    """The JSON objects at ``paths`` (one run each), checked against ``spec`` as rows of one table:
    the same path twice, or two files naming the same run, is refused."""
    paths = [Path(p) for p in paths]
    _refuse_repeated_paths(paths, spec)
    records = [load_json(path, spec) for path in paths]
    check_json(records, paths, spec)
    return records


def load_json(path: Path, spec: Spec) -> dict:
    """One JSON object from ``path``; an unreadable file or another JSON value is one line."""
    if not path.is_file():
        raise FileNotFoundError(f"{spec.what} '{path}' does not exist; {_rerun(path, spec)}")
    sidecar_digest.verify(path, _rerun(path, spec))  # the hash its writer recorded beside it
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TableInputError(f"{spec.what} '{path}' is not valid JSON ({error}); {_rerun(path, spec)}") from None
    if not isinstance(record, dict):
        raise TableInputError(
            f"{spec.what} '{path}' holds a JSON {type(record).__name__}, not an object; {_rerun(path, spec)}"
        )
    return record


def check_json(records: Sequence[dict], paths: Sequence[str | Path], spec: Spec) -> None:
    """``records`` (already loaded from ``paths``, in order) checked against ``spec``."""
    rows = []
    for record, path in zip(records, paths, strict=True):
        values = {}
        for column in spec.columns:
            found, value = _lookup(record, column.name)
            if not found:
                if column.required:
                    raise TableInputError(
                        f"{spec.what} '{path}' has no key '{column.name}'; {_rerun(Path(path), spec)}"
                    )
                continue
            values[column.name] = value
        rows.append(_Row(values, str(path), f"'{path}'"))
    check_rows(
        rows, spec, from_text=False, empty=f"no {spec.what} was given; pass at least one ({spec.rebuild} writes them)"
    )


# -------------------------------------------------------------------------------------- checking


def check_rows(rows: list[_Row], spec: Spec, *, from_text: bool, empty: str) -> list[dict]:
    """Every value of every row against its column, then the key's uniqueness; the converted values."""
    if not rows:
        raise TableInputError(empty)
    converted = []
    for row in rows:
        values = dict(row.values)
        for column in spec.columns:
            if column.name not in row.values:
                continue  # an optional column this file lacks
            value, problem = _check_value(column, row.values[column.name], from_text)
            if problem:
                raise TableInputError(
                    f"{row.where}, column '{column.name}'{_run_text(row, spec, column.name)}: {problem}; expected "
                    f"{column.expected()}. {_sentence(_rerun(Path(row.file), spec))}"
                )
            values[column.name] = value
        converted.append(values)
    seen: dict[tuple, _Row] = {}
    pairs = zip(rows, converted, strict=True) if spec.key else ()  # no key: nothing can repeat
    for row, values in pairs:
        key = tuple(values.get(name) for name in spec.key)
        if key in seen:
            raise TableInputError(_duplicate(seen[key], row, spec, key))
        seen[key] = row
    return converted


def _check_value(column: Column, value: Any, from_text: bool) -> tuple[Any, str | None]:
    """(converted value, None) or (None, what is wrong with it)."""
    if column.kind == "numbers":
        if not isinstance(value, list) or not value:
            return None, f"{_shown(value)} is not a non-empty list"
        out = []
        for i, item in enumerate(value):
            number, problem = _check_number(column, item, False)
            if problem:
                return None, f"item {i} {problem}"
            out.append(number)
        return out, None
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return (None, None) if column.missing_ok else (None, "the value is missing")
    if column.kind == "string":
        if not isinstance(value, str):
            return None, f"{_shown(value)} is not a text"
        if column.choices and value not in column.choices:
            return None, f"{_shown(value)} is not an allowed value"
        return value, None
    return _check_number(column, value, from_text)


def _check_number(column: Column, value: Any, from_text: bool) -> tuple[Any, str | None]:
    if from_text and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None, f"{_shown(value)} is not a number"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        return None, f"{_shown(value)} is not a number"
    if math.isnan(number):
        return (None, None) if column.missing_ok else (None, f"{_shown(value)} is not a number")
    if math.isinf(number):
        return (
            (number, None)
            if column.infinite_ok and (column.low is None or number > 0)
            else (None, f"{_shown(value)} is infinite")
        )
    if column.kind == "integer" and not number.is_integer():
        return None, f"{_shown(value)} is not a whole number"
    if column.low is not None and (number < column.low or (column.low_open and number == column.low)):
        return None, f"{_shown(value)} is out of range"
    if column.high is not None and number > column.high:
        return None, f"{_shown(value)} is out of range"
    return (int(number) if column.kind == "integer" else number), None


# --------------------------------------------------------------------------------------- helpers


def _shown(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, (list, dict, bool)) or value is None
        else f"{value!r}"
    )


def _lookup(record: dict, dotted: str) -> tuple[bool, Any]:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _typed(values: list, column: Column) -> pd.Series:
    """A spec column as pandas reads it: numbers as float, whole numbers as int (float with empty cells)."""
    if column.kind == "string":
        return pd.Series(values, dtype=object)
    if column.kind == "integer" and all(v is not None for v in values):
        return pd.Series(values, dtype="int64")
    return pd.Series([math.nan if v is None else v for v in values], dtype=float)


def _inferred(series: pd.Series) -> pd.Series:
    """A column the spec does not name, as pandas would have read it (numbers where all parse)."""
    try:
        return pd.to_numeric(series.replace("", math.nan))
    except (ValueError, TypeError):
        return series.replace("", math.nan)


def _run_text(row: _Row, spec: Spec, failing: str) -> str:
    """The row's run key, when its key values are there to name it (not when the failing column is one)."""
    if not spec.key or failing in spec.key or any(row.values.get(name) in (None, "") for name in spec.key):
        return ""
    return f" ({spec.key_name} {_key_text(spec, tuple(row.values[name] for name in spec.key))})"


def _key_text(spec: Spec, key: tuple) -> str:
    return ", ".join(f"{name} {value}" for name, value in zip(spec.key, key, strict=True))


def _rerun(path: Path | None, spec: Spec) -> str:
    where = f"delete '{path}' and " if path is not None else ""
    return f"{where}rerun snakemake to rebuild it ({spec.rebuild}); intermediate tables are not edited by hand"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _duplicate(first: _Row, row: _Row, spec: Spec, key: tuple) -> str:
    """Two rows naming one run: within a file (a row repeated), or across two files."""
    run = f"{spec.key_name} {_key_text(spec, key)}"
    if first.file == row.file:
        return (
            f"{first.where} and line {row.where.rsplit(' ', 1)[1]} both hold {run}; each {spec.key_name} must appear "
            f"once. {_sentence(_rerun(Path(row.file), spec))}"
        )
    return (
        f"{spec.what}s '{first.file}' and '{row.file}' both hold {run}; each {spec.key_name} must appear once in a "
        f"table's inputs: pass only one of them (rerun {spec.rebuild} for the one that is wrong)"
    )


def _refuse_repeated_paths(paths: Sequence[Path], spec: Spec) -> None:
    seen: dict[Path, Path] = {}
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            same = "twice" if seen[resolved] == path else f"twice (as '{seen[resolved]}' and '{path}')"
            raise TableInputError(f"{spec.what} '{path}' is given {same}; pass each file once")
        seen[resolved] = path
