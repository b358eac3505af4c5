"""The protocol check: every way a measured number's setup differs from the reporter's, field by field.

A field the reporter never published is ``unknown`` (listed, never counted as a match or a
difference). A difference in a ``blocking`` field (data, network, training length, hyperparameters,
samples scored, labels, evaluation) makes the pair ``not comparable``; the one non-blocking field is
the number of runs, which the statistics already take into account, and it is listed all the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ali_bench.paper import UNPUBLISHED

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Field:
    """One protocol field: our value, the reporter's (a value, or a tuple of values it may have been)."""

    name: str
    ours: Any
    theirs: Any
    blocking: bool = True

    @property
    def status(self) -> str:
        """``match``, ``differs`` or ``unknown`` (the reporter's value was not published)."""
        if _is_unpublished(self.theirs):
            return "unknown"
        if self.ours == NOT_RECORDED or self.ours is None:
            return "differs"  # what we ran is not on record: never claimed comparable
        accepted = self.theirs if isinstance(self.theirs, tuple) else (self.theirs,)
        return "match" if any(_same(self.ours, value) for value in accepted) else "differs"

    def describe(self) -> str:
        theirs = " or ".join(_text(v) for v in self.theirs) if isinstance(self.theirs, tuple) else _text(self.theirs)
        return f"{self.name}: ours {_text(self.ours)}, reported {theirs}"


def _is_unpublished(value: Any) -> bool:
    return isinstance(value, str) and UNPUBLISHED in value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def differences(fields: tuple[Field, ...], blocking: bool | None = None) -> list[str]:
    """The differing fields, described (only blocking or non-blocking ones when ``blocking`` says)."""
    return [f.describe() for f in fields if f.status == "differs" and (blocking is None or f.blocking == blocking)]


def unknowns(fields: tuple[Field, ...]) -> list[str]:
    return [f"{f.name} (ours {_text(f.ours)})" for f in fields if f.status == "unknown"]
