"""The toy inference comparison: its objectives, the run selection, the metrics, the figure layout."""

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from ali_bench.nets.toy import ToyGAN
from ali_bench.objectives import gaussian_kl_to_standard_normal, inverse_mapping_loss, vae_negative_elbo
from ali_bench.toy_inference.evaluate import ks_to_standard_normal, mmd_rbf
from ali_bench.toy_inference.figures import INFERENCE_ROWS, build_toy_inference
from ali_bench.toy_inference.methods import METHOD_TITLES, METHODS, build_method, make_trainer
from ali_bench.toy_inference.select import select_best


def test_vae_negative_elbo_matches_torch_distributions():
    torch.manual_seed(0)
    x, x_rec = torch.randn(6, 2), torch.randn(6, 2)
    mu, log_sigma = torch.randn(6, 2), torch.randn(6, 2) * 0.3
    std = 0.05
    log_lik = torch.distributions.Normal(x_rec, std).log_prob(x).sum(-1)
    kl = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, log_sigma.exp()), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    expected = (-log_lik + kl).mean()
    assert vae_negative_elbo(x, x_rec, mu, log_sigma, std).item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(gaussian_kl_to_standard_normal(mu, log_sigma), kl)


def test_inverse_mapping_loss_hand_checked():
    z = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    z_hat = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    assert inverse_mapping_loss(z, z_hat).item() == pytest.approx((4.0 + 25.0) / 2)


def _fixed_generator(tiny_config):
    torch.manual_seed(3)
    gan = ToyGAN(tiny_config.toy.network).eval()
    return gan.decoder.state_dict()


def _train(method, tiny_config, steps, data=None):
    toy, settings = tiny_config.toy, replace(tiny_config.toy_inference, lr=1e-3)
    model = build_method(method, toy, settings, _fixed_generator(tiny_config)).train()
    trainer = make_trainer(method, model, settings, settings.vae_decoder_std)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        z, eps = torch.randn(64, 2, generator=generator), torch.randn(64, 2, generator=generator)
        x = data[torch.randint(0, len(data), (64,), generator=generator)] if data is not None else z
        losses.append(trainer.step(x, z, eps)["loss"].item())
    return model, losses


def test_inverse_mapping_loss_falls_on_a_fixed_generator(tiny_config):
    model, losses = _train("inverse", tiny_config, 300)
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])
    frozen = _fixed_generator(tiny_config)
    for key, value in model.decoder.state_dict().items():
        assert torch.equal(value, frozen[key]), f"the generator moved: {key}"


def test_vae_elbo_improves(tiny_config):
    from ali_bench.data.mixture import train_and_test

    _, (x, _), _ = train_and_test(tiny_config.toy.mixture)
    _, losses = _train("vae", tiny_config, 300, torch.from_numpy(x))
    assert np.mean(losses[-20:]) < 0.7 * np.mean(losses[:20])


def test_posthoc_moves_encoder_and_discriminator_but_not_the_decoder(tiny_config):
    from ali_bench.data.mixture import train_and_test

    _, (x, _), _ = train_and_test(tiny_config.toy.mixture)
    before = build_method(
        "posthoc", tiny_config.toy, tiny_config.toy_inference, _fixed_generator(tiny_config)
    ).state_dict()
    model, _ = _train("posthoc", tiny_config, 5, torch.from_numpy(x))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert not torch.equal(before["encoder.0.weight"], after["encoder.0.weight"])
    assert not torch.equal(before["discriminator.0.weight"], after["discriminator.0.weight"])


def test_select_best_breaks_ties_by_quality_then_seed():
    coverage = pd.DataFrame(
        {
            "model": ["ali"] * 3 + ["gan"] * 3,
            "hyperparameter_set": ["random"] * 6,
            "seed": [0, 1, 2, 0, 1, 2],
            "modes": [20, 24, 24, 5, 5, 5],
            "high_quality_share": [0.9, 0.5, 0.7, 0.3, 0.3, 0.1],
        }
    )
    chosen = select_best(coverage, "random")
    assert chosen["ali"]["run"] == "ali-random-seed2"  # 24 modes twice: better quality wins
    assert chosen["gan"]["run"] == "gan-random-seed0"  # full tie: smaller seed wins
    with pytest.raises(ValueError, match="released"):
        select_best(coverage, "released")


def test_mmd_and_ks_separate_matching_from_shifted_samples():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((500, 2)), rng.standard_normal((500, 2))
    assert abs(mmd_rbf(a, b, 1.0)) < 0.01
    assert mmd_rbf(a + 2.0, b, 1.0) > 0.3
    assert ks_to_standard_normal(a) < 0.08 and ks_to_standard_normal(a + 1.0) > 0.3
    # one point against one point at distance d: 0 + 0 - 2 exp(-d²/2) needs n>1; two vs two by hand
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]])
    expected = math.exp(-0.5) + math.exp(-0.5) - 2 * (1 + 1 + 2 * math.exp(-0.5)) / 4
    assert mmd_rbf(x, y, 1.0) == pytest.approx(expected)


def test_figure_is_five_rows_by_four_columns_in_the_papers_order():
    rng = np.random.default_rng(0)
    arrays = {"x": rng.normal(size=(50, 2)), "components": rng.integers(0, 25, 50), "z_prior": rng.normal(size=(60, 2))}
    for method in METHODS:
        arrays.update(
            {
                f"{method}/z_hat": rng.normal(size=(50, 2)),
                f"{method}/x_rec": rng.normal(size=(50, 2)),
                f"{method}/x_gen": rng.normal(size=(60, 2)),
            }
        )
    fig = build_toy_inference(arrays, list(METHODS), METHOD_TITLES)
    axes = np.array(fig.axes).reshape(5, 4)
    assert [ax.get_title() for ax in axes[0]] == [
        "(a) ALI",
        "(b) GAN + learned inverse mapping",
        "(c) GAN + post-hoc learned inference",
        "(d) VAE",
    ]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == list(INFERENCE_ROWS)
    assert axes[0, 0].get_xlim() == (-6.0, 6.0) and axes[1, 0].get_xlim() == (-4.0, 4.0)
    assert axes[3, 2].get_ylim() == (-4.0, 4.0) and axes[4, 3].get_ylim() == (-6.0, 6.0)


def test_trained_methods_store_recomputed_statistics_and_the_frozen_decoder_carries_the_chosen_ones(
    tmp_path, tiny_config
):
    """The inverse encoder's statistics are recomputed at the end of its training; the selected GAN's
    frozen decoder is loaded, trained against and evaluated with the statistics the config names."""
    from ali_bench.toy.train import train_toy
    from ali_bench.toy_inference.train import load_method, load_run, train_method

    toy, settings, bn = tiny_config.toy, replace(tiny_config.toy_inference, epochs=1), tiny_config.batchnorm
    train_toy(
        toy,
        "random",
        tmp_path / "m.pt",
        tmp_path / "log.csv",
        tmp_path / "ck.pt",
        torch.device("cpu"),
        "cpu",
        bn,
        progress=False,
    )
    selection = {"gan": {"run": "gan-random-seed0"}}
    for statistics in ("recomputed", "running"):
        chosen = replace(bn, statistics=statistics)
        payload = train_method(
            "inverse",
            toy,
            settings,
            selection,
            tmp_path / "m.pt",
            tmp_path / f"{statistics}.pt",
            tmp_path / f"{statistics}.csv",
            tmp_path / "ick.pt",
            torch.device("cpu"),
            "cpu",
            chosen,
            progress=False,
        )
        _, gan = load_run(tmp_path / "m.pt", "gan-random-seed0", toy, chosen)
        key = "decoder.1.running_mean"
        assert torch.equal(payload["state"][key], gan.state_dict()[key])  # trained against the chosen statistics
        assert torch.equal(payload["bn_recomputed"][key], gan.state_dict()[key])  # and never recomputed
        assert not torch.allclose(
            payload["bn_recomputed"]["encoder.1.running_mean"], payload["state"]["encoder.1.running_mean"]
        )
        for which, source in (("running", "state"), ("recomputed", "bn_recomputed")):
            _, model = load_method(tmp_path / f"{statistics}.pt", toy, settings, gan.decoder.state_dict(), which)
            assert torch.equal(model.state_dict()["encoder.1.running_var"], payload[source]["encoder.1.running_var"])
    decoders = {
        statistics: load_run(tmp_path / "m.pt", "gan-random-seed0", toy, replace(bn, statistics=statistics))[
            1
        ].state_dict()[key]
        for statistics in ("running", "recomputed")
    }
    assert not torch.allclose(decoders["running"], decoders["recomputed"])  # the choice is a real one


def test_a_selection_naming_a_run_the_models_file_lacks_is_one_line(tmp_path, tiny_config):
    """A selection.json left from another training (another seeds list) was a ValueError traceback."""
    from ali_bench.checkpoint import CheckpointError
    from ali_bench.toy.train import train_toy
    from ali_bench.toy_inference.train import load_run

    toy, bn = tiny_config.toy, tiny_config.batchnorm
    train_toy(
        toy,
        "random",
        tmp_path / "m.pt",
        tmp_path / "l.csv",
        tmp_path / "c.pt",
        torch.device("cpu"),
        "cpu",
        bn,
        progress=False,
    )
    for missing in ("gan-random-seed99", "wgan-random-seed0"):
        with pytest.raises(CheckpointError, match=rf"holds no run '{missing}' \(it holds ali-random-seed0") as caught:
            load_run(tmp_path / "m.pt", missing, toy, bn)
        assert str(caught.value).endswith("(snakemake <your targets> --forcerun toy_select)")  # not a fixed path
