"""Checkpoint files: atomic saves, and loads that fail with one clear line instead of a deep traceback."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from typing import Any

import torch

from ali_bench.atomic import atomic_path
from ali_bench.trained_with import forcerun


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message names the file and what to do."""


def remake(path: str | Path) -> str:
    """The fix for a broken output of a workflow job (a models file) that a later job reads
    (``trained_with.forcerun``; a training job that finds its final checkpoint beside the file only
    writes the file again)."""
    return (
        f"make it again with {forcerun(path)}, since deleting it alone makes Snakemake report nothing to be "
        "done; outside the workflow, rerun the command that wrote it"
    )


DIGEST_KEY = "content_sha256"  # the digest of everything else in the file, recorded by save, checked by load


def _feed(digest: Any, value: Any) -> None:
    """Add ``value`` to ``digest``: tensors by dtype, shape and bytes; containers in their order, keys
    included; anything else by its repr (exact for the ints, floats and strings a checkpoint holds)."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"tensor {tensor.dtype} {tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)};".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)};".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r};".encode())


def content_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's content as loaded (not of the file's bytes, which torch's zip
    container does not make canonical), so that a file changed on disk after it was written (a
    flipped bit, an overwritten block, a tensor edited by hand) no longer matches what ``save``
    recorded in it, although torch reads it without complaint."""
    digest = hashlib.sha256()
    _feed(digest, {key: value for key, value in payload.items() if key != DIGEST_KEY})
    return digest.hexdigest()


def save(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` with torch.save so that ``path`` is either the old file or the complete new
    one, with its ``content_digest`` recorded beside the content (checked by ``load``)."""
    with atomic_path(path) as tmp:
        torch.save({**payload, DIGEST_KEY: content_digest(payload)}, tmp)


def load(path: str | Path, expected_format: str, fix: str | None = None) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save` and check its ``format`` tag.

    ``fix``: what the message of an unreadable file tells to do; by default :func:`remake`'s (the
    file is a job's output that a later job reads).
    """
    path = Path(path)
    fix = remake(path) if fix is None else fix
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or truncated ({textwrap.shorten(reason, 120, placeholder=' ...')}); {fix}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"checkpoint '{path}' has format {found!r}, expected {expected_format!r}; {fix}")
    recorded = payload.pop(DIGEST_KEY, None)  # None: written before checkpoints recorded one; read as it is
    if recorded is not None and (actual := content_digest(payload)) != recorded:
        raise CheckpointError(
            f"checkpoint '{path}' changed on disk after it was written: its content hashes to {actual[:16]}, "
            f"not the {recorded[:16]} recorded when it was saved; {fix}"
        )
    # Without a digest (a file from before them) nothing vouches for the weights: a non-finite one is
    # refused. With one, the file is what its trainer saved, which may hold NaN legitimately (a toy run
    # that diverged inside its batch keeps its weights; the table counts it in diverged_runs).
    if recorded is None and (where := first_non_finite(payload)) is not None:
        raise CheckpointError(f"checkpoint '{path}' holds a non-finite value in {where}; {fix}")
    return payload


def first_non_finite(value: Any, where: str = "") -> str | None:
    """The key path of the first floating-point tensor in ``value`` holding a NaN or an infinity.

    Why: resumed from, such weights turn every later step into NaN and a table row into "diverged",
    which reads as the learning rate's doing."""
    if isinstance(value, torch.Tensor):
        return (where or "the file") if value.is_floating_point() and not torch.isfinite(value).all() else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        if (found := first_non_finite(item, f"{where}/{key}" if where else str(key))) is not None:
            return found
    return None


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Load the moments and step counts of ``state`` into ``optimizer``, keeping its own group settings.

    Why: torch's ``load_state_dict`` takes every group setting from the file, so a checkpoint that an
    eager or CPU run wrote would switch a resumed GPU run's Adam to ``capturable=False`` (its graph
    capture then fails) or unfused, and would replace a tensor learning rate that a captured step
    reads with a copy. The live settings go in before the load (torch places the step counts on the
    device by them) and the live objects back after it (torch deep-copies the groups it loads).
    """
    live = [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]
    groups = [{**saved, **mine} for saved, mine in zip(state["param_groups"], live, strict=True)]
    optimizer.load_state_dict({**state, "param_groups": groups})
    for group, mine in zip(optimizer.param_groups, live, strict=True):
        group.update(mine)
