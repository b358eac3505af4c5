"""profiles/slurm against a real SLURM with accounting: the one started by tools/slurm-local/start.sh.

tests/workflow/test_slurm_profile.py checks the profile against stand-in SLURM commands (tests/workflow/fake_slurm/);
these tests check it against SLURM itself (slurmctld, slurmd, slurmdbd), as a cluster user runs it.
They need a running cluster: ``SLURM_CONF`` pointing at its slurm.conf (start.sh prints the line).
Without one they are skipped with the reason; with ``ALI_BENCH_REQUIRE_SLURM=1`` (as .ci/run sets
it) a missing cluster fails them instead. Every wait is bounded; a failure prints the cluster's
state (``squeue``, ``sacct``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_TOY, snakemake

PROFILE = REPO / "profiles" / "slurm"
START = REPO / "tools" / "slurm-local" / "start.sh"


def _cluster_missing() -> str | None:
    """Why no SLURM cluster can be used here, or None when one answers."""
    conf = os.environ.get("SLURM_CONF")
    if not conf:
        return f"no SLURM cluster: SLURM_CONF is not set (start one: sudo {START.relative_to(REPO)})"
    if not Path(conf).is_file():
        return f"no SLURM cluster: SLURM_CONF names '{conf}', which does not exist"
    if shutil.which("sinfo") is None:
        return "no SLURM cluster: 'sinfo' is not on PATH (apt-get install slurm-wlm)"
    try:
        states = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return f"no SLURM cluster: sinfo did not answer within 20 s (SLURM_CONF={conf})"
    if states.returncode != 0 or not set(states.stdout.split()) & {"idle", "mixed", "allocated"}:
        return f"no usable SLURM node: sinfo says {(states.stdout + states.stderr).strip()!r} (SLURM_CONF={conf})"
    return None


@pytest.fixture(scope="module")
def cluster():
    why = _cluster_missing()
    if why is not None:
        if os.environ.get("ALI_BENCH_REQUIRE_SLURM") == "1":
            pytest.fail(f"{why}; ALI_BENCH_REQUIRE_SLURM=1 makes a missing cluster a failure", pytrace=False)
        pytest.skip(why)


def _cluster_state() -> str:
    """squeue and today's sacct, for a failure message."""
    out = []
    for command in (["squeue"], ["sacct", "-a", "-X", "-o", "JobID,JobName%40,State,ExitCode,Comment%60"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=20)
            out.append(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}")
        except subprocess.TimeoutExpired:
            out.append(f"$ {' '.join(command)}: no answer within 20 s")
    return "\n".join(out)


def _snakemake(tmp_path: Path, config: dict, *targets: str, timeout: int = 420) -> subprocess.CompletedProcess:
    """Snakemake with the SLURM profile, as a user on the login node runs it (bounded by ``timeout``)."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        return snakemake(
            "--workflow-profile",
            str(PROFILE),
            "--configfile",
            str(tmp_path / "config.yaml"),
            "--directory",
            str(tmp_path),
            # the first status check 2 s after a submission instead of the plugin's 40 s; nothing else changes
            "--slurm-init-seconds-before-status-checks",
            "2",
            *targets,
            cwd=tmp_path,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        log = "".join(
            part.decode() if isinstance(part, bytes) else part for part in (error.stdout, error.stderr) if part
        )
        pytest.fail(f"snakemake did not end within {timeout} s:\n{log[-4000:]}\n{_cluster_state()}", pytrace=False)


def _jobs_since(start: datetime) -> list[dict]:
    """The allocations accounting recorded since ``start`` (one line each, without their steps)."""
    done = subprocess.run(
        [
            "sacct",
            "-a",
            "-X",
            "-n",
            "-P",
            "-S",
            start.strftime("%Y-%m-%dT%H:%M:%S"),
            "-o",
            "JobID,JobName,State,Comment,Account",
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    keys = ("jobid", "name", "state", "comment", "account")
    return [dict(zip(keys, line.split("|"), strict=True)) for line in done.stdout.splitlines() if line]


@pytest.mark.slow
def test_one_toy_seed_trains_as_one_slurm_job_and_its_table_and_figure_are_made_locally(cluster, tmp_path):
    """A single tiny toy seed through profiles/slurm: exactly its training is submitted, accounting
    records it COMPLETED, and the evaluation, table and figure run where Snakemake runs."""
    start = datetime.now() - timedelta(seconds=2)
    config = {
        "device": "cpu",
        "results_dir": "res",
        "toy": {**TINY_TOY, "seeds": [3], "hyperparameter_sets": ["released"]},
        "toy_inference": {"select_from": "released"},
    }
    result = _snakemake(tmp_path, config, "res/toy_table.csv", "res/figures/toy_samples.png")
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"{log[-6000:]}\n{_cluster_state()}"
    assert (tmp_path / "res/toy_table.csv").is_file() and (tmp_path / "res/figures/toy_samples.png").is_file()
    run_id = next((line.split()[-1] for line in log.splitlines() if "SLURM run ID" in line), None)
    assert run_id, f"the plugin printed no SLURM run ID:\n{log[-3000:]}"
    deadline = time.monotonic() + 60  # accounting is written a moment after the job ends
    while True:
        jobs = [job for job in _jobs_since(start) if job["name"] == run_id]
        if (jobs and all(job["state"] == "COMPLETED" for job in jobs)) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert len(jobs) == 1 and jobs[0]["state"] == "COMPLETED", f"{jobs}\n{_cluster_state()}"
    assert "toy_train" in jobs[0]["comment"], jobs[0]
    for rule in ("toy_evaluate", "toy_table", "toy_figure"):
        assert f"localrule {rule}:" in log, rule


ACCOUNTING = REPO / "tools" / "slurm-local" / "accounting.sh"
OUTAGE_S = 60


def _accounting(action: str) -> None:
    done = subprocess.run([str(ACCOUNTING), action], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"accounting.sh {action}: {done.stderr.strip()}\n{_cluster_state()}"


def _outage_while_a_job_runs(events: list[str]) -> None:
    """Stop slurmdbd once a job runs, for OUTAGE_S seconds; always start it again."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = subprocess.run(["squeue", "-h", "-t", "R"], capture_output=True, text=True, timeout=20).stdout
        if running.strip():
            break
        time.sleep(1)
    else:
        events.append("no job ran within 120 s")
        return
    _accounting("stop")
    events.append(f"slurmdbd stopped while {running.split()[0]} ran")
    try:
        time.sleep(OUTAGE_S)
    finally:
        _accounting("start")
        events.append("slurmdbd started again")


@pytest.mark.slow
def test_an_accounting_outage_while_a_job_runs_does_not_lose_the_job(cluster, tmp_path):
    """slurmdbd down for a minute while the toy training runs and finishes: with the plugin's own
    status-check settings (5 tries, 10 a second) every sacct try of a check failed, the plugin dropped
    the job, and Snakemake waited forever after it finished ("No active jobs"; SIGTERM did not end
    it). The profile's slurm-status-attempts and max-status-checks-per-second carry it over."""
    import threading

    config = {
        "device": "cpu",
        "results_dir": "res",
        "toy": {
            **TINY_TOY,
            "seeds": [3],
            "hyperparameter_sets": ["released"],
            "training": {**TINY_TOY["training"], "epochs": 60},
        },
        "toy_inference": {"select_from": "released"},
    }
    events: list[str] = []
    outage = threading.Thread(target=_outage_while_a_job_runs, args=(events,))
    outage.start()
    try:
        result = _snakemake(tmp_path, config, "res/toy/released/models.pt", timeout=300)
    finally:
        outage.join()
    assert events[:1] and events[0].startswith("slurmdbd stopped while"), events
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"{log[-6000:]}\n{_cluster_state()}"
    assert (tmp_path / "res/toy/released/models.pt").is_file()
