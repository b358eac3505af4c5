"""The protocol check: every way a measured number's setup differs from the reporter's, field by field.

Each field is checked against a reference: the reporter's value where it was published. Where the
reporter never published it (the K+1 training length, the toy's random-search ranges), the
reference is the harness's own paper-scale setting (the default config, config/config.yaml), and the
field says so (``HARNESS_REFERENCE``): a shortened or narrowed run is then ``not comparable``
instead of slipping through as unknown. A field with neither is ``unknown`` (listed, never counted
as a match or a difference). A difference in a ``blocking`` field (data, network, training length,
hyperparameters, samples scored, labels, evaluation) makes the pair ``not comparable``; the one
non-blocking field is the number of runs, which the statistics already take into account, and it is
listed all the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ali_bench.paper import UNPUBLISHED

NOT_RECORDED = "not recorded"
HARNESS_REFERENCE = "harness paper-scale default, reporter unpublished"


@dataclass(frozen=True)
class Field:
    """One protocol field: our value, the reporter's (a value, or a tuple of values it may have been),
    and the harness's paper-scale value, the reference where the reporter's is unpublished."""

    name: str
    ours: Any
    theirs: Any
    blocking: bool = True
    harness: Any = None  # None or NOT_RECORDED: the harness has no paper-scale setting for it

    @property
    def by_harness(self) -> bool:
        """Whether the reference is the harness's paper-scale default (the reporter's is unpublished)."""
        return _is_unpublished(self.theirs) and self.harness is not None and self.harness != NOT_RECORDED

    @property
    def reference(self) -> Any:
        return self.harness if self.by_harness else self.theirs

    @property
    def status(self) -> str:
        """``match``, ``differs`` or ``unknown`` (neither the reporter nor the harness has a value)."""
        if _is_unpublished(self.reference):
            return "unknown"
        if self.ours == NOT_RECORDED or self.ours is None:
            return "differs"  # what we ran is not on record: never claimed comparable
        accepted = self.reference if isinstance(self.reference, tuple) else (self.reference,)
        return "match" if any(_same(self.ours, value) for value in accepted) else "differs"

    def describe(self) -> str:
        reference = self.reference
        text = " or ".join(_text(v) for v in reference) if isinstance(reference, tuple) else _text(reference)
        if self.by_harness:
            return f"{self.name}: ours {_text(self.ours)}, reference {text} ({HARNESS_REFERENCE})"
        return f"{self.name}: ours {_text(self.ours)}, reported {text}"


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


def harness_references(fields: tuple[Field, ...]) -> list[str]:
    """The fields checked against the harness's paper-scale default, each with that value."""
    return [f"{f.name} {_text(f.harness)} (reference: {HARNESS_REFERENCE})" for f in fields if f.by_harness]
