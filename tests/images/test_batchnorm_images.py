"""Batch-norm statistics of image models: recomputed for the final weights, stored beside the running
averages, shaped as a training step shapes its batch, and picked by every consumer."""

import json

import pytest
import torch
from torch import nn

from ali_bench.batchnorm import batchnorm_layers
from ali_bench.checkpoint import CheckpointError
from ali_bench.config import load_config
from ali_bench.data.images import load_split
from ali_bench.images import train as image_train
from ali_bench.seeding import generator_for

from conftest import run_cli

TINY = {"epochs": 1, "width": 0.125, "lr": 0.0003}
BN = {"batches": 3, "batch_size": 200}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch of tiny digits ALI, with the statistics recomputed from 3 batches of 200."""
    tmp = tmp_path_factory.mktemp("bn")
    cfg = load_config({"device": "cpu", "images": {"digits": TINY}, "batchnorm": BN})
    train = load_split("digits", "train", "unused")
    payload = image_train.train_images(
        "digits",
        cfg.images,
        train,
        tmp / "m.pt",
        tmp / "l.csv",
        tmp / "c.pt",
        torch.device("cpu"),
        "cpu",
        progress=False,
        bn=cfg.batchnorm,
    )
    return tmp, cfg, train, payload


def test_models_file_keeps_running_averages_and_recomputed_statistics(trained):
    tmp, _, _, payload = trained
    state, recomputed = payload["state"], payload["bn_recomputed"]
    buffers = {key for key in state if key.endswith(("running_mean", "running_var"))}
    assert buffers and set(recomputed) == buffers  # every BN layer of encoder, decoder and D(x)
    assert all(not torch.equal(state[key], recomputed[key]) for key in buffers)
    assert payload["config"]["batchnorm"] == BN
    _, running = image_train.load_model(tmp / "m.pt", statistics="running")
    _, fresh = image_train.load_model(tmp / "m.pt", statistics="recomputed")
    for key, value in running.state_dict().items():
        assert torch.equal(value, state[key]), key
        assert torch.equal(fresh.state_dict()[key], recomputed.get(key, state[key])), key


def _first_bn_input(stack: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    for module in stack:
        if isinstance(module, nn.BatchNorm2d):
            return x
        x = x if isinstance(module, nn.Dropout) else module(x)  # dropout is off in the recomputation
    raise AssertionError("no BN layer")


def test_recomputed_statistics_are_those_of_training_shaped_batches(trained):
    """Rebuild the recomputation's batches from its seeded stream: the encoder's first BN averages the
    statistics of the training images alone, D(x)'s first BN those of real and generated images
    together (D sees both halves of a training step as one batch)."""
    tmp, cfg, train, payload = trained
    _, model = image_train.load_model(tmp / "m.pt", statistics="running")
    enc_means, dx_means, dx_vars = [], [], []
    with torch.no_grad():
        for k in range(BN["batches"]):
            generator = generator_for(cfg.images.seed, image_train.BN_STATISTICS, k)
            rows = torch.randperm(len(train), generator=generator)[: BN["batch_size"]]
            x = train.images[rows].float() / 255
            z = torch.randn(len(x), model.arch.latent_dim, 1, 1, generator=generator)
            enc_means.append(_first_bn_input(model.encoder, x).mean((0, 2, 3)))
            both = _first_bn_input(model.dx, torch.cat([x, _decode_with_batch_statistics(model, z)]))
            dx_means.append(both.mean((0, 2, 3)))
            dx_vars.append(both.var((0, 2, 3)))
    recomputed = payload["bn_recomputed"]
    enc_bn = next(name for name in batchnorm_layers(model) if name.startswith("encoder."))
    dx_bn = next(name for name in batchnorm_layers(model) if name.startswith("dx."))
    torch.testing.assert_close(
        recomputed[f"{enc_bn}.running_mean"], torch.stack(enc_means).mean(0), rtol=1e-3, atol=1e-5
    )
    torch.testing.assert_close(recomputed[f"{dx_bn}.running_mean"], torch.stack(dx_means).mean(0), rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(recomputed[f"{dx_bn}.running_var"], torch.stack(dx_vars).mean(0), rtol=1e-3, atol=1e-7)


def _decode_with_batch_statistics(model, z):
    """G_x(z) as the recomputation computes it: the decoder's BN layers normalise with the batch's own statistics."""
    for module in model.decoder:
        if isinstance(module, nn.BatchNorm2d):
            z = nn.functional.batch_norm(z, None, None, module.weight, module.bias, training=True, eps=module.eps)
        else:
            z = module(z)
    return z


def test_recomputation_leaves_the_trained_model_untouched():
    cfg = load_config({"device": "cpu", "images": {"digits": TINY}, "batchnorm": BN})
    train = load_split("digits", "train", "unused")
    model = image_train.build_model("digits", cfg.images, train, torch.device("cpu"))
    before = {key: value.clone() for key, value in model.state_dict().items()}
    recomputed = image_train.recomputed_statistics(model, train.images, None, cfg.batchnorm, 0, channels_last=False)
    assert model.training and all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    assert any(not torch.equal(before[key], value) for key, value in recomputed.items())


def test_a_models_file_without_recomputed_statistics_is_one_line(trained, tmp_path):
    tmp, _, _, payload = trained
    old = {key: value for key, value in payload.items() if key != "bn_recomputed"}
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="batchnorm.statistics: running"):
        image_train.load_model(tmp_path / "old.pt", statistics="recomputed")
    image_train.load_model(tmp_path / "old.pt", statistics="running")  # still usable as trained
    result = run_cli(
        "features",
        "--config-json",
        json.dumps({"device": "cpu"}),
        "--dataset",
        "digits",
        "--split",
        "valid",
        "--feature-set",
        "released-code",
        "--models",
        str(tmp_path / "old.pt"),
        "--out",
        str(tmp_path / "f.npy"),
        "--out-labels",
        str(tmp_path / "fl.npy"),
        check=False,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1 and "old.pt" in result.stderr


def test_consumers_follow_the_configured_statistics(trained, tmp_path):
    """Features (SVM) and the figure metrics use ``batchnorm.statistics``: the two choices give different numbers."""
    import numpy as np

    tmp, _, _, _ = trained
    features = {}
    for statistics in ("running", "recomputed"):
        config = json.dumps(
            {"device": "cpu", "images": {"digits": TINY}, "batchnorm": {**BN, "statistics": statistics}}
        )
        out = tmp_path / statistics
        run_cli(
            "features",
            "--config-json",
            config,
            "--dataset",
            "digits",
            "--split",
            "valid",
            "--feature-set",
            "released-code",
            "--models",
            str(tmp / "m.pt"),
            "--out",
            str(out) + ".npy",
            "--out-labels",
            str(out) + "_labels.npy",
        )
        features[statistics] = np.load(str(out) + ".npy")
        run_cli(
            "image-figures",
            "--config-json",
            config,
            "--models",
            str(tmp / "m.pt"),
            "--out-samples",
            str(out) + "_s.png",
            "--out-reconstructions",
            str(out) + "_r.png",
            "--out-interpolations",
            str(out) + "_i.png",
            "--out-metrics",
            str(out) + "_metrics.json",
        )
        assert json.loads((tmp_path / f"{statistics}_metrics.json").read_text())["batchnorm_statistics"] == statistics
    assert not np.allclose(features["running"], features["recomputed"])


def test_conditional_model_stores_recomputed_statistics(tmp_path):
    config = json.dumps({"device": "cpu", "conditional": {"digits": TINY}, "batchnorm": BN})
    run_cli(
        "image-train",
        "--config-json",
        config,
        "--dataset",
        "digits",
        "--conditional",
        "--no-progress",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
    )
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    buffers = {key for key in payload["state"] if key.endswith(("running_mean", "running_var"))}
    assert buffers and set(payload["bn_recomputed"]) == buffers
    assert any(key.startswith("dx.") for key in buffers)
    run_cli(
        "conditional-figure",
        "--config-json",
        config,
        "--models",
        str(tmp_path / "m.pt"),
        "--out",
        str(tmp_path / "c.png"),
    )
