"""A content hash beside a file that cannot hold its own: ``<file>.sha256``, one line in the format
of coreutils' ``sha256sum`` (so ``sha256sum -c paper_train.npy.sha256``, run in its folder, checks it too).

Why: checkpoints and models carry their digest inside (``checkpoint.py``) and tables in their
provenance sidecar (``provenance.py``); an ``.npy`` feature matrix is a bare array that the SVM
stage memory-maps, with nowhere to put one. Without it, a block of a feature file overwritten on
disk, still finite and the right shape, would be fitted and scored like any other: a table row from
bytes no model wrote. The per-run JSON results that tables read (an SVM summary, a semi-supervised
run, the toy-inference selection) get one too: a digit changed in one (0.123 to 0.133) still parses
and passes every range check (``table_inputs.load_json`` verifies it). So do the training logs and
sample archives that figures draw (``resumable.write_log``, toy-evaluate, toy-inference-evaluate).

A file without its ``.sha256`` is refused too: a results folder copied with ``*.json`` only, or a
sidecar deleted, would otherwise turn the check off without a word. In the workflow each sidecar
is an output of its writer and an input of its readers, so Snakemake reruns the writer of a deleted
one before a reader runs again; the one line a command prints names that rerun and, for a file
checked by other means, how to accept it as it is (``sha256sum``). The hash is written after the file, so a kill between the two leaves a
missing or mismatching sidecar that names the rebuild, never a silent pass.
"""

from __future__ import annotations

from pathlib import Path

from ali_bench.atomic import write_text
from ali_bench.provenance import sha256

SUFFIX = ".sha256"


class DigestMismatch(ValueError):
    """A file's content no longer hashes to what was recorded beside it when it was written."""


def sidecar(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + SUFFIX)


def record(path: str | Path) -> None:
    """Write ``<path>.sha256`` for the file as it is now."""
    write_text(sidecar(path), f"{sha256(path)}  {Path(path).name}\n")


def rerun_writer(path: str | Path) -> str:
    """How to make ``path`` again: its own job by the file's name (a rule name would redo every file
    of that rule: every split's features, every run's log), then what reads it."""
    return f"make it again with the job that writes it (snakemake <your targets> --forcerun {path})"


def verify(path: str | Path, rebuild: str | None = None) -> None:
    """Refuse ``path`` in one line if its sidecar is missing or records another hash; ``rebuild``
    says how to make the file again (by default ``rerun_writer``'s advice)."""
    rebuild = rebuild or rerun_writer(path)
    recorded_in = sidecar(path)
    if not recorded_in.is_file():
        raise DigestMismatch(
            f"'{path}' has no recorded hash ('{recorded_in}' is missing), so a change since it was written "
            f"cannot be ruled out; {rebuild} (or, to accept it as it is: sha256sum '{path}' > '{recorded_in}')"
        )
    fields = recorded_in.read_text(errors="replace").split()
    if not fields or len(fields[0]) != 64:
        raise DigestMismatch(f"'{recorded_in}' is not a sha256sum line for '{path}'; {rebuild}")
    if (actual := sha256(path)) != fields[0]:
        raise DigestMismatch(
            f"'{path}' changed after it was written: it hashes to {actual[:16]}, not the {fields[0][:16]} "
            f"recorded in '{recorded_in}'; {rebuild}"
        )
