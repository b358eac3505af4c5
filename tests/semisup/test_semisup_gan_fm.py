"""GAN with feature matching, the gan-fm model (ali_bench/semisup/feature_matching.py): improved-GAN's
nets, loss and step, transcribed from openai/improved-gan (docs/paper-vs-code.md §6)."""

import json

import pandas as pd
import pytest
import torch

from ali_bench.data.images import ImageSplit
from ali_bench.nets import improved_gan, improved_gan_mlp
from ali_bench.nets.weight_norm import WeightNormConv2d, WeightNormConvTranspose2d, WeightNormLinear
from ali_bench.semisup import (
    feature_matching as fm,
)
from ali_bench.semisup import (
    settings as semisup_settings,
)
from ali_bench.semisup import (
    table as semisup_table,
)
from ali_bench.semisup import (
    train as semisup_train,
)


def _settings(**changes):
    base = semisup_settings.SemisupSettings(
        "digits", 10, 0, 1, 4, 1e-3, 0.5, 0.0, 0.9, 0.125, "code", "gan-fm", gan_fm_nets="improved-gan-conv"
    )
    return semisup_settings.SemisupSettings(**{**base.__dict__, **changes})


def _split(n=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return ImageSplit(
        torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator), torch.arange(n) % 10
    )


def test_feature_matching_loss_is_the_l1_mean_of_the_difference_of_feature_means():
    real = torch.tensor([[1.0, 2.0, 0.0], [3.0, -2.0, 4.0]])  # means 2, 0, 2
    generated = torch.tensor([[0.0, 1.0, 1.0], [0.0, 1.0, 5.0]])  # means 0, 1, 3
    assert fm.feature_matching_loss(real, generated).item() == pytest.approx((2 + 1 + 1) / 3)
    # the MNIST script squares the difference instead (its loss_gen = mean(square(mom_gen - mom_real)))
    assert fm.feature_matching_loss(real, generated, squared=True).item() == pytest.approx((4 + 1 + 1) / 3)


def test_shift_only_batch_norm_uses_the_batch_statistics_and_has_no_scale():
    bn = improved_gan.ShiftOnlyBatchNorm(4)
    assert [name for name, _ in bn.named_parameters()] == ["bias"] and not list(bn.buffers())
    x = torch.randn(64, 4, 3, 3) * 5 + 2
    out = bn(x)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pow(2).mean(dim=(0, 2, 3)), torch.ones(4), atol=1e-4, rtol=0)
    bn.eval()  # improved-GAN never runs G deterministically: eval mode changes nothing
    torch.testing.assert_close(bn(x), out)


def test_weightnorm_transposed_conv_doubles_the_size_normalises_per_output_channel_and_inits_from_the_batch():
    layer = WeightNormConvTranspose2d(6, 3, init_scale=0.1)
    w = layer.weight()
    torch.testing.assert_close(w.pow(2).sum(dim=(0, 2, 3)), torch.ones(3), atol=1e-5, rtol=0)
    x = torch.randn(50, 6, 16, 16)
    layer.initialise = True
    out = layer(x)
    layer.initialise = False
    assert out.shape == (50, 3, 32, 32)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pow(2).mean(dim=(0, 2, 3)).sqrt(), torch.full((3,), 0.1), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("dataset", "first", "second"), [("svhn", 64, 128), ("digits", 64, 128), ("cifar10", 96, 192)])
def test_improved_gans_discriminator_has_its_layers_and_features_per_dataset(dataset, first, second):
    d = improved_gan.improved_gan_discriminator(dataset, 1.0, 10)
    convs = [m for m in d.trunk if isinstance(m, WeightNormConv2d)]
    assert [c.direction.shape[0] for c in convs] == [first] * 3 + [second] * 6
    assert [c.stride for c in convs] == [(1, 1), (1, 1), (2, 2), (1, 1), (1, 1), (2, 2), (1, 1), (1, 1), (1, 1)]
    assert [m.p for m in d.trunk if isinstance(m, torch.nn.Dropout)] == [0.2, 0.5, 0.5]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    # only the output layer trains its scale (improved-GAN's train_g)
    assert not any(isinstance(c.scale, torch.nn.Parameter) for c in convs) and isinstance(
        d.head.conv.scale, torch.nn.Parameter
    )
    logits, features = d.eval()(torch.rand(3, 3, 32, 32))
    assert logits.shape == (3, 10) and features.shape == (3, second)


def test_improved_gans_generator_maps_uniform_noise_to_images_in_minus_one_one():
    g = improved_gan.ImprovedGanGenerator(0.25)
    u = g.noise(7, torch.device("cpu"))
    assert u.shape == (7, improved_gan.NOISE_DIM) and 0 <= u.min() and u.max() <= 1
    x = g(u)
    assert x.shape == (7, 3, 32, 32) and -1 <= x.min() and x.max() <= 1


@pytest.mark.parametrize("nets", improved_gan.GAN_FM_NETS)
def test_one_step_moves_d_in_its_update_and_g_in_its_own_and_feature_matching_reaches_g(nets):
    train = _split()
    model = fm.build_gan_fm(_settings(gan_fm_nets=nets), 10, train.images[:10], train.images)
    adam = torch.optim.Adam
    opt_d, opt_g = adam(model.discriminator_parameters(), lr=1e-3), adam(model.generator_parameters(), lr=1e-3)
    d_before = [p.clone() for p in model.discriminator_parameters()]
    g_before = [p.clone() for p in model.generator_parameters()]
    monitors = fm.gan_fm_step(
        model, opt_d, opt_g, train.images[:4], train.labels[:4], train.images[4:8], train.images[8:12]
    )
    assert monitors.shape == (5,) and torch.isfinite(monitors).all() and monitors[3] > 0  # loss_g: the FM loss
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator_parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator_parameters(), strict=True))
    # G's gradient is the feature-matching loss's; D's update took no gradient from it
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator_parameters() if p.requires_grad)


def test_build_rejects_an_unknown_choice_of_nets_naming_the_key():
    with pytest.raises(ValueError, match=r"semisup\.digits\.gan_fm_nets"):
        fm.build_gan_fm(_settings(gan_fm_nets="dcgan"), 10, _split().images[:10], _split().images)


def test_a_gan_fm_run_is_reproducible_resumes_bit_for_bit_and_records_its_errors(tmp_path):
    train, test = _split(40, 0), _split(20, 1)

    def run(name, epochs, checkpoint=None):
        out = tmp_path / name
        out.mkdir(exist_ok=True)
        return semisup_train.train_semisup(
            _settings(epochs=epochs),
            train,
            train,
            test,
            out / "r.json",
            out / "l.csv",
            checkpoint or out / "c.pt",
            torch.device("cpu"),
            progress=False,
        )

    once, again = run("a", 2), run("b", 2)
    assert once["evaluations"] == again["evaluations"] and once["model"] == "gan-fm"
    shared = tmp_path / "resumed.pt"
    run("c", 1, shared)
    resumed = run("d", 2, shared)  # continues the 1-epoch checkpoint (no decay: the same schedule)
    assert resumed["evaluations"] == once["evaluations"]
    errors = once["evaluations"]["averaged"]
    assert errors["recomputed"] == errors["running"] and set(errors["recomputed"]) == {
        "test_error_sampled",
        "train_error",
    }
    assert json.loads((tmp_path / "a" / "r.json").read_text())["gan_fm_nets"] == "improved-gan-conv"


def _result(model, seed, error, **extra):
    errors = {"test_error_sampled": error, "train_error": 0.0, **extra}
    evaluation = {"recomputed": errors, "running": errors}
    return {
        "dataset": "svhn",
        "n_labels": 1000,
        "seed": seed,
        "model": model,
        "epochs": 2,
        "steps_per_epoch": 3,
        "d_batchnorm": "joint",
        "wall_time_s": 1.0,
        "evaluations": {"averaged": evaluation, "live": evaluation},
    }


def test_the_table_gives_gan_fm_its_own_row_with_the_papers_gan_fm_number_beside_and_no_latent_columns():
    latent = {"test_error_posterior_mean": 0.1, "test_error_prior": 0.1}
    results = [
        _result("ali", 0, 0.1, **latent),
        _result("ali", 1, 0.12, **latent),
        _result("gan-fm", 0, 0.2),
        _result("gan-fm", 1, 0.3),
    ]
    table = semisup_table.semisup_table(results, "recomputed").set_index("model")
    row = table.loc["gan-fm"]
    assert row["test_error_mean_pct"] == pytest.approx(25.0) and row["seeds"] == 2
    assert row["paper_gan_fm_error_pct"] == 8.11 and row["paper_gan_fm_pm_pct"] == 1.3
    assert pd.isna(row["test_error_posterior_mean_mean_pct"]) and pd.isna(row["test_error_prior_z_mean_pct"])
    assert row["d_batchnorm"] == "weightnorm"  # GAN-FM's D has no batch norm, whatever d_batchnorm says
    assert table.loc["ali", "test_error_posterior_mean_mean_pct"] == pytest.approx(10.0)


def test_the_cost_model_prices_a_gan_fm_run_from_its_counted_step():
    from ali_bench import cost
    from ali_bench.config import load_config

    images = load_config({}).images
    small = cost.gan_fm_training_cost("digits", images, 1000, epochs=2, batch=100, width=0.25)
    paper = cost.gan_fm_training_cost("cifar10", images, 50_000, epochs=1200, batch=100, width=1.0)
    assert small.steps == 20 and paper.steps == 600_000
    assert 0 < small.flops_per_image < paper.flops_per_image and small.parameters < paper.parameters
    ali_nets = cost.gan_fm_training_cost("digits", images, 1000, epochs=2, batch=100, width=0.25, nets="ali")
    assert ali_nets.flops_per_image != small.flops_per_image


def test_feature_matching_uses_the_layer_before_the_logits_as_the_scripts_do():
    """improved-GAN matches ``disc_layers[-2]``: the global mean pool after the last NIN layer, the
    input of the dense layer to the logits (dropout on, as in training)."""
    torch.manual_seed(0)
    d = improved_gan.improved_gan_discriminator("svhn", 0.25, 10).eval()
    x = torch.rand(5, 3, 32, 32) * 2 - 1
    pooled = d.trunk[:-1](x).mean(dim=(2, 3))  # the last NIN layer's output, averaged over positions
    logits, features = d(x)
    assert isinstance(d.trunk[-1], torch.nn.AdaptiveAvgPool2d)
    torch.testing.assert_close(d.features(x), pooled)
    torch.testing.assert_close(features, pooled)
    torch.testing.assert_close(logits, d.head.conv(pooled[:, :, None, None]).flatten(1))


# ---------------------------------------------------------------- improved-GAN's MNIST MLP (improved-gan-mlp)


def test_weightnorm_dense_layer_normalises_per_output_unit_and_inits_to_unit_pre_activations():
    layer = WeightNormLinear(12, 5, train_scale=False)
    torch.testing.assert_close(layer.weight().pow(2).sum(dim=1), torch.ones(5), atol=1e-5, rtol=0)
    assert not isinstance(layer.scale, torch.nn.Parameter)  # nn.DenseLayer's train_scale=False: g is not trained
    x = torch.randn(200, 12) * 3 + 1
    layer.initialise = True
    out = layer(x)
    layer.initialise = False
    torch.testing.assert_close(out.mean(dim=0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pow(2).mean(dim=0).sqrt(), torch.ones(5), atol=1e-4, rtol=0)
    torch.testing.assert_close(layer(x), out)  # the init is kept: the same batch maps to the same outputs


def test_the_mlp_discriminator_has_the_mnist_scripts_layers_noise_and_feature_layer():
    torch.manual_seed(0)
    d = improved_gan_mlp.mlp_discriminator((3, 32, 32), 1.0, 10)
    dense = [m for m in d.modules() if isinstance(m, WeightNormLinear)]
    assert [m.direction.shape for m in dense] == [
        (1000, 3 * 32 * 32),
        (500, 1000),
        (250, 500),
        (250, 250),
        (250, 250),
        (10, 250),
    ]
    noise = [m.sigma for m in d.modules() if isinstance(m, improved_gan_mlp.GaussianNoise)]
    assert noise == [0.3, 0.5, 0.5, 0.5, 0.5, 0.5]  # input, between the dense layers, and before the logits
    assert [isinstance(m.scale, torch.nn.Parameter) for m in dense] == [False] * 5 + [True]
    # G matches layers[-3]: the last 250-unit layer's ReLU output, before the noise and the logits
    assert isinstance(d.trunk[-1], torch.nn.ReLU) and isinstance(d.head[0], improved_gan_mlp.GaussianNoise)
    x = torch.rand(6, 3, 32, 32)
    d.eval()
    logits, features = d(x)
    assert features.shape == (6, 250) and logits.shape == (6, 10)
    torch.testing.assert_close(logits, d.head[1](features))
    torch.testing.assert_close(d(x)[0], logits)  # the noise is off at test
    d.train()
    assert not torch.equal(d(x)[1], features)  # and on in training


def test_the_mlp_generator_maps_uniform_noise_to_images_in_zero_one_with_a_unit_norm_output_layer():
    torch.manual_seed(0)
    g = improved_gan_mlp.MlpGenerator((3, 32, 32), 1.0)
    assert [m.out_features for m in g.hidden if isinstance(m, torch.nn.Linear)] == [500, 500]
    assert not any(m.bias is not None for m in g.hidden if isinstance(m, torch.nn.Linear))  # batch norm shifts
    x = g(g.noise(9, torch.device("cpu")))
    assert x.shape == (9, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert isinstance(g.out_scale, torch.nn.Parameter) and torch.equal(g.out_scale, torch.ones(3 * 32 * 32))


def test_the_mlp_is_chosen_by_its_name_takes_unsigned_inputs_and_matches_squared_features():
    model = fm.build_gan_fm(_settings(gan_fm_nets="improved-gan-mlp"), 10, _split().images[:10], _split().images)
    assert isinstance(model.generator, improved_gan_mlp.MlpGenerator) and model.squared_matching
    assert not model.signed_inputs and model.inputs(torch.full((1, 3, 32, 32), 255, dtype=torch.uint8)).max() == 1
    conv = fm.build_gan_fm(_settings(), 10, _split().images[:10], _split().images)
    assert not conv.squared_matching and conv.signed_inputs


def test_the_cost_model_prices_the_mlp_below_the_convolutional_nets_on_digits():
    from ali_bench import cost
    from ali_bench.config import load_config

    images = load_config({}).images
    shape = dict(epochs=2, batch=100, width=0.25)
    mlp = cost.gan_fm_training_cost("digits", images, 1000, nets="improved-gan-mlp", **shape)
    conv = cost.gan_fm_training_cost("digits", images, 1000, nets="improved-gan-conv", **shape)
    assert 0 < mlp.flops_per_image < conv.flops_per_image / 10
