"""The SLURM profile (profiles/slurm) driving a real job through stand-in SLURM commands.

tests/workflow/fake_slurm/ holds stand-ins for every command snakemake-executor-plugin-slurm calls
(sbatch, sacct, squeue, sinfo, scontrol, sacctmgr, sshare, scancel, and srun inside the job):
sbatch records each submission and runs the job at once; the others report what it recorded.
Snakemake runs with the profile as a user would run it, the stand-ins first on PATH.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_TOY

FAKE_SLURM = Path(__file__).resolve().parent / "fake_slurm"
PROFILE = REPO / "profiles" / "slurm"
TARGET = "res/toy/random/seed3/models.pt"
RULE, WILDCARDS = "toy_train_seed", "hparams=random,seed=3"


def _option(argv: list[str], *names: str) -> list[str]:
    """Every value argv gives the option `names` (spelled `--opt value`, `--opt=value` or `-tvalue`)."""
    values = []
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                values.append(argv[i + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                values.append(arg[len(name) + 1 :])
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                values.append(arg[len(name) :])
    return values


def _scheduled(log: str, rule: str) -> dict:
    """The job summary Snakemake prints for the job of `rule` (threads, resources, ...)."""
    lines = log.splitlines()
    start = lines.index(f"rule {rule}:")
    block = {}
    for line in lines[start + 1 :]:
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(": ")
        block[key] = value
    block["resources"] = dict(item.split("=", 1) for item in block["resources"].split(", "))
    return block


def _run(
    tmp_path: Path,
    *,
    job_path: Path | None = None,
    target: str = TARGET,
    device: str = "auto",
    toy: dict = TINY_TOY,
    extra_env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> tuple[subprocess.CompletedProcess, Path, dict]:
    """Snakemake with the SLURM profile on ``target``, the stand-ins first on PATH (job_path before them);
    ``device`` and ``toy`` go in the config, ``extra_env`` into the environment (FAKE_SLURM_* settings)."""
    config = tmp_path / "config.yaml"
    # device auto by default, as on a GPU cluster: the training rule asks for its card (the stand-in runs it on the CPU)
    # checkpoint_seconds 0: the time-limit test ends the job at its first checkpoint, after epoch 1
    config.write_text(yaml.safe_dump({"device": device, "results_dir": "res", "toy": toy, "checkpoint_seconds": 0}))
    state = tmp_path / "fake_slurm_state"
    # The stand-in cluster knows the partition and account the profile names, if a user set them.
    defaults = yaml.safe_load((PROFILE / "config.yaml").read_text()).get("default-resources") or {}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SNAKEMAKE_SLURM", "SNAKEMAKE_PROFILE"))
    }
    path = [str(FAKE_SLURM), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    partitions = ["main*", "gpu"] + ([str(defaults["slurm_partition"])] if "slurm_partition" in defaults else [])
    accounts = ["fake_account"] + ([str(defaults["slurm_account"])] if "slurm_account" in defaults else [])
    env.update(
        PATH=os.pathsep.join(([str(job_path)] if job_path else []) + path),
        FAKE_SLURM_DIR=str(state),
        FAKE_SLURM_PARTITIONS=",".join(partitions),
        FAKE_SLURM_ACCOUNTS=",".join(accounts),
    )
    env.update(extra_env or {})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--workflow-profile",
            str(PROFILE),
            "--configfile",
            str(config),
            "--directory",
            str(tmp_path),
            # poll job states 1 s after a submission instead of the plugin's 40 s; nothing else changes
            "--slurm-init-seconds-before-status-checks",
            "1",
            *options,
            target,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    return result, state, defaults


def _submissions(state: Path, log: str) -> list[dict]:
    assert (state / "sbatch.jsonl").is_file(), f"nothing was submitted through sbatch:\n{log}"
    return [json.loads(line) for line in (state / "sbatch.jsonl").read_text().splitlines()]


def _job(state: Path, submission: dict) -> dict:
    return json.loads((state / "jobs" / f"{submission['jobid']}.json").read_text())


@pytest.mark.slow
def test_slurm_profile_submits_one_toy_seed_as_one_gpu_job(tmp_path):
    """The single-seed toy rerun goes to SLURM as one job asking for what the rule declares."""
    result, state, defaults = _run(tmp_path)
    partition, account = defaults.get("slurm_partition"), defaults.get("slurm_account")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert f"Using workflow specific profile {PROFILE}" in log
    assert (tmp_path / TARGET).is_file() and (tmp_path / "res/toy/random/seed3/train_log.csv").is_file()

    # Exactly one job was submitted, and the stand-in ran it to completion.
    submissions = _submissions(state, log)
    assert len(submissions) == 1, [s["argv"] for s in submissions]
    argv = submissions[0]["argv"]
    assert _job(state, submissions[0])["state"] == "COMPLETED"

    # It asks SLURM for what the rule declares (threads 2, gpu=1, runtime 30 min, 2000 MB).
    scheduled = _scheduled(log, RULE)
    resources = scheduled["resources"]
    assert scheduled["threads"] == "2" and resources["gpu"] == "1"
    gpus, gres = _option(argv, "--gpus", "-G"), _option(argv, "--gres")
    assert gpus == [resources["gpu"]] or gres == [f"gpu:{resources['gpu']}"], argv
    assert _option(argv, "-t", "--time") == [resources["runtime"]], argv
    assert _option(argv, "--mem") == [resources["mem_mb"]], argv
    assert _option(argv, "--cpus-per-task", "-c") == [scheduled["threads"]], argv
    assert _option(argv, "-p", "--partition") == [str(partition or "main")], argv  # else sinfo's default
    if account:
        assert _option(argv, "-A", "--account") == [str(account)], argv
    assert [Path(d).resolve() for d in _option(argv, "-D", "--chdir")] == [tmp_path.resolve()], argv

    # The job's command is Snakemake running rule toy_train_seed for seed 3, nothing else.
    # (--wrap; or the script on stdin, with --slurm-pass-command-as-script)
    wrapped = _option(argv, "--wrap")
    script = wrapped[0] if wrapped else submissions[0]["stdin"]
    command = shlex.split("\n".join(line for line in script.splitlines() if not line.startswith("#")))
    assert command[1:3] == ["-m", "snakemake"], command
    assert _option(command, "--target-jobs") == [f"{RULE}:{WILDCARDS}"], command
    assert _option(command, "--allowed-rules") == [RULE], command


@pytest.mark.slow
def test_a_failed_slurm_job_fails_the_run(tmp_path):
    """The rule's command fails inside the job (a `python` that exits 7, first on PATH: only the
    rule's shell command looks `python` up): SLURM reports FAILED, the job is retried with a longer
    limit, and once the retries are spent Snakemake stops with an error instead of waiting or passing."""
    broken = tmp_path / "broken_bin"
    broken.mkdir()
    (broken / "python").write_text("#!/bin/sh\nexit 7\n")
    (broken / "python").chmod(0o755)
    # The profile retries a failed job twice (a time limit or a preemption comes back the same way:
    # the next test); here once (--retries 1 over the profile's 2: each round of the plugin's status
    # checks waits longer, and the third attempt would add half a minute to CI and show nothing new).
    assert yaml.safe_load((PROFILE / "config.yaml").read_text())["retries"] == 2
    result, state, _ = _run(tmp_path, job_path=broken, options=("--retries", "1"))
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert f"Error in rule {RULE}" in log
    assert not (tmp_path / TARGET).exists()
    # each attempt with more time: the rule asks for runtime × attempt minutes
    submissions = _submissions(state, log)
    assert [_job(state, s)["state"] for s in submissions] == ["FAILED"] * 2
    assert [_option(s["argv"], "-t", "--time") for s in submissions] == [["30"], ["60"]]


@pytest.mark.slow
def test_a_job_killed_at_its_time_limit_is_resubmitted_and_resumes(tmp_path):
    """The training job reaches its SLURM time limit mid-run (the stand-in ends it as SLURM does, SIGTERM
    then SIGKILL, the moment its first checkpoint appears: FAKE_SLURM_TIME_LIMIT_WHEN, so the point does
    not depend on the machine's speed). The profile's retry submits it again with twice the limit, and
    the second attempt resumes from the checkpoint the first left (Snakemake deletes only the declared
    outputs): every epoch is in the final log exactly once."""
    # device cpu: the job trains on one thread (train_threads, workflow/rules/common.smk), about 0.05 s
    # an epoch even on a busy 2-core machine (two threads there take 1-7 s an epoch, from contention).
    # The limit hits at the first checkpoint, after epoch 1: the 59 epochs still to run take seconds,
    # far longer than the stand-in needs to notice the checkpoint (every 0.05 s) and end the job.
    epochs = 60
    toy = {**TINY_TOY, "training": {**TINY_TOY["training"], "epochs": epochs, "checkpoint_every": 1}}
    checkpoint = (
        "res/toy/random/seed3/models.checkpoint.pt"  # ali_bench/toy/cli.py: <out stem>.checkpoint.pt beside --out
    )
    result, state, _ = _run(tmp_path, device="cpu", toy=toy, extra_env={"FAKE_SLURM_TIME_LIMIT_WHEN": checkpoint})
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert (tmp_path / TARGET).is_file()

    # Two submissions: the first reached its limit, the retry finished; the retry asked for runtime × 2.
    submissions = _submissions(state, log)
    assert len(submissions) == 2, [s["argv"] for s in submissions]
    assert [_job(state, s)["state"] for s in submissions] == ["TIMEOUT", "COMPLETED"]
    assert (state / "time_limit_when.claimed").read_text().split()[0] == str(submissions[0]["jobid"])
    first_limit = _option(submissions[0]["argv"], "-t", "--time")
    assert first_limit == [_scheduled(log, RULE)["resources"]["runtime"]], first_limit
    runtime = int(first_limit[0])
    assert [_option(s["argv"], "-t", "--time") for s in submissions] == [[str(runtime)], [str(2 * runtime)]]

    # The second attempt (whose output replaced the first's in the rule's log) resumed mid-run, not from scratch.
    rule_log = (tmp_path / "res/logs/toy_train_random_seed3.log").read_text()
    resumed = re.findall(r"resuming (\S+) from epoch (\d+)", rule_log)
    messages = [
        line for line in re.split(r"[\r\n]+", rule_log) if line and not line.startswith("toy ")
    ]  # no progress bar
    assert len(resumed) == 1, ("the second attempt did not resume once", messages)
    assert resumed[0][0].endswith(checkpoint), resumed
    assert 1 <= int(resumed[0][1]) < epochs, resumed

    # Every epoch of both models (ALI, GAN) is in the final log exactly once (epochs count from 1).
    with open(tmp_path / "res/toy/random/seed3/train_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    runs = sorted({row["run"] for row in rows})
    assert len(runs) == 2, runs
    for run in runs:
        assert [int(row["epoch"]) for row in rows if row["run"] == run] == list(range(1, epochs + 1)), (run, rows)


@pytest.mark.slow
def test_only_training_is_queued_tables_and_evaluations_run_on_the_submitting_node(tmp_path):
    """The toy table through the profile: the two trainings become sbatch jobs; evaluation, table
    (and every other seconds-long step, ``localrules:`` in each rule file) run where Snakemake runs."""
    result, state, _ = _run(tmp_path, target="res/toy_table.csv")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    assert (tmp_path / "res/toy_table.csv").is_file()
    submitted = []
    for submission in _submissions(state, log):
        wrapped = _option(submission["argv"], "--wrap")
        script = wrapped[0] if wrapped else submission["stdin"]
        command = shlex.split("\n".join(line for line in script.splitlines() if not line.startswith("#")))
        submitted += _option(command, "--allowed-rules")
    assert sorted(submitted) == ["toy_train", "toy_train"], submitted
    assert "localrule toy_evaluate:" in log and "localrule toy_table:" in log
