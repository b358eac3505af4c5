"""A finished training is never thrown away by an interruption between the job's end and Snakemake's
record of it: the final checkpoint stays, so the rerun only rewrites the outputs."""

import json
import subprocess
import sys

import torch

from conftest import TINY_TOY, run_cli


def _toy_train(config: str, out) -> subprocess.CompletedProcess:
    return run_cli("toy-train", "--config-json", config, "--hyperparameters", "released", "--threads", "1",
                   "--no-progress", "--out", str(out / "models.pt"), "--log", str(out / "log.csv"))


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
        resumable.run_epochs(lambda e: (epochs_run.append(e) or [{"epoch": e + 1}], {}), epochs=2,
                             checkpoint_path=tmp_path / "c.pt", checkpoint_every=1, fingerprint="cfg",
                             get_state=lambda: state, set_state=saved.update, desc="t", progress=False)
        return epochs_run

    assert run("code-a") == [0, 1]
    assert run("code-a") == []  # same code, same config: every epoch already done
    assert run("code-b") == [0, 1]  # an edit of the package: trained again
