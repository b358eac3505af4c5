"""A finished training is never thrown away by an interruption between the job's end and Snakemake's
record of it: the final checkpoint stays, so the rerun only rewrites the outputs."""

import json
import subprocess

import torch

from conftest import REPO, TINY_TOY, run_cli


def _toy_train(config: str, out) -> subprocess.CompletedProcess:
    return run_cli(
        "toy-train",
        "--config-json",
        config,
        "--hyperparameters",
        "released",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(out / "models.pt"),
        "--log",
        str(out / "log.csv"),
    )


def test_a_rerun_after_the_outputs_were_discarded_reuses_the_final_checkpoint(tmp_path):
    config = json.dumps({"device": "cpu", "toy": {**TINY_TOY, "training": {"epochs": 3, "checkpoint_every": 2}}})
    _toy_train(config, tmp_path)
    first = torch.load(tmp_path / "models.pt", weights_only=True)
    assert (tmp_path / "models.checkpoint.pt").is_file(), "the final checkpoint must outlive the job"
    # Snakemake, interrupted after the job finished, marks its outputs incomplete and deletes them on rerun
    (tmp_path / "models.pt").unlink()
    first_log = (tmp_path / "log.csv").read_text()
    (tmp_path / "log.csv").unlink()
    rerun = _toy_train(config, tmp_path)
    assert "resuming" in rerun.stderr and "from epoch 3" in rerun.stderr
    second = torch.load(tmp_path / "models.pt", weights_only=True)
    for kind in first["models"]:
        for key, value in first["models"][kind].items():
            assert torch.equal(value, second["models"][kind][key]), f"{kind} {key}"
    assert (tmp_path / "log.csv").read_text() == first_log  # the three epochs' rows, none trained again


def test_a_checkpoint_from_other_code_is_not_reused(tmp_path, monkeypatch):
    from ali_bench import resumable

    saved = {}
    state = {"w": torch.zeros(1)}

    def run(code_hash):
        monkeypatch.setattr(resumable, "code_fingerprint", lambda: code_hash)
        epochs_run = []
        resumable.run_epochs(
            lambda e: (epochs_run.append(e) or [{"epoch": e + 1}], {}),
            epochs=2,
            checkpoint_path=tmp_path / "c.pt",
            checkpoint_every=1,
            fingerprint="cfg",
            get_state=lambda: state,
            set_state=saved.update,
            desc="t",
            progress=False,
        )
        return epochs_run

    assert run("code-a") == [0, 1]
    assert run("code-a") == []  # same code, same config: every epoch already done
    assert run("code-b") == [0, 1]  # an edit of the package: trained again


def test_the_log_grows_while_training_runs_and_a_resume_repeats_no_epoch(tmp_path, monkeypatch):
    """Rows reach the log as epochs finish (here every epoch: ROWS_EVERY_S 0); a kill after epoch 3,
    checkpointed at 2, then a resume: the log holds each of the 5 epochs once."""
    from ali_bench import resumable
    from ali_bench.resumable import write_log

    monkeypatch.setattr(resumable, "ROWS_EVERY_S", 0.0)
    log, seen = tmp_path / "log.csv", []

    class Killed(Exception):
        pass

    def run(kill_at=None):
        def epoch(e):
            if e == kill_at:
                raise Killed
            seen.append(log.read_text().count("\n") - 1 if log.exists() else 0)  # rows already in the log
            return [{"epoch": e + 1, "loss_d": 0.5}], {}

        return resumable.run_epochs(
            epoch,
            epochs=5,
            checkpoint_path=tmp_path / "c.pt",
            checkpoint_every=2,
            fingerprint="cfg",
            get_state=lambda: {},
            set_state=lambda s: None,
            desc="t",
            progress=False,
            on_rows=lambda rows: write_log(log, rows, ("epoch", "loss_d", "wall_time_s")),
        )

    try:
        run(kill_at=3)
    except Killed:
        pass
    assert seen == [0, 1, 2] and log.read_text().count("\n") == 1 + 3  # epochs 1-3 written as they ended
    run()
    epochs = [line.split(",")[0] for line in log.read_text().splitlines()[1:]]
    assert epochs == ["1", "2", "3", "4", "5"]  # resumed from epoch 2's checkpoint: epoch 3 once, not twice


def test_log_lines_carry_timestamps(tmp_path):
    config = json.dumps({"device": "cpu", "toy": {**TINY_TOY, "training": {"epochs": 1, "checkpoint_every": 1}}})
    _toy_train(config, tmp_path)
    rerun = _toy_train(config, tmp_path)
    line = next(line for line in rerun.stderr.splitlines() if "resuming" in line)
    assert __import__("re").match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO ", line), line


def test_checkpoints_come_at_most_once_per_checkpoint_seconds_and_after_the_last_epoch(tmp_path, monkeypatch):
    """Each epoch takes 1 s of a fake clock; checkpoint_seconds 2.5 with a cadence of one epoch saves
    after epochs 3 and 6 (2.5 s passed each time) and 7 (the last); 0 saves after every epoch."""
    from ali_bench import resumable

    clock = [0.0]
    monkeypatch.setattr(resumable.time, "perf_counter", lambda: clock[0])
    saved_epochs = []
    monkeypatch.setattr(resumable.checkpoint, "save", lambda path, payload: saved_epochs.append(payload["epoch"]))

    def epoch(e):
        clock[0] += 1.0
        return [{"epoch": e + 1}], {}

    def run(seconds):
        saved_epochs.clear()
        resumable.run_epochs(
            epoch,
            epochs=7,
            checkpoint_path=tmp_path / "none.pt",
            checkpoint_every=1,
            fingerprint="f",
            get_state=dict,
            set_state=dict,
            desc="t",
            progress=False,
            checkpoint_seconds=seconds,
        )
        return list(saved_epochs)

    assert run(2.5) == [3, 6, 7]
    assert run(0.0) == [1, 2, 3, 4, 5, 6, 7]


def test_the_workflow_sets_checkpoint_seconds_for_the_jobs_over_the_config(monkeypatch):
    """The environment variable (what common.smk exports from the run's config) wins over the job's
    --config-json, which holds only what shapes the weights (so the key never retrains)."""
    import pytest

    from ali_bench.command_line import CHECKPOINT_SECONDS_VARIABLE, checkpoint_seconds
    from ali_bench.config import ConfigError, load_config

    cfg = load_config({})
    assert cfg.checkpoint_seconds == 30
    monkeypatch.setenv(CHECKPOINT_SECONDS_VARIABLE, "0")
    assert checkpoint_seconds(cfg) == 0.0
    monkeypatch.setenv(CHECKPOINT_SECONDS_VARIABLE, "-1")
    with pytest.raises(ConfigError, match=CHECKPOINT_SECONDS_VARIABLE):
        checkpoint_seconds(cfg)
    common = (REPO / "workflow/rules/common.smk").read_text()
    assert "ALI_BENCH_CHECKPOINT_SECONDS={float(config['checkpoint_seconds'])}" in common
