"""K+1-class semi-supervised ALI: losses against direct formulas, the label sampler, the schedule, one step."""

import math

import numpy as np
import pytest
import torch

from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.nets.weight_norm import WeightNormConv2d
from ali_bench.semisup import (
    average as semisup_average,
)
from ali_bench.semisup import (
    curve as semisup_curve,
)
from ali_bench.semisup import (
    evaluate as semisup_evaluate,
)
from ali_bench.semisup import (
    model as semisup_model,
)
from ali_bench.semisup import (
    settings as semisup_settings,
)
from ali_bench.semisup import (
    train as semisup_train,
)

LOGITS = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 1.0, 4.0]])


def _sum_exp(row):
    return sum(math.exp(v) for v in row)


def test_labelled_loss_is_cross_entropy_over_the_k_real_classes():
    labels = torch.tensor([0, 2, 1])
    expected = np.mean(
        [-row[y] + math.log(_sum_exp(row)) for row, y in zip(LOGITS.tolist(), labels.tolist(), strict=True)]
    )
    assert semisup_model.labelled_loss(LOGITS, labels).item() == pytest.approx(expected, rel=1e-6)


def test_unlabelled_loss_matches_improved_gans_formula():
    gen = torch.tensor([[-1.0, -2.0, 0.0], [3.0, 0.0, -1.0]])
    z_unl = [math.log(_sum_exp(r)) for r in LOGITS.tolist()]
    z_gen = [math.log(_sum_exp(r)) for r in gen.tolist()]
    softplus = lambda v: math.log1p(math.exp(v))
    expected = (
        -0.5 * np.mean(z_unl)
        + 0.5 * np.mean([softplus(v) for v in z_unl])
        + 0.5 * np.mean([softplus(v) for v in z_gen])
    )
    assert semisup_model.unlabelled_loss(LOGITS, gen).item() == pytest.approx(expected, rel=1e-6)
    # the same thing, read as "real with probability Z/(1+Z)": -1/2 log D(unl) - 1/2 log(1 - D(gen))
    d_unl = [_sum_exp(r) / (1 + _sum_exp(r)) for r in LOGITS.tolist()]
    d_gen = [_sum_exp(r) / (1 + _sum_exp(r)) for r in gen.tolist()]
    assert expected == pytest.approx(
        -0.5 * np.mean(np.log(d_unl)) - 0.5 * np.mean(np.log(1 - np.array(d_gen))), rel=1e-9
    )


def test_encoder_decoder_loss_is_alis_swapped_label_loss_with_d_equal_z_over_one_plus_z():
    gen = torch.tensor([[-1.0, -2.0, 0.0], [3.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    d_unl = np.array([_sum_exp(r) / (1 + _sum_exp(r)) for r in LOGITS.tolist()])
    d_gen = np.array([_sum_exp(r) / (1 + _sum_exp(r)) for r in gen.tolist()])
    expected = np.mean(-np.log(1 - d_unl) - np.log(d_gen))
    assert semisup_model.encoder_decoder_loss(LOGITS, gen).item() == pytest.approx(expected, rel=1e-6)


def test_balanced_labels_are_per_class_seeded_and_differ_between_seeds():
    labels = np.random.default_rng(0).integers(0, 10, 5000)
    chosen = semisup_settings.balanced_labels(labels, 100, seed=3)
    assert len(chosen) == 1000 and np.bincount(labels[chosen], minlength=10).tolist() == [100] * 10
    np.testing.assert_array_equal(chosen, semisup_settings.balanced_labels(labels, 100, seed=3))
    assert len(set(chosen) & set(semisup_settings.balanced_labels(labels, 100, seed=4))) < 500
    with pytest.raises(ValueError, match="fewer than"):
        semisup_settings.balanced_labels(labels, 2000, seed=0)


def test_lr_schedule_is_flat_then_linear_to_zero_over_the_last_third():
    epochs = 1200
    for epoch in (0, 400, 799, 800, 1000, 1199):
        assert semisup_train.lr_factor(epoch, epochs, 1 / 3) == pytest.approx(min(3 - 3 * epoch / epochs, 1.0))
    assert semisup_train.lr_factor(10, 20, 0.0) == 1.0


def _model():
    torch.manual_seed(0)
    return ImageALI(image_architecture("svhn", width=0.125), n_classes=10).train()


def test_k_logit_head_and_one_step_moves_what_it_should():
    model = _model()
    assert model.discriminate(torch.rand(4, 3, 32, 32), torch.randn(4, 256, 1, 1)).shape == (4, 10)
    opt = lambda params: torch.optim.Adam(params, lr=1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_lab, y_lab = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8), torch.arange(6) % 10
    x_unl = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    monitors = semisup_model.semisup_step(
        model, opt(model.discriminator_parameters()), opt(model.generator_parameters()), x_lab, y_lab, x_unl
    )
    assert monitors.shape == (len(semisup_model.MONITORS),) and torch.isfinite(monitors).all()
    after = model.state_dict()
    for prefix in ("encoder.0.", "decoder.0.", "dx.1.", "joint."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)), prefix


def test_supervised_only_baseline_leaves_encoder_and_decoder_alone():
    model = _model()
    opt = lambda params: torch.optim.Adam(params, lr=1e-3)
    before = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if k.startswith(("encoder.", "decoder.")) and "running" not in k and "num_batches" not in k
    }
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    monitors = semisup_model.semisup_step(
        model,
        opt(model.discriminator_parameters()),
        opt(model.generator_parameters()),
        x,
        torch.arange(6),
        x,
        supervised_only=True,
    )
    assert monitors[2].item() == 0.0 and monitors[3].item() == 0.0  # no unlabelled or generator term
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_discriminator_average_is_an_exponential_moving_average():
    model = _model()
    average = semisup_average.DiscriminatorAverage(model, decay=0.9)
    start = [p.detach().clone() for p in model.discriminator_parameters()]
    with torch.no_grad():
        for p in model.discriminator_parameters():
            p.add_(1.0)
    average.update(model)
    torch.testing.assert_close(average.shadow[0], start[0] + 0.1)
    averaged = average.averaged_model(model)
    torch.testing.assert_close(averaged.discriminator_parameters()[0], start[0] + 0.1)
    assert not averaged.training


# --------------------------------------------------------------------------------------------------
# the average's warm-up, D's batch-norm options, evaluation with recomputed statistics, the table


def test_average_decay_warms_up_with_the_step_count_and_caps_at_the_configured_decay():
    assert semisup_average.average_decay(0.9999, 0, warmup=True) == pytest.approx(0.1)
    assert semisup_average.average_decay(0.9999, 90, warmup=True) == pytest.approx(91 / 100)
    assert semisup_average.average_decay(0.9, 10**6, warmup=True) == 0.9
    assert semisup_average.average_decay(0.9999, 0, warmup=False) == 0.9999


def test_weight_on_first_half_flags_a_decay_the_run_cannot_move(caplog):
    # improved-GAN's 0.9999 over the digits config's 1,200 steps, without warm-up: 0.9999^600 of the average is the first half
    assert semisup_average.weight_on_first_half(0.9999, 1200, warmup=False) == pytest.approx(0.9999**600)
    with caplog.at_level("WARNING"):
        assert semisup_average.warn_if_average_cannot_move(0.9999, 1200, warmup=False)
    assert len(caplog.records) == 1 and "semisup.ema_decay 0.9999 cannot move within 1200 steps" in caplog.text
    caplog.clear()
    assert not semisup_average.warn_if_average_cannot_move(0.9999, 1200, warmup=True)  # the warm-up lets it move
    assert not semisup_average.warn_if_average_cannot_move(0.9999, 600_000, warmup=False)  # improved-GAN's own length
    assert not caplog.records


def test_discriminator_average_with_warm_up_follows_the_weights_early():
    model = _model()
    average = semisup_average.DiscriminatorAverage(model, decay=0.9999, warmup=True)
    start = [p.detach().clone() for p in model.discriminator_parameters()]
    with torch.no_grad():
        for p in model.discriminator_parameters():
            p.add_(1.0)
    average.update(model)  # decay 0.1 at the first update
    torch.testing.assert_close(average.shadow[0], start[0] + 0.9)
    assert average.updates == 1


def test_weightnorm_conv_is_g_times_unit_direction_and_its_init_normalises_the_batch():
    torch.manual_seed(0)
    layer = WeightNormConv2d(torch.nn.Conv2d(3, 5, 3, bias=False), init_scale=0.1, train_scale=True)
    norms = layer.weight().flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(5), atol=1e-4, rtol=0)
    x = torch.randn(64, 3, 8, 8) * 4 + 2
    layer.initialise = True
    out = layer(x)
    layer.initialise = False
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.pow(2).mean(dim=(0, 2, 3)).sqrt(), torch.full((5,), 0.1), atol=1e-5, rtol=0)
    torch.testing.assert_close(layer(x), out)  # the init is kept in g and b


def _settings(**changes):
    base = semisup_settings.SemisupSettings(
        "svhn", 10, 0, 1, 4, 1e-3, 0.5, 1 / 3, 0.9, 0.125, "code", "ali", bn_batches=2, bn_batch_size=8
    )
    return semisup_settings.SemisupSettings(**{**base.__dict__, **changes})


def _split(n=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    from ali_bench.data.images import ImageSplit

    return ImageSplit(
        torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=generator), torch.arange(n) % 10
    )


def test_weightnorm_option_removes_ds_batch_norm_and_keeps_the_k_logit_head():
    model = semisup_model.build(_settings(d_batchnorm="weightnorm"), 10, _split())
    d = torch.nn.ModuleList([model.dx, model.dz, model.joint])
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.encoder.modules())  # the encoder keeps its own
    layers = [m for m in d.modules() if isinstance(m, WeightNormConv2d)]
    assert len(layers) == 10 and [isinstance(m.scale, torch.nn.Parameter) for m in layers] == [False] * 9 + [True]
    assert model.discriminate(torch.rand(3, 3, 32, 32), torch.randn(3, 256, 1, 1)).shape == (3, 10)
    with pytest.raises(ValueError, match="semisup.d_batchnorm"):
        _settings(d_batchnorm="both")


@pytest.mark.parametrize("separate", [False, True])
def test_separate_passes_keep_each_groups_logits_to_itself(separate):
    model = _model()
    xs = [torch.rand(4, 3, 32, 32) for _ in range(3)]
    zs = [torch.randn(4, 256, 1, 1) for _ in range(3)]
    model.eval()  # dropout off; batch norm still in training mode below
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.train()
    first = semisup_model.discriminate_groups(model, xs, zs, separate)[0]
    xs[2] = xs[2] * 0.1  # change the generated group only
    again = semisup_model.discriminate_groups(model, xs, zs, separate)[0]
    assert torch.equal(first, again) == separate


def test_recomputed_statistics_go_to_a_copy_and_change_its_predictions_not_the_live_model():
    settings = _settings()
    train = _split()
    model = semisup_model.build(settings, 10, train)
    running = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    forward_for = lambda m: semisup_evaluate.training_shaped_forward(
        m, settings, train.images[:10], train.images, torch.device("cpu")
    )
    copied = semisup_evaluate.with_recomputed_statistics(model, forward_for, settings.bn_batches)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in running.items())
    assert any(not torch.equal(v, copied.state_dict()[k]) for k, v in running.items())
    assert not copied.training


def test_a_tiny_run_records_both_statistics_both_weights_every_latent_and_the_train_error(tmp_path):
    train, test = _split(40, 0), _split(20, 1)
    result = semisup_train.train_semisup(
        _settings(),
        train,
        train,
        test,
        tmp_path / "r.json",
        tmp_path / "l.csv",
        tmp_path / "c.pt",
        torch.device("cpu"),
        progress=False,
    )
    for weights in ("averaged", "live"):
        for statistics in ("recomputed", "running"):
            errors = result["evaluations"][weights][statistics]
            assert set(errors) == {"test_error_sampled", "test_error_posterior_mean", "test_error_prior", "train_error"}
            assert all(0 <= v <= 1 for v in errors.values())
    assert semisup_evaluate.headline(result, "running") is result["evaluations"]["averaged"]["running"]
    assert result["steps"] == 10 and (tmp_path / "c.pt").exists()  # the final checkpoint stays (resumable.py)
    again = semisup_train.train_semisup(
        _settings(),
        train,
        train,
        test,
        tmp_path / "r2.json",
        tmp_path / "l2.csv",
        tmp_path / "c2.pt",
        torch.device("cpu"),
        progress=False,
    )
    assert again["evaluations"] == result["evaluations"]  # same seed, same numbers on CPU


def test_segment_ends_split_an_epoch_evenly_and_end_at_its_last_step():
    assert semisup_curve.segment_ends(10, 0) == semisup_curve.segment_ends(10, 1) == {10}
    assert semisup_curve.segment_ends(10, 3) == {3, 7, 10}
    assert semisup_curve.segment_ends(2, 5) == {1, 2}  # more evaluations than steps: one per step


@pytest.mark.parametrize("model", ["ali", "gan-fm"])
def test_the_learning_curve_is_logged_without_changing_the_training(tmp_path, model):
    """Curve points are evaluated on copies with their own noise: a run with three per epoch ends
    with the weights and evaluations of a run with none, and its log has a row per point."""
    import csv

    train, test = _split(40, 0), _split(20, 1)
    nets = {"gan_fm_nets": "improved-gan-conv"} if model == "gan-fm" else {}

    def run(evals, name):
        settings = _settings(model=model, epochs=2, evals_per_epoch=evals, **nets)
        result = semisup_train.train_semisup(
            settings,
            train,
            train,
            test,
            tmp_path / f"{name}.json",
            tmp_path / f"{name}.csv",
            tmp_path / f"{name}.pt",
            torch.device("cpu"),
            progress=False,
        )
        with open(tmp_path / f"{name}.csv", newline="") as handle:
            return result, list(csv.DictReader(handle))

    plain, plain_log = run(0, "plain")
    curved, curve_log = run(3, "curved")
    assert curved["evaluations"] == plain["evaluations"]
    assert [row["step"] for row in plain_log] == ["10", "20"] and plain_log[0]["test_error"] == ""
    assert [int(row["step"]) for row in curve_log] == [3, 7, 10, 13, 17, 20]
    assert [int(row["epoch"]) for row in curve_log] == [1, 1, 1, 2, 2, 2]
    errors = [float(row[key]) for row in curve_log for key in semisup_curve.CURVE]
    assert all(0 <= e <= 1 for e in errors) and len(set(errors)) > 1
    if model == "gan-fm":  # D sees x alone: its last point is the final evaluation of the averaged weights
        assert float(curve_log[-1]["test_error"]) == curved["evaluations"]["averaged"]["running"]["test_error_sampled"]


def test_semisup_table_reports_the_configured_statistics_and_the_columns_beside():
    from ali_bench.semisup.table import semisup_table

    def run(seed, recomputed, running):
        errors = lambda e: {
            "test_error_sampled": e,
            "test_error_posterior_mean": e + 0.01,
            "test_error_prior": e + 0.02,
            "train_error": e / 2,
        }
        return {
            "dataset": "digits",
            "n_labels": 100,
            "model": "ali",
            "seed": seed,
            "epochs": 12,
            "steps": 144,
            "steps_per_epoch": 12,
            "d_batchnorm": "joint",
            "evaluations": {
                "averaged": {"recomputed": errors(recomputed), "running": errors(running)},
                "live": {"recomputed": errors(0.5), "running": errors(0.6)},
            },
        }

    results = [run(0, 0.10, 0.80), run(1, 0.20, 0.90)]
    table = semisup_table(results, "recomputed").iloc[0]
    assert table["test_error_mean_pct"] == pytest.approx(15.0) and table[
        "test_error_running_bn_mean_pct"
    ] == pytest.approx(85.0)
    assert table["train_error_mean_pct"] == pytest.approx(7.5) and table[
        "test_error_no_average_mean_pct"
    ] == pytest.approx(50.0)
    assert table["test_error_prior_z_mean_pct"] == pytest.approx(17.0) and table["steps"] == 144
    table = semisup_table(results, "running").iloc[0]
    assert table["test_error_mean_pct"] == pytest.approx(85.0) and table[
        "test_error_recomputed_bn_mean_pct"
    ] == pytest.approx(15.0)
    with pytest.raises(ValueError, match="statistics"):
        semisup_table(results, "fresh")


def _old_loop(model, steps, lrs, decay, warmup, batches):
    """The K+1 loop as it ran before its step became graphable: Python-float learning rates written
    into the param groups each epoch, ``semisup_step``, then the average updated with a Python-float
    rate (``average_decay``) and a Python count."""
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=lrs[0], betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=lrs[0], betas=(0.5, 0.999))
    shadow = [p.detach().clone() for p in model.discriminator_parameters()]
    monitors = []
    for t in range(steps):
        for opt in (opt_d, opt_g):
            for group in opt.param_groups:
                group["lr"] = lrs[t]
        monitors.append(semisup_model.semisup_step(model, opt_d, opt_g, *batches[t]))
        with torch.no_grad():
            rate = 1.0 - semisup_average.average_decay(decay, t, warmup)
            torch._foreach_lerp_(shadow, [p.detach() for p in model.discriminator_parameters()], rate)
    return monitors, shadow


def test_the_graphable_k_plus_1_step_is_the_old_loop_bit_for_bit_on_the_cpu():
    """issue 14 A.3: the step a CUDA graph replays (``semisup_train_step``: learning rate and the
    average's count as tensors updated in place) is what the CPU runs, and it gives exactly the
    losses, parameters and average of the loop before it (six steps, the learning rate changing
    half-way, the average's warm-up)."""
    from functools import partial

    from ali_bench.cuda_graphs import StepRunner

    steps, lrs = 6, [3e-4] * 3 + [1.7e-4] * 3
    generator = torch.Generator().manual_seed(5)
    batches = [
        (
            torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=generator),
            torch.arange(4) % 10,
            torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=generator),
        )
        for _ in range(steps)
    ]
    old_model = _model()
    torch.manual_seed(11)
    old_monitors, old_shadow = _old_loop(old_model, steps, lrs, 0.9999, True, batches)

    model = _model()
    settings = semisup_settings.SemisupSettings("digits", 10, 0, 1, 4, 3e-4, 0.5, 0.0, 0.9999, 0.125, "code", "ali")
    opt_d, opt_g = semisup_train.make_optimisers(model, settings, torch.device("cpu"), use_graph=False)
    average = semisup_average.DiscriminatorAverage(model, 0.9999, warmup=True)
    runner = StepRunner(partial(semisup_train.semisup_train_step, model, opt_d, opt_g, average), use_graph=False)
    assert runner.fn.func is semisup_train.semisup_train_step  # the function a GPU run captures and replays
    torch.manual_seed(11)
    monitors = []
    for t in range(steps):
        semisup_train.set_learning_rate((opt_d, opt_g), lrs[t])
        monitors.append(runner(*batches[t]))
    assert all(torch.equal(a, b) for a, b in zip(old_monitors, monitors, strict=True))
    for (name, a), b in zip(old_model.state_dict().items(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert all(torch.equal(a, b) for a, b in zip(old_shadow, average.shadow, strict=True))
    assert average.updates == steps and opt_d.param_groups[0]["lr"].item() == lrs[-1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_graphed_and_eager_k_plus_1_steps_agree_on_gpu():
    """On a GPU: 3 eager warm-up steps, the capture, then replays, against the eager step, with the
    learning rate moved between replays (the captured step must read the tensor, not a copy)."""
    from functools import partial

    from ali_bench.cuda_graphs import StepRunner

    device = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    generator = torch.Generator().manual_seed(5)
    batches = [
        tuple(
            b.to(device)
            for b in (
                torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=generator),
                torch.arange(8) % 10,
                torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=generator),
            )
        )
        for _ in range(8)
    ]
    results = []
    for graphs in (False, True):
        model = _model().to(device)
        settings = semisup_settings.SemisupSettings("digits", 10, 0, 1, 8, 3e-4, 0.5, 0.0, 0.9999, 0.125, "code", "ali")
        opt_d, opt_g = semisup_train.make_optimisers(model, settings, device, use_graph=graphs)
        average = semisup_average.DiscriminatorAverage(model, 0.9999, warmup=True)
        runner = StepRunner(partial(semisup_train.semisup_train_step, model, opt_d, opt_g, average), use_graph=graphs)
        torch.manual_seed(11)
        losses = []
        for t, batch in enumerate(batches):
            semisup_train.set_learning_rate((opt_d, opt_g), 3e-4 if t < 6 else 1e-4)
            losses.append(runner(*batch).clone())
        results.append((torch.stack(losses).cpu(), [s.cpu() for s in average.shadow], average.updates))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-3, atol=1e-4)
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
    assert results[0][2] == results[1][2] == len(batches)
