"""Time the README's first command as a newcomer runs it, and keep what it made as the quick reference.

    python benchmarks/first_command.py [--work DIR] [--reference]

Clones this checkout's HEAD into a fresh folder, runs the README's command 1 there (``.ci/readme.py
command 1``: venv, pip, Snakemake on ``config/quick.yaml``) under ``bash``, and prints the wall time,
then every job's time from Snakemake's ``benchmark:`` files (``results/quick/benchmarks/*.tsv``),
largest first, with their sum. Run it on an idle machine: the budget (README, "Two commands") is
measured idle.

``--reference`` then copies the run's tables, figures, metrics, logs and benchmarks (not models,
features or arrays: ``.gitignore``) into ``results/reference/quick/`` of this checkout, with the
config it ran (``config.yaml``, which ``tests/core/test_quick_summary.py`` holds equal to
``config/quick.yaml``) and ``first_command.json`` (commit, date, machine, wall time, per-job times):
the README's quick table is ``python -m ali_bench quick-summary results/reference/quick``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEEP = (".csv", ".md", ".json", ".png", ".log", ".tsv")  # what the reference keeps of a run
SKIP = ("data", ".trained_with")  # prepared arrays and stamps: rebuilt by any run


def job_times(results: Path) -> dict[str, float]:
    """Each job's wall seconds from its Snakemake benchmark file (first row, column ``s``)."""
    times = {}
    for path in sorted((results / "benchmarks").glob("*.tsv")):
        with path.open() as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        times[path.stem] = float(rows[0]["s"])
    return times


def run_first_command(clone: Path) -> float:
    command = subprocess.run(
        [sys.executable, ".ci/readme.py", "command", "1"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"$ {command}", flush=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    start = time.perf_counter()
    subprocess.run(["bash", "-c", command], cwd=clone, env=env, check=True)
    return time.perf_counter() - start


def keep_reference(results: Path, clone: Path, record: dict) -> Path:
    target = ROOT / "results" / "reference" / "quick"
    if target.exists():
        shutil.rmtree(target)
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(results)
        vouched_for = path.with_suffix("") if path.suffix == ".sha256" else path  # a hash goes with its file
        if path.is_file() and vouched_for.suffix in KEEP and relative.parts[0] not in SKIP:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative)
    shutil.copy2(clone / "config" / "quick.yaml", target / "config.yaml")
    (target / "first_command.json").write_text(json.dumps(record, indent=2) + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="where to clone (default: a new temporary folder)")
    parser.add_argument("--reference", action="store_true", help="copy the run into results/reference/quick/")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="ali-bench-first-"))
    clone = work / "ali-bench"
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    wall = run_first_command(clone)
    results = clone / "results" / "quick"
    times = job_times(results)
    print(f"\nREADME command 1: {wall:.0f} s ({wall / 60:.1f} min) wall, fresh clone of {commit.stdout.strip()[:7]}")
    print(f"{len(times)} jobs, {sum(times.values()):.0f} s of job time; largest first:")
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        print(f"  {seconds:8.1f} s  {name}")
    if args.reference:
        record = {
            "command": "README command 1 (" + ".ci/readme.py command 1" + ")",
            "commit": commit.stdout.strip(),
            "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "python": platform.python_version(),
            "wall_time_s": round(wall, 1),
            "job_times_s": {name: round(s, 2) for name, s in sorted(times.items())},
        }
        print(f"kept as {keep_reference(results, clone, record)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
