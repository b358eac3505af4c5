"""Provenance sidecars: how each table was made, written beside it as ``<name>.provenance.json``.

A user who reads a number should be able to say which config, seeds, code version, packages and
device produced it, and how long it took, without rerunning anything.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ali_bench.atomic import write_text

PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "pandas", "matplotlib", "snakemake", "ali-bench")
_REPO_ROOT = Path(__file__).resolve().parents[1]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict[str, Any]:
    """Where the step ran: host, SLURM job (if any) and, in a process that has imported torch, its
    CUDA, cuDNN, GPU and driver versions (a table step that never imports torch reports none, and
    the training steps it reads carry theirs in their own sidecars)."""
    record: dict[str, Any] = {"host": socket.gethostname(), "slurm_job_id": os.environ.get("SLURM_JOB_ID")}
    torch = sys.modules.get("torch")
    if torch is not None:
        record["cuda"] = torch.version.cuda
        record["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        record["deterministic_algorithms"] = torch.are_deterministic_algorithms_enabled()  # config key deterministic
        if torch.cuda.is_available():
            record["gpu"] = torch.cuda.get_device_name()
            record["driver"] = _nvidia_driver()
    return record


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def git_state(repo: Path = _REPO_ROOT) -> dict[str, Any]:
    """The commit of the ali_bench code that ran (not of the folder the workflow ran in). ``dirty``
    counts changes outside ``results/``: regenerating committed reference results in place edits
    tracked files there, and says nothing about the code that made them."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")),
        }
    except (OSError, subprocess.SubprocessError):
        # A copy of the checkout without .git (a GPU box the tree was sent to) can be told its commit;
        # the record says it was told, not read.
        told = os.environ.get("ALI_BENCH_GIT_COMMIT", "").strip()
        if told:
            return {"commit": told, "dirty": None, "source": "ALI_BENCH_GIT_COMMIT (not a git checkout)"}
        return {"commit": "unknown (not a git checkout)", "dirty": None}


def sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks (a models file need not fit in memory twice)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def checksums(paths: Iterable[str | Path]) -> dict[str, str]:
    """Path -> SHA-256 of every file a table was built from, so that an input edited after the fact
    (a hand-changed coverage.csv) shows as a changed checksum; a path listed twice appears once."""
    return {str(path): sha256(path) for path in paths}


def sidecar_path(table: str | Path) -> Path:
    table = Path(table)
    return table.with_name(f"{table.stem}.provenance.json")


def build(
    *,
    config: dict,
    config_hash: str,
    seeds: Iterable[int],
    device: str,
    wall_time_s: float,
    upstream: Iterable[dict] = (),
    inputs: Iterable[str | Path] = (),
    **extra: Any,
) -> dict:
    """The provenance record of one table or training step; ``inputs`` are the files it read (their
    provenance sidecars among them when it read those), recorded with their SHA-256 as ``inputs``."""
    record = {
        "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "ali_bench", *sys.argv[1:]]),
        "config_hash": config_hash,
        "seeds": sorted(set(int(seed) for seed in seeds)),
        "device": device,
        "wall_time_s": round(float(wall_time_s), 3),
        "git": git_state(),
        "versions": package_versions(),
        "machine": machine(),
        "config": config,
    }
    record.update(extra)
    inputs = checksums(inputs)
    if inputs:
        record["inputs"] = inputs
    upstream = list(upstream)
    if upstream:
        record["upstream"] = upstream
    return record


TABLE_DIGEST = "table_sha256"  # the SHA-256 of the table as written, checked where a table is read back


def write(table: str | Path, record: dict) -> Path:
    """The sidecar of ``table`` (written first), with the table's SHA-256: a later command that reads
    the table back (``check_table``) refuses it if it changed since, instead of judging edited rows."""
    path = sidecar_path(table)
    if Path(table).is_file():
        record = {**record, TABLE_DIGEST: sha256(table)}
    write_text(path, json.dumps(record, indent=2, sort_keys=False) + "\n")
    return path


def check_table(table: str | Path, rebuild: str) -> None:
    """Refuse ``table`` in one line if its sidecar records a SHA-256 the file no longer has (a row
    edited by hand, a block overwritten on disk), or if it has no sidecar (deleted, or a copy of
    the ``.csv`` alone: nothing would vouch for it). A sidecar written before sidecars recorded the
    table's hash is taken as it is. ``rebuild``: how to make the table again."""
    path = sidecar_path(table)
    if not path.is_file():
        from ali_bench.table_inputs import TableInputError

        raise TableInputError(
            f"'{table}' has no provenance file ('{path}' is missing), so a change since it was written cannot "
            f"be ruled out; {rebuild}"
        )
    try:
        recorded = json.loads(path.read_text()).get(TABLE_DIGEST)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return  # read() names an unreadable sidecar where a command needs its content
    if recorded is not None and (actual := sha256(table)) != recorded:
        from ali_bench.table_inputs import TableInputError

        raise TableInputError(
            f"'{table}' changed after it was written: it hashes to {actual[:16]}, not the {recorded[:16]} its "
            f"provenance file '{path}' recorded; {rebuild}"
        )


def read(table: str | Path) -> dict:
    """The sidecar of ``table``; missing, unreadable, or not a JSON object: one line naming it."""
    from ali_bench.table_inputs import TableInputError

    path = sidecar_path(table)
    if not path.is_file():
        raise FileNotFoundError(f"provenance file '{path}' is missing; rerun the step that writes '{table}'")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TableInputError(
            f"provenance file '{path}' is not valid JSON ({error}); delete it with '{table}' and rerun "
            "snakemake to rebuild both"
        ) from None
    if not isinstance(record, dict):
        raise TableInputError(
            f"provenance file '{path}' holds a JSON {type(record).__name__}, not an object; delete it "
            f"with '{table}' and rerun snakemake to rebuild both"
        )
    return record


def require(record: dict, table: str | Path, keys: Iterable[str]) -> dict:
    """``record`` (the sidecar of ``table``) when it has every key a table command reads from it."""
    from ali_bench.table_inputs import TableInputError

    missing = [key for key in keys if key not in record]
    if missing:
        raise TableInputError(
            f"provenance file '{sidecar_path(table)}' has no '{missing[0]}'; delete it with '{table}' "
            "and rerun snakemake to rebuild both"
        )
    return record
