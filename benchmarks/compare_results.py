"""Compare two results folders of the same config: did a change (a refactor, an upgrade, another
machine) change any number?

    python benchmarks/compare_results.py BEFORE/results AFTER/results

Tables, Markdown, figures and feature matrices are compared byte for byte; .npz arrays by value;
result JSON files, training logs and model or checkpoint files (tensors by value) with their wall
times left out, and data manifests without the data folder's absolute path; provenance sidecars, job logs and Snakemake benchmarks are not
compared (timestamps, commit, wall times). A checkpoint's fingerprint holds a hash of the package's
code, so it is left out too: a code change that changes no number still changes it.

Prints a count per kind of comparison and each differing file; exits 1 if any file differs or
either side has a file the other lacks. It loads the model files with ``weights_only=False``:
point it at results you made.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

VOLATILE = {
    "wall_time_s",
    "created_utc",
    "svm_wall_time_s",
    "evaluation_s",
    "fingerprint",
    "data_root",
    "content_sha256",
}


def without_volatile(value):
    """``value`` (nested dicts and lists) without the keys that change from run to run."""
    if isinstance(value, dict):
        return {key: without_volatile(item) for key, item in value.items() if key not in VOLATILE}
    if isinstance(value, list):
        return [without_volatile(item) for item in value]
    return value


def equal(x, y) -> bool:
    """Nested equality where tensors and arrays compare by dtype, shape and value."""
    if isinstance(x, torch.Tensor):
        return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)):
        return isinstance(y, (list, tuple)) and len(x) == len(y) and all(equal(u, v) for u, v in zip(x, y, strict=True))
    return x == y


def log_without_wall_time(path: Path) -> str:
    frame = pd.read_csv(path)
    return frame.drop(columns=[c for c in frame.columns if "wall_time" in c]).to_csv(index=False)


def compare(a: Path, b: Path, rel: Path) -> tuple[str, bool]:
    """(kind of comparison, whether the two files agree) for one file present on both sides."""
    name = rel.as_posix()
    if (
        name.startswith(("logs/", "benchmarks/"))
        or "/logs/" in name
        or "/benchmarks/" in name
        or name.endswith(".provenance.json")
    ):
        return "not compared (job log, benchmark, provenance)", True
    if name.endswith(".pt"):
        load = lambda path: without_volatile(torch.load(path, weights_only=False))
        return "model and checkpoint files (tensors by value, wall times left out)", equal(load(a / rel), load(b / rel))
    if name.endswith("log.csv"):
        return "training logs (wall time column left out)", log_without_wall_time(a / rel) == log_without_wall_time(
            b / rel
        )
    if name.endswith(".npz"):
        with np.load(a / rel) as x, np.load(b / rel) as y:
            return "arrays (.npz, by value)", x.files == y.files and all(equal(x[k], y[k]) for k in x.files)
    if name.endswith(".json"):
        load_json = lambda path: without_volatile(json.loads(path.read_text()))
        return "results and data manifests (.json; wall times and the data folder left out)", load_json(
            a / rel
        ) == load_json(b / rel)
    return "byte for byte (tables, Markdown, figures, features)", (a / rel).read_bytes() == (b / rel).read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    files = {p.relative_to(args.before) for p in args.before.rglob("*") if p.is_file()}
    others = {p.relative_to(args.after) for p in args.after.rglob("*") if p.is_file()}
    problems = [f"only in {args.before}: {rel}" for rel in sorted(files - others)]
    problems += [f"only in {args.after}: {rel}" for rel in sorted(others - files)]
    counts: dict[str, int] = {}
    for rel in sorted(files & others):
        kind, same = compare(args.before, args.after, rel)
        counts[kind] = counts.get(kind, 0) + 1
        if not same:
            problems.append(f"differs ({kind}): {rel}")
    for kind, n in counts.items():
        print(f"{n:5d}  {kind}")
    print("\n".join(problems) if problems else "no difference")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
