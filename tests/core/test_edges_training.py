"""Edges of the trainings: divergence stops with a true message, a models file with fewer seeds is
refused, a grown length continues from the checkpoint, a batch larger than its split is refused, and
an unreadable models file names the command that really makes it again."""

import json
import logging
from dataclasses import replace

import pytest
import torch

from ali_bench import checkpoint, resumable
from ali_bench.checkpoint import CheckpointError
from ali_bench.config import ConfigError, load_config
from ali_bench.data.images import load_split
from ali_bench.images import train as image_train
from ali_bench.toy.train import load_models, train_toy
from ali_bench.trained_with import ModelMismatch
from ali_bench.training import TrainingDiverged

from conftest import TINY_INFERENCE, TINY_TOY, run_cli

CPU = torch.device("cpu")
TINY_DIGITS = {"epochs": 1, "width": 0.125, "lr": 0.0003}


def _toy(**training):
    return load_config(
        {
            "device": "cpu",
            "toy": {**TINY_TOY, "training": {"epochs": 2, "checkpoint_every": 1, **training}},
            "toy_inference": TINY_INFERENCE,
        }
    )


def _train_toy(cfg, folder, hyperparameter_set="random", seeds=None):
    folder.mkdir(parents=True, exist_ok=True)
    return train_toy(
        cfg.toy,
        hyperparameter_set,
        folder / "models.pt",
        folder / "log.csv",
        folder / "models.checkpoint.pt",
        CPU,
        "cpu",
        cfg.batchnorm,
        seeds=seeds,
        progress=False,
    )


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory):
    """A tiny trained random-search models file (one epoch) that the toy inference trains against."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = _toy(epochs=1)
    folder = tmp_path_factory.mktemp("toy")
    _train_toy(cfg, folder)
    yield cfg, folder / "models.pt"
    torch.set_num_threads(threads)


# 1 ------------------------------------------------------------------------------------------------


def test_toy_inference_with_a_huge_learning_rate_stops_and_writes_no_model(tmp_path, toy_models):
    from ali_bench.toy_inference.train import train_method

    cfg, models = toy_models
    settings = replace(cfg.toy_inference, lr=1e6, epochs=2)
    with pytest.raises(TrainingDiverged) as caught:
        train_method(
            "vae",
            cfg.toy,
            settings,
            {"gan": {"run": "gan-random-seed0"}},
            models,
            tmp_path / "vae.pt",
            tmp_path / "vae.csv",
            tmp_path / "vae.checkpoint.pt",
            CPU,
            "cpu",
            cfg.batchnorm,
            progress=False,
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("toy inference method vae diverged in epoch ")
    assert "loss = " in message and "lower toy_inference.lr (now 1000000.0)" in message
    assert "diverges the same way" in message
    assert not (tmp_path / "vae.pt").exists()


# 2 ------------------------------------------------------------------------------------------------


def test_a_models_file_trained_with_fewer_seeds_is_refused_by_toy_evaluate(tmp_path):
    toy = {**TINY_TOY, "seeds": [0, 1, 2], "training": {"epochs": 1, "checkpoint_every": 1}}
    cfg = load_config({"device": "cpu", "toy": toy})
    _train_toy(cfg, tmp_path, "released", seeds=(1,))  # what `toy-train --seeds 1` writes
    models = tmp_path / "models.pt"
    with pytest.raises(
        ModelMismatch, match=r"holds the runs of seeds \[1\], but the config asks for toy.seeds = \[0, 1, 2\]"
    ):
        load_models(models, "recomputed", toy=cfg.toy, bn=cfg.batchnorm)
    config = json.dumps({"device": "cpu", "toy": toy})
    result = run_cli(
        "toy-evaluate",
        "--config-json",
        config,
        "--models",
        str(models),
        "--out-coverage",
        str(tmp_path / "coverage.csv"),
        "--out-samples",
        str(tmp_path / "samples.npz"),
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert str(models) in lines[0] and "seeds [1]" in lines[0] and "[0, 1, 2]" in lines[0]
    assert not (tmp_path / "coverage.csv").exists()


# 3 ------------------------------------------------------------------------------------------------


def _same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            _same_tensors(a[key], b[key])
        else:
            assert torch.equal(a[key], b[key]), key


def _log_without_wall_time(path):
    return [line.rsplit(",", 1)[0] for line in path.read_text().splitlines()]


def test_growing_the_toy_epochs_continues_from_the_checkpoint_to_the_straight_result(tmp_path, one_thread, caplog):
    caplog.set_level(logging.INFO, logger="ali_bench.resumable")
    grown = tmp_path / "grown"
    _train_toy(_toy(epochs=2), grown)
    caplog.clear()
    continued = _train_toy(_toy(epochs=4), grown)
    assert "continuing" in caplog.text and "from epoch 2: toy.training.epochs grew from 2 to 4" in caplog.text
    straight = _train_toy(_toy(epochs=4), tmp_path / "straight")
    _same_tensors(continued["models"], straight["models"])
    _same_tensors(continued["bn_recomputed"], straight["bn_recomputed"])
    assert _log_without_wall_time(grown / "log.csv") == _log_without_wall_time(tmp_path / "straight" / "log.csv")
    # shrinking it, or changing anything else, trains from scratch
    caplog.clear()
    shrunk = _train_toy(_toy(epochs=2), grown)
    assert "trains toward 4 epochs, more than the 2" in caplog.text and "continuing" not in caplog.text
    _same_tensors(shrunk["models"], _train_toy(_toy(epochs=2), tmp_path / "two")["models"])
    caplog.clear()
    _train_toy(_toy(epochs=4, batch_size=50), grown)
    assert "another config" in caplog.text and "continuing" not in caplog.text


def test_growing_the_digits_epochs_continues_from_the_checkpoint_to_the_straight_result(tmp_path, one_thread, caplog):
    caplog.set_level(logging.INFO, logger="ali_bench.resumable")
    train = load_split("digits", "train", "unused")

    def run(folder, epochs):
        cfg = load_config({"device": "cpu", "images": {"digits": {**TINY_DIGITS, "epochs": epochs}}}).images
        return image_train.train_images(
            "digits",
            cfg,
            train,
            folder / "models.pt",
            folder / "log.csv",
            folder / "models.checkpoint.pt",
            CPU,
            "cpu",
            progress=False,
        )

    grown, straight = tmp_path / "grown", tmp_path / "straight"
    run(grown, 1)
    caplog.clear()
    continued = run(grown, 2)
    assert "from epoch 1: images.digits.epochs grew from 1 to 2" in caplog.text
    reference = run(straight, 2)
    _same_tensors(continued["state"], reference["state"])
    _same_tensors(continued["bn_recomputed"], reference["bn_recomputed"])
    assert continued["config"] == reference["config"]  # what the consumers check: trained for 2 epochs
    assert _log_without_wall_time(grown / "log.csv") == _log_without_wall_time(straight / "log.csv")


def test_a_schedule_that_depends_on_the_length_is_not_continued(tmp_path, caplog):
    """The semi-supervised learning rate decays over the last part of training: a finished shorter
    run's last epochs had another rate than the longer run's, so it trains from scratch, saying so;
    a killed run still in its constant-rate part continues."""
    from functools import partial

    from ali_bench.semisup.train import same_schedule

    caplog.set_level(logging.INFO, logger="ali_bench.resumable")
    assert same_schedule(3, 9, epochs=18, decay_fraction=1 / 3) and not same_schedule(
        9, 9, epochs=18, decay_fraction=1 / 3
    )
    assert same_schedule(9, 9, epochs=18, decay_fraction=0.0)  # no decay: nothing depends on the total

    def run(epochs):
        trained = []
        resumable.run_epochs(
            lambda e: (trained.append(e) or [{"epoch": e + 1}], {}),
            epochs=epochs,
            checkpoint_path=tmp_path / "c.pt",
            checkpoint_every=1,
            fingerprint="f",
            get_state=dict,
            set_state=lambda state: None,
            desc="t",
            progress=False,
            length_key="semisup.digits.epochs",
            same_schedule=partial(same_schedule, epochs=epochs, decay_fraction=0.5),
        )
        return trained

    assert run(4) == [0, 1, 2, 3]
    assert run(8) == list(range(8))  # epochs 2-3 decayed toward 4: not those of a run of 8
    assert "not continuing" in caplog.text and "semisup.digits.epochs grew from 4 to 8" in caplog.text


# 4 ------------------------------------------------------------------------------------------------


def test_a_diverged_image_run_names_the_kept_checkpoint_the_key_and_that_a_rerun_diverges_again(tmp_path, monkeypatch):
    cfg = load_config(
        {"device": "cpu", "checkpoint_seconds": 0, "images": {"digits": {**TINY_DIGITS, "epochs": 3}}}
    ).images
    real_step, calls = image_train.image_step, [0]
    steps = len(load_split("digits", "train", "unused")) // cfg.digits.batch_size

    def poisoned(*args, **kwargs):  # epoch 2 goes bad
        calls[0] += 1
        out = real_step(*args, **kwargs)
        return out * float("nan") if calls[0] > steps else out

    monkeypatch.setattr(image_train, "image_step", poisoned)
    checkpoint = tmp_path / "models.checkpoint.pt"
    with pytest.raises(TrainingDiverged) as caught:
        image_train.train_images(
            "digits",
            cfg,
            load_split("digits", "train", "unused"),
            tmp_path / "models.pt",
            tmp_path / "log.csv",
            checkpoint,
            CPU,
            "cpu",
            progress=False,
        )
    message = str(caught.value)
    assert "\n" not in message and "starts over" not in message
    assert message.startswith("training ALI on digits diverged in epoch 2: loss_d = nan")
    assert "lower images.digits.lr (now 0.0003) or check the data" in message
    assert f"the last good checkpoint '{checkpoint}' (after epoch 1) is kept" in message
    assert "rerunning unchanged resumes from it and diverges the same way" in message
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1 and not (tmp_path / "models.pt").exists()


# 5 ------------------------------------------------------------------------------------------------


def test_an_image_batch_larger_than_its_split_is_refused_before_training(tmp_path):
    train = load_split("digits", "train", "unused")
    cfg = load_config(
        {
            "device": "cpu",
            "images": {"digits": {**TINY_DIGITS, "batch_size": 5000}},
            "conditional": {"digits": {**TINY_DIGITS, "batch_size": 4000}},
        }
    )
    with pytest.raises(ConfigError, match=rf"'images.digits.batch_size' is 5000, more than the {len(train)} images"):
        image_train.train_images(
            "digits",
            cfg.images,
            train,
            tmp_path / "m.pt",
            tmp_path / "l.csv",
            tmp_path / "c.pt",
            CPU,
            "cpu",
            progress=False,
        )
    conditioning = image_train.Conditioning(cfg.conditional.run("digits"), cfg.conditional.embedding)
    with pytest.raises(
        ConfigError, match=rf"'conditional.digits.batch_size' is 4000, more than the {len(train)} images"
    ):
        image_train.train_images(
            "digits",
            cfg.images,
            train,
            tmp_path / "m.pt",
            tmp_path / "l.csv",
            tmp_path / "c.pt",
            CPU,
            "cpu",
            progress=False,
            conditioning=conditioning,
        )
    assert not any(tmp_path.iterdir())


def test_a_semisup_batch_larger_than_its_split_is_refused_before_training(tmp_path):
    from ali_bench.semisup.settings import settings_for
    from ali_bench.semisup.train import train_semisup

    cfg = load_config({"device": "cpu", "semisup": {"batch_size": 5000, "digits": {"epochs": 1, "width": 0.125}}})
    train = load_split("digits", "train", "unused")
    settings = settings_for(cfg, "digits", 100, 0, "ali")
    with pytest.raises(ConfigError, match=rf"'semisup.batch_size' is 5000, more than the {len(train)} images"):
        train_semisup(
            settings,
            train,
            train,
            load_split("digits", "test", "unused"),
            tmp_path / "r.json",
            tmp_path / "l.csv",
            tmp_path / "c.pt",
            CPU,
            progress=False,
        )
    assert not any(tmp_path.iterdir())


def test_a_toy_inference_batch_larger_than_the_training_set_is_refused(tmp_path, toy_models):
    from ali_bench.toy_inference.train import train_method

    cfg, models = toy_models
    with pytest.raises(ConfigError, match=r"'toy_inference.batch_size' is 2000, more than the 1000 training points"):
        train_method(
            "vae",
            cfg.toy,
            replace(cfg.toy_inference, batch_size=2000),
            {"gan": {"run": "gan-random-seed0"}},
            models,
            tmp_path / "v.pt",
            tmp_path / "v.csv",
            tmp_path / "v.checkpoint.pt",
            CPU,
            "cpu",
            cfg.batchnorm,
            progress=False,
        )
    assert not any(tmp_path.iterdir())


# 6 ------------------------------------------------------------------------------------------------


def test_a_truncated_models_file_names_the_snakemake_command_that_makes_it_again(tmp_path, toy_models):
    """Deleting a consumer's broken input and rerunning makes Snakemake report nothing to be done (it
    does not remake a missing intermediate file while the targets downstream look complete);
    ``snakemake --forcerun <file>`` reruns the job that makes it and what depends on it."""
    cfg, models = toy_models
    broken = tmp_path / "models.pt"
    broken.write_bytes(models.read_bytes()[:1000])
    with pytest.raises(CheckpointError) as caught:
        load_models(broken, "recomputed", toy=cfg.toy, bn=cfg.batchnorm)
    message = str(caught.value)
    assert "\n" not in message and "corrupt or truncated" in message
    assert f"snakemake --forcerun {broken}" in message and "delete it and rerun" not in message
    # a settings mismatch names the same command
    other = replace(cfg.toy, training=replace(cfg.toy.training, epochs=7))
    with pytest.raises(ModelMismatch, match=rf"snakemake --forcerun {models}"):
        load_models(models, "recomputed", toy=other, bn=cfg.batchnorm)


def _checkpoints_run(tmp_path, epochs=2):
    def one_epoch(epoch):
        return [{"epoch": epoch + 1}], {}

    return resumable.run_epochs(
        one_epoch,
        epochs=epochs,
        checkpoint_path=tmp_path / "c.pt",
        checkpoint_every=1,
        fingerprint="f",
        get_state=lambda: {"w": torch.ones(2)},
        set_state=lambda state: None,
        desc="t",
        progress=False,
    )


@pytest.mark.parametrize("damage", ["garbage", "overwritten", "non-finite"])
def test_a_corrupt_training_checkpoint_is_kept_aside_and_the_training_starts_over(tmp_path, caplog, damage):
    """The training job is its checkpoint's only reader: a refusal would fail Snakemake's retry too, with
    the file still there. So a checkpoint that cannot be trusted is never resumed from: it is kept as
    c.pt.corrupt, the log says why, and the run trains every epoch from the first."""
    _checkpoints_run(tmp_path, epochs=1)
    saved = torch.load(tmp_path / "c.pt", weights_only=True)
    if damage == "garbage":
        (tmp_path / "c.pt").write_bytes(b"garbage")
    elif damage == "overwritten":  # torch still reads it: only the recorded digest tells
        saved["epoch"] = 2
        torch.save(saved, tmp_path / "c.pt")
    else:  # from before digests: nothing to compare, but a NaN weight
        del saved[checkpoint.DIGEST_KEY]
        saved["state"]["w"][0] = float("nan")
        torch.save(saved, tmp_path / "c.pt")
    damaged = (tmp_path / "c.pt").read_bytes()
    with caplog.at_level("WARNING"):
        rows, _ = _checkpoints_run(tmp_path, epochs=2)
    assert [row["epoch"] for row in rows] == [1, 2]  # from scratch, not resumed from epoch 1
    assert (tmp_path / "c.pt.corrupt").read_bytes() == damaged
    warning = next(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "not resuming: checkpoint" in warning and "kept as c.pt.corrupt, training from scratch" in warning
    assert checkpoint.load(tmp_path / "c.pt", resumable.CHECKPOINT_FORMAT)["epoch"] == 2
