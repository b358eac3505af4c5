"""Checkpoint files: atomic saves, and loads that fail with one clear line instead of a deep traceback."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import torch

from ali_bench.atomic import atomic_path


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and what to do."""


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with torch.save so that ``path`` is either the old file or the complete new one."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load(path: str | Path, expected_format: str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save` and check its ``format`` tag."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or truncated ({textwrap.shorten(reason, 120, placeholder=' ...')}); "
            "delete it and rerun"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"checkpoint '{path}' has format {found!r}, expected {expected_format!r}")
    return payload


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load the moments and step counts of ``state`` into ``optimizer``, keeping its own group settings.

    Why: torch's ``load_state_dict`` takes every group setting from the file, so a checkpoint that an
    eager or CPU run wrote would switch a resumed GPU run's Adam to ``capturable=False`` (its graph
    capture then fails) or unfused, and would replace a tensor learning rate that a captured step
    reads with a copy. The live settings go in before the load (torch places the step counts on the
    device by them) and the live objects back after it (torch deep-copies the groups it loads).
    """
    live = [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]
    groups = [{**saved, **mine} for saved, mine in zip(state["param_groups"], live)]
    optimizer.load_state_dict({**state, "param_groups": groups})
    for group, mine in zip(optimizer.param_groups, live):
        group.update(mine)
