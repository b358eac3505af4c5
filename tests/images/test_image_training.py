"""The image training loop: resume after a kill, clear failures, the fast path, the figures."""

import json
from functools import partial

import pandas as pd
import pytest
import torch

from ali_bench.config import load_config
from ali_bench.cuda_graphs import StepRunner
from ali_bench.data.images import load_split
from ali_bench.images import figures
from ali_bench.images import train as image_train
from ali_bench.training import TrainingDiverged

from conftest import run_cli, straight_and_resumed_runs

TINY_IMAGES = {"digits": {"epochs": 4, "width": 0.125, "lr": 0.0003}}


def _config_file(tmp_path, **digits):
    path = tmp_path / "config.json"
    # checkpoint_seconds 0: a checkpoint every epoch, so the resume test kills at the first one
    path.write_text(
        json.dumps(
            {"device": "cpu", "checkpoint_seconds": 0, "images": {"digits": {**TINY_IMAGES["digits"], **digits}}}
        )
    )
    return path


def _train_args(config, out):
    return [
        "image-train",
        "--config",
        str(config),
        "--dataset",
        "digits",
        "--no-progress",
        "--threads",
        "1",
        "--out",
        str(out / "models.pt"),
        "--log",
        str(out / "log.csv"),
    ]


def test_killed_image_training_resumes_to_the_uninterrupted_result(tmp_path):
    config = _config_file(tmp_path, epochs=4)
    straight, killed = straight_and_resumed_runs(partial(_train_args, config), tmp_path)
    a = torch.load(straight / "models.pt", weights_only=True)["state"]
    b = torch.load(killed / "models.pt", weights_only=True)["state"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    log = pd.read_csv(killed / "log.csv")
    assert list(log.columns) == ["epoch", "loss_d", "loss_g", "d_data", "d_sample", "wall_time_s"]
    assert log["epoch"].tolist() == list(range(1, 5))


def test_a_corrupt_image_checkpoint_is_one_warning_line_and_the_training_starts_over(tmp_path):
    config = _config_file(tmp_path, epochs=1)
    (tmp_path / "models.checkpoint.pt").write_bytes(b"\x80\x02garbage")
    result = run_cli(*_train_args(config, tmp_path), check=False)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(lines) == 1 and "models.checkpoint.pt' is corrupt" in lines[0], result.stderr
    assert "kept as models.checkpoint.pt.corrupt, training from scratch" in lines[0]
    assert (tmp_path / "models.pt").is_file()


def test_missing_dataset_is_one_line_naming_file_and_download_switch(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"device": "cpu", "images": {"data_root": str(tmp_path / "data"), "download": False}}))
    result = run_cli(
        "image-train",
        "--config",
        str(config),
        "--dataset",
        "svhn",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "extra_32x32.mat" in lines[0] and "images.download" in lines[0]


def test_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = load_config({"device": "cpu", "images": TINY_IMAGES}).images
    real_step, calls = image_train.image_step, {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real_step(*args, **kwargs)
        return out * float("nan") if calls["n"] > 12 else out  # epoch 2 (12 steps per epoch) goes bad

    monkeypatch.setattr(image_train, "image_step", poisoned)
    train = load_split("digits", "train", "unused")
    checkpoint = tmp_path / "ck.pt"
    with pytest.raises(TrainingDiverged, match="epoch 2") as caught:
        image_train.train_images(
            "digits",
            cfg,
            train,
            tmp_path / "m.pt",
            tmp_path / "l.csv",
            checkpoint,
            torch.device("cpu"),
            "cpu",
            progress=False,
        )
    assert str(checkpoint) in str(caught.value)
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 1 and not (tmp_path / "m.pt").exists()


def test_same_seed_same_numbers_on_cpu(tmp_path):
    cfg = load_config({"device": "cpu", "images": {"digits": {**TINY_IMAGES["digits"], "epochs": 1}}}).images
    train = load_split("digits", "train", "unused")
    runs = [
        image_train.train_images(
            "digits",
            cfg,
            train,
            tmp_path / f"m{i}.pt",
            tmp_path / f"l{i}.csv",
            tmp_path / f"c{i}.pt",
            torch.device("cpu"),
            "cpu",
            progress=False,
        )
        for i in range(2)
    ]
    assert all(torch.equal(runs[0]["state"][k], runs[1]["state"][k]) for k in runs[0]["state"])
    assert pd.read_csv(tmp_path / "l0.csv")["loss_d"].tolist() == pd.read_csv(tmp_path / "l1.csv")["loss_d"].tolist()


def test_the_graphed_step_wraps_the_function_the_cpu_tests_run():
    cfg = load_config({"device": "cpu", "images": TINY_IMAGES}).images
    trainer = image_train.make_trainer(
        "digits", cfg, load_split("digits", "train", "unused"), torch.device("cpu"), cuda_graphs=True
    )
    assert trainer.step.fn.func is image_train.image_step and not trainer.step.use_graph  # eager on CPU
    # the conditional model's step is the same function, given the batch's conditions as a second input
    full = load_config({"device": "cpu", "images": TINY_IMAGES})
    conditioning = image_train.Conditioning(full.conditional.run("digits"), full.conditional.embedding)
    conditional = image_train.make_trainer(
        "digits",
        cfg,
        load_split("digits", "train", "unused"),
        torch.device("cpu"),
        cuda_graphs=True,
        conditioning=conditioning,
    )
    assert conditional.step.fn.func is image_train.image_step and not conditional.step.use_graph
    runner = StepRunner(lambda a, b: a + b, use_graph=False)
    assert runner(torch.ones(2), torch.ones(2)).tolist() == [2.0, 2.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_graphed_and_eager_steps_agree_on_gpu():
    cfg = load_config({"device": "cuda", "images": {**TINY_IMAGES, "tf32": False, "channels_last": False}}).images
    train = load_split("digits", "train", "unused")
    device = torch.device("cuda")
    results = []
    for graphs in (False, True):
        trainer = image_train.make_trainer("digits", cfg, train, device, cuda_graphs=graphs)
        data = train.images[:100].to(device)
        losses = [trainer.step(data).clone() for _ in range(8)]  # 3 warm-up steps, capture, replays
        results.append((torch.stack(losses).cpu(), {k: v.cpu() for k, v in trainer.model.state_dict().items()}))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-3, atol=1e-4)
    for key in results[0][1]:
        torch.testing.assert_close(results[0][1][key].float(), results[1][1][key].float(), rtol=1e-3, atol=1e-4)


def test_figure_grids_have_the_papers_layouts(tmp_path):
    cfg = load_config({"device": "cpu", "images": {"digits": {**TINY_IMAGES["digits"], "epochs": 1}}}).images
    train, valid = load_split("digits", "train", "unused"), load_split("digits", "valid", "unused")
    image_train.train_images(
        "digits",
        cfg,
        train,
        tmp_path / "m.pt",
        tmp_path / "l.csv",
        tmp_path / "c.pt",
        torch.device("cpu"),
        "cpu",
        progress=False,
    )
    _, model = image_train.load_model(tmp_path / "m.pt", statistics="recomputed")
    assert not model.training
    assert figures.samples(model, 0).shape == (100, 3, 32, 32)
    grid = figures.reconstructions(model, valid, 0)
    assert grid.shape == (200, 3, 32, 32)
    data = grid[0::2]  # odd columns (1st, 3rd, ...) are validation images, even columns reconstructions
    assert all(any(torch.equal((v.float() / 255), d) for v in valid.images) for d in data[:5])
    inter = figures.interpolations(model, valid, 0, pairs=3, steps=4)
    assert inter.shape == (3 * 7, 3, 32, 32)
    first_row = inter[:7]
    assert any(torch.equal(v.float() / 255, first_row[0]) for v in valid.images)
    trained_with = {"images": {"digits": {**TINY_IMAGES["digits"], "epochs": 1}}}  # the figures job checks this
    run_cli(
        "image-figures",
        "--config-json",
        json.dumps(trained_with),
        "--models",
        str(tmp_path / "m.pt"),
        "--out-samples",
        str(tmp_path / "s.png"),
        "--out-reconstructions",
        str(tmp_path / "r.png"),
        "--out-interpolations",
        str(tmp_path / "i.png"),
    )
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("s.png", "r.png", "i.png"))


def test_divergence_before_any_checkpoint_says_none_was_written(tmp_path, monkeypatch):
    cfg = load_config({"device": "cpu", "images": TINY_IMAGES}).images
    real_step = image_train.image_step
    monkeypatch.setattr(
        image_train, "image_step", lambda *a, **k: real_step(*a, **k) * float("nan")
    )  # epoch 1 goes bad
    checkpoint = tmp_path / "ck.pt"
    with pytest.raises(TrainingDiverged, match="epoch 1") as caught:
        image_train.train_images(
            "digits",
            cfg,
            load_split("digits", "train", "unused"),
            tmp_path / "m.pt",
            tmp_path / "l.csv",
            checkpoint,
            torch.device("cpu"),
            "cpu",
            progress=False,
        )
    assert "no checkpoint of this run was written yet" in str(caught.value) and "is kept" not in str(caught.value)
    assert not checkpoint.exists()


def test_sample_grids_every_k_epochs_leave_the_training_unchanged(tmp_path):
    """images.figures.sample_grid_every: a grid per K epochs from fixed noise, drawn from a stream of
    its own, so a watched training ends with the unwatched one's weights."""
    from PIL import Image

    cfg = load_config({"device": "cpu", "images": {"digits": {**TINY_IMAGES["digits"], "epochs": 2}}}).images
    train = load_split("digits", "train", "unused")

    def run(name, every):
        (tmp_path / name).mkdir()
        return image_train.train_images(
            "digits",
            cfg,
            train,
            tmp_path / name / "models.pt",
            tmp_path / name / "log.csv",
            tmp_path / name / "c.pt",
            torch.device("cpu"),
            "cpu",
            progress=False,
            sample_grid_every=every,
        )

    plain, watched = run("plain", 0), run("watched", 1)
    assert not (tmp_path / "plain" / "samples").exists()
    grids = sorted((tmp_path / "watched" / "samples").iterdir())
    assert [p.name for p in grids] == ["epoch_00001.png", "epoch_00002.png"]
    with Image.open(grids[0]) as first, Image.open(grids[1]) as second:
        assert first.size == second.size and first.size[0] >= 10 * 32
        assert first.tobytes() != second.tobytes()  # the model moved between the two epochs
    assert all(torch.equal(plain["state"][k], watched["state"][k]) for k in plain["state"])


def test_sample_grid_setting_comes_from_the_option_then_the_environment_then_the_config(monkeypatch):
    import argparse

    from ali_bench.images import cli

    cfg = load_config({"images": {"figures": {"sample_grid_every": 5}}})
    monkeypatch.delenv(cli.SAMPLE_GRID_VARIABLE, raising=False)
    assert cli._sample_grid_every(cfg, argparse.Namespace(sample_grid_every=None)) == 5
    monkeypatch.setenv(cli.SAMPLE_GRID_VARIABLE, "3")
    assert cli._sample_grid_every(cfg, argparse.Namespace(sample_grid_every=None)) == 3
    assert cli._sample_grid_every(cfg, argparse.Namespace(sample_grid_every=0)) == 0
    monkeypatch.setenv(cli.SAMPLE_GRID_VARIABLE, "-1")
    with pytest.raises(cli.ConfigError, match=cli.SAMPLE_GRID_VARIABLE):
        cli._sample_grid_every(cfg, argparse.Namespace(sample_grid_every=None))
