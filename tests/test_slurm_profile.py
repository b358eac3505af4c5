"""The SLURM profile (profiles/slurm) driving a real job through stand-in SLURM commands.

tests/fake_slurm/ holds stand-ins for every command snakemake-executor-plugin-slurm calls
(sbatch, sacct, squeue, sinfo, scontrol, sacctmgr, sshare, scancel, and srun inside the job):
sbatch records each submission and runs the job at once; the others report what it recorded.
Snakemake runs with the profile as a user would run it, the stand-ins first on PATH.
"""

from __future__ import annotations

import json
import os
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
                values.append(arg[len(name) + 1:])
            elif not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                values.append(arg[len(name):])
    return values


def _scheduled(log: str, rule: str) -> dict:
    """The job summary Snakemake prints for the job of `rule` (threads, resources, ...)."""
    lines = log.splitlines()
    start = lines.index(f"rule {rule}:")
    block = {}
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(": ")
        block[key] = value
    block["resources"] = dict(item.split("=", 1) for item in block["resources"].split(", "))
    return block


def _run(tmp_path: Path, *, job_path: Path | None = None, target: str = TARGET) -> tuple[subprocess.CompletedProcess, Path, dict]:
    """Snakemake with the SLURM profile on ``target``, the stand-ins first on PATH (job_path before them)."""
    config = tmp_path / "config.yaml"
    # device auto, as on a GPU cluster: the training rule asks for its card (the stand-in runs it on the CPU)
    config.write_text(yaml.safe_dump({"device": "auto", "results_dir": "res", "toy": TINY_TOY}))
    state = tmp_path / "fake_slurm_state"
    # The stand-in cluster knows the partition and account the profile names, if a user set them.
    defaults = yaml.safe_load((PROFILE / "config.yaml").read_text()).get("default-resources") or {}
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SNAKEMAKE_SLURM", "SNAKEMAKE_PROFILE"))}
    path = [str(FAKE_SLURM), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    partitions = ["main*", "gpu"] + ([str(defaults["slurm_partition"])] if "slurm_partition" in defaults else [])
    accounts = ["fake_account"] + ([str(defaults["slurm_account"])] if "slurm_account" in defaults else [])
    env.update(
        PATH=os.pathsep.join(([str(job_path)] if job_path else []) + path),
        FAKE_SLURM_DIR=str(state),
        FAKE_SLURM_PARTITIONS=",".join(partitions),
        FAKE_SLURM_ACCOUNTS=",".join(accounts),
    )
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
         "--workflow-profile", str(PROFILE), "--configfile", str(config), "--directory", str(tmp_path),
         # poll job states 1 s after a submission instead of the plugin's 40 s; nothing else changes
         "--slurm-init-seconds-before-status-checks", "1",
         target],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
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
    result, state, _ = _run(tmp_path, job_path=broken)
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert f"Error in rule {RULE}" in log
    assert not (tmp_path / TARGET).exists()
    # The profile retries a failed job twice (a time limit or a preemption would come back the same
    # way), each time with more time: the rule asks for runtime × attempt minutes.
    submissions = _submissions(state, log)
    assert [_job(state, s)["state"] for s in submissions] == ["FAILED"] * 3
    assert [_option(s["argv"], "-t", "--time") for s in submissions] == [["30"], ["60"], ["90"]]


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
