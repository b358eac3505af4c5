"""profiles/slurm against a real SLURM with accounting: the one started by tools/slurm-local/start.sh.

These tests run the profile against SLURM itself (slurmctld, slurmd, slurmdbd), as a cluster user
runs it: what a job asks for, what runs locally, an accounting outage, a time limit, a requeue, a
real failure. (They replace stand-in SLURM commands that passed whatever their author believed
SLURM does.) They need a running cluster: ``SLURM_CONF`` pointing at its slurm.conf (start.sh prints the line).
Without one they are skipped with the reason; with ``ALI_BENCH_REQUIRE_SLURM=1`` (as .ci/run sets
it) a missing cluster fails them instead. Every wait is bounded; a failure prints the cluster's
state (``squeue``, ``sacct``).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import torch
import yaml

from conftest import REPO, TINY_TOY, snakemake, snakemake_env

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


def _snakemake(
    tmp_path: Path, config: dict, *targets: str, options: tuple[str, ...] = (), timeout: int = 420
) -> subprocess.CompletedProcess:
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
            *options,  # after the targets: an option such as --set-resources takes every word up to the next option
            cwd=tmp_path,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        log = "".join(
            part.decode() if isinstance(part, bytes) else part for part in (error.stdout, error.stderr) if part
        )
        pytest.fail(f"snakemake did not end within {timeout} s:\n{log[-4000:]}\n{_cluster_state()}", pytrace=False)


# What the tests read of each allocation: sacct's field for each key
ACCOUNTED = {
    "jobid": "JobID",
    "name": "JobName",
    "state": "State",
    "comment": "Comment",
    "account": "Account",
    "timelimit": "Timelimit",
    "alloctres": "AllocTRES",
    "partition": "Partition",
    "workdir": "WorkDir",
}


def _jobs_since(start: datetime, *, requeues: bool = False) -> list[dict]:
    """The allocations accounting recorded since ``start`` (one line each, without their steps), keyed as
    ACCOUNTED; ``requeues``: also each run of a job before it was requeued."""
    done = subprocess.run(
        ["sacct", "-a", "-X", "-n", "-P", *(["-D"] if requeues else [])]
        + ["-S", start.strftime("%Y-%m-%dT%H:%M:%S"), "-o", ",".join(ACCOUNTED.values())],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    return [dict(zip(ACCOUNTED, line.split("|"), strict=True)) for line in done.stdout.splitlines() if line]


def _run_id(log: str) -> str:
    """The plugin's run ID, which it gives every job it submits as the job's name."""
    run_id = next((line.split()[-1] for line in log.splitlines() if "SLURM run ID" in line), None)
    assert run_id, f"the plugin printed no SLURM run ID:\n{log[-3000:]}"
    return run_id


def _settled_jobs(start: datetime, run_id: str, *, requeues: bool = False) -> list[dict]:
    """The run's allocations once accounting shows the last of them ended (written a moment after the
    job ends; the earlier ones, or a requeued run's earlier record, have ended before it; bounded:
    after 60 s, whatever it shows)."""
    deadline = time.monotonic() + 60
    while True:
        jobs = [job for job in _jobs_since(start, requeues=requeues) if job["name"] == run_id]
        if (jobs and jobs[-1]["state"] not in ("PENDING", "RUNNING", "REQUEUED")) or time.monotonic() > deadline:
            return jobs
        time.sleep(2)


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
    jobs = _settled_jobs(start, _run_id(log))
    assert len(jobs) == 1 and jobs[0]["state"] == "COMPLETED", f"{jobs}\n{_cluster_state()}"
    assert "toy_train" in jobs[0]["comment"], jobs[0]
    for rule in ("toy_evaluate", "toy_table", "toy_figure"):
        assert f"localrule {rule}:" in log, rule


ACCOUNTING = REPO / "tools" / "slurm-local" / "accounting.sh"
OUTAGE_S = 60


def _accounting(action: str) -> None:
    done = subprocess.run([str(ACCOUNTING), action], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"accounting.sh {action}: {done.stderr.strip()}\n{_cluster_state()}"


def _running_job(within_s: float, ready=lambda: True) -> str | None:
    """The id of a running job, once one runs and ``ready()`` holds (polled every 0.5 s); None when
    that has not happened within ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        running = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i"], capture_output=True, text=True, timeout=20)
        if running.stdout.split() and ready():
            return running.stdout.split()[0]
        time.sleep(0.5)
    return None


def _outage_while_a_job_runs(events: list[str]) -> None:
    """Stop slurmdbd once a job runs, for OUTAGE_S seconds; always start it again."""
    jobid = _running_job(120)
    if jobid is None:
        events.append("no job ran within 120 s")
        return
    _accounting("stop")
    events.append(f"slurmdbd stopped while {jobid} ran")
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


# One toy seed alone (rule toy_train_seed), trained long enough to outlast SLURM's shortest time limit,
# one minute: 3,000 epochs take about 105 s on one thread of a 2-core Xeon. device cpu: the job trains on
# one thread, so a resumed run is bit-identical to an uninterrupted one. A checkpoint at most every 2 s.
SEED_TARGET = "res/toy/random/seed3/models.pt"
SEED_CHECKPOINT = "res/toy/random/seed3/models.checkpoint.pt"  # <out stem>.checkpoint.pt (ali_bench/toy/cli.py)
SEED_LOG = "res/logs/toy_train_random_seed3.log"
LONG_SEED = {
    "device": "cpu",
    "results_dir": "res",
    "checkpoint_seconds": 2,
    "toy": {**TINY_TOY, "seeds": [3], "training": {**TINY_TOY["training"], "epochs": 3000}},
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """LONG_SEED trained here, without SLURM and without interruption: the model a resumed job must
    equal. It starts in the background at the first test that asks (while that test's SLURM job runs);
    calling the fixture's value waits for it (bounded) and gives the model's path."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    (folder / "config.yaml").write_text(yaml.safe_dump(LONG_SEED))
    log = (folder / "snakemake.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--cores", "1"]
        + ["--configfile", str(folder / "config.yaml"), "--directory", str(folder), SEED_TARGET],
        cwd=folder,
        env=snakemake_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def model() -> Path:
        try:
            returncode = process.wait(timeout=600)
        except subprocess.TimeoutExpired:
            pytest.fail("the uninterrupted reference run did not end within 600 s", pytrace=False)
        assert returncode == 0, (folder / "snakemake.log").read_text()[-4000:]
        return folder / SEED_TARGET

    yield model
    process.kill()
    process.wait()
    log.close()


# What two runs of one training may differ in: how long it took, and the file's digest, which covers it
UNEQUAL = {"wall_time_s", "content_sha256"}


def _differences(a, b, where: str = "") -> list[str]:
    """Where two loaded checkpoints differ: every tensor bit for bit, every other value by == (UNEQUAL aside)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} against {sorted(b)}"]
        return [line for key in a if key not in UNEQUAL for line in _differences(a[key], b[key], f"{where}/{key}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items against {len(b)}"]
        return [line for i, (x, y) in enumerate(zip(a, b, strict=True)) for line in _differences(x, y, f"{where}/{i}")]
    if torch.is_tensor(a) and torch.is_tensor(b):
        return [] if a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b) else [f"{where}: tensors differ"]
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


def _assert_resumed_to_the_uninterrupted_model(tmp_path: Path, uninterrupted) -> None:
    """The last attempt resumed mid-run (its log, which replaced the earlier ones', says from which epoch),
    every epoch of both models is in the training log once, and the model equals the uninterrupted one."""
    rule_log = (tmp_path / SEED_LOG).read_text()
    resumed = re.findall(r"resuming (\S+) from epoch (\d+)", rule_log)
    assert len(resumed) == 1 and resumed[0][0].endswith(SEED_CHECKPOINT), resumed
    assert 1 <= int(resumed[0][1]) <= LONG_SEED["toy"]["training"]["epochs"], (
        resumed
    )  # killed after the last epoch: resumes at it
    with open(tmp_path / "res/toy/random/seed3/train_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = list(range(1, LONG_SEED["toy"]["training"]["epochs"] + 1))
    for run in ("ali", "gan"):
        assert [int(row["epoch"]) for row in rows if row["run"].startswith(run)] == epochs, run
    resumed_model = torch.load(tmp_path / SEED_TARGET, map_location="cpu", weights_only=True)
    reference = torch.load(uninterrupted(), map_location="cpu", weights_only=True)
    assert not _differences(resumed_model, reference), _differences(resumed_model, reference)[:10]


@pytest.mark.slow
def test_a_job_at_its_time_limit_is_resubmitted_with_more_time_and_resumes_to_the_uninterrupted_model(
    cluster, tmp_path, uninterrupted
):
    """The seed's job gets 1 minute × attempt (--set-resources, as docs/cluster.md shows): SLURM ends the
    first attempt at its limit (TIMEOUT), Snakemake submits it again with 2 minutes (the profile's
    retries), and that attempt resumes from the checkpoint the first left and finishes (on a busy
    machine a third, with 3 minutes, may be needed). The model equals the uninterrupted run's."""
    start = datetime.now() - timedelta(seconds=2)
    result = _snakemake(
        tmp_path, LONG_SEED, SEED_TARGET, options=("--set-resources", "toy_train_seed:runtime=1*attempt"), timeout=540
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"{log[-6000:]}\n{_cluster_state()}"
    jobs = _settled_jobs(start, _run_id(log))
    states = [job["state"] for job in jobs]
    assert len(jobs) >= 2 and states == ["TIMEOUT"] * (len(jobs) - 1) + ["COMPLETED"], f"{jobs}\n{_cluster_state()}"
    assert [job["timelimit"] for job in jobs] == [f"00:0{attempt}:00" for attempt in range(1, len(jobs) + 1)], jobs
    _assert_resumed_to_the_uninterrupted_model(tmp_path, uninterrupted)


def _requeue_once_training(events: list[str], checkpoint: Path) -> None:
    """``scontrol requeue`` the running job once its first checkpoint exists (bounded: 180 s)."""
    jobid = _running_job(180, ready=checkpoint.is_file)
    if jobid is None:
        events.append("no running job with a checkpoint within 180 s")
        return
    done = subprocess.run(["scontrol", "requeue", jobid], capture_output=True, text=True, timeout=20)
    events.append(f"requeued {jobid}" if done.returncode == 0 else f"requeue failed: {done.stderr.strip()}")


@pytest.mark.slow
def test_a_job_requeued_while_it_trains_resumes_under_its_id_to_the_uninterrupted_model(
    cluster, tmp_path, uninterrupted
):
    """An administrator (or a preemption with PreemptMode=REQUEUE) requeues the training job after its
    first checkpoint: SLURM ends it, holds it (the requeue delay, cred_expire) and starts it again under
    the same job id. Snakemake, which sees the id pending and then running, keeps waiting; the restarted
    job resumes from the checkpoint and the model equals the uninterrupted run's."""
    start = datetime.now() - timedelta(seconds=2)
    events: list[str] = []
    requeue = threading.Thread(target=_requeue_once_training, args=(events, tmp_path / SEED_CHECKPOINT))
    requeue.start()
    try:
        result = _snakemake(tmp_path, LONG_SEED, SEED_TARGET, timeout=480)
    finally:
        requeue.join()
    log = result.stdout + result.stderr
    assert events[:1] and events[0].startswith("requeued "), f"{events}\n{_cluster_state()}"
    assert result.returncode == 0, f"{log[-6000:]}\n{_cluster_state()}"
    jobs = _settled_jobs(start, _run_id(log), requeues=True)
    assert {job["jobid"] for job in jobs} == {events[0].split()[1]}, jobs  # one job id: no resubmission
    assert [job["state"] for job in jobs] == ["REQUEUED", "COMPLETED"], f"{jobs}\n{_cluster_state()}"
    _assert_resumed_to_the_uninterrupted_model(tmp_path, uninterrupted)


@pytest.mark.slow
def test_a_job_that_fails_for_a_real_reason_is_tried_three_times_and_its_reason_ends_the_output(cluster, tmp_path):
    """device: cuda on a node without CUDA (its GPU is a count only; tools/slurm-local/start.sh): the job
    asks SLURM for what the rule declares (one GPU, 2 CPUs, 2,000 MB, 30 minutes × attempt), the harness
    refuses in one line inside it, and the profile's retries: 2 make three attempts, no more. The last
    line of Snakemake's output is the harness's reason, not the plugin's "Reason: Unknown"."""
    assert yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"] == 2
    start = datetime.now() - timedelta(seconds=2)
    config = {"device": "cuda", "results_dir": "res", "toy": {**TINY_TOY, "seeds": [3]}}
    result = _snakemake(tmp_path, config, SEED_TARGET, timeout=300)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log[-6000:]
    reason = "error: config key 'device' is 'cuda' but torch sees no CUDA GPU; use 'auto' or 'cpu'"
    assert log.rstrip().splitlines()[-1] == reason, log[-3000:]
    jobs = _settled_jobs(start, _run_id(log))
    assert [job["state"] for job in jobs] == ["FAILED"] * 3, f"{jobs}\n{_cluster_state()}"
    assert [job["timelimit"] for job in jobs] == ["00:30:00", "01:00:00", "01:30:00"], jobs
    for job in jobs:  # each attempt: the rule's resources, its one job (rule and wildcards), in the run's folder
        tres = dict(item.split("=", 1) for item in job["alloctres"].split(","))
        assert (tres["cpu"], tres["mem"], tres.get("gres/gpu"), job["partition"]) == ("2", "2000M", "1", "main"), job
        assert job["comment"] == "rule_toy_train_seed_wildcards_random_3", job
        assert Path(job["workdir"]).resolve() == tmp_path.resolve(), job
    assert not (tmp_path / SEED_TARGET).exists()
