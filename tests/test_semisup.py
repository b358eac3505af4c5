"""K+1-class semi-supervised ALI: losses against direct formulas, the label sampler, the schedule, one step."""

import math

import numpy as np
import pytest
import torch

from ali_bench import semisup
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI

LOGITS = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 1.0, 4.0]])


def _sum_exp(row):
    return sum(math.exp(v) for v in row)


def test_labelled_loss_is_cross_entropy_over_the_k_real_classes():
    labels = torch.tensor([0, 2, 1])
    expected = np.mean([-row[y] + math.log(_sum_exp(row)) for row, y in zip(LOGITS.tolist(), labels.tolist())])
    assert semisup.labelled_loss(LOGITS, labels).item() == pytest.approx(expected, rel=1e-6)


def test_unlabelled_loss_matches_improved_gans_formula():
    gen = torch.tensor([[-1.0, -2.0, 0.0], [3.0, 0.0, -1.0]])
    z_unl = [math.log(_sum_exp(r)) for r in LOGITS.tolist()]
    z_gen = [math.log(_sum_exp(r)) for r in gen.tolist()]
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731
    expected = -0.5 * np.mean(z_unl) + 0.5 * np.mean([softplus(v) for v in z_unl]) + 0.5 * np.mean([softplus(v) for v in z_gen])
    assert semisup.unlabelled_loss(LOGITS, gen).item() == pytest.approx(expected, rel=1e-6)
    # the same thing, read as "real with probability Z/(1+Z)": -1/2 log D(unl) - 1/2 log(1 - D(gen))
    d_unl = [_sum_exp(r) / (1 + _sum_exp(r)) for r in LOGITS.tolist()]
    d_gen = [_sum_exp(r) / (1 + _sum_exp(r)) for r in gen.tolist()]
    assert expected == pytest.approx(-0.5 * np.mean(np.log(d_unl)) - 0.5 * np.mean(np.log(1 - np.array(d_gen))), rel=1e-9)


def test_encoder_decoder_loss_is_alis_swapped_label_loss_with_d_equal_z_over_one_plus_z():
    gen = torch.tensor([[-1.0, -2.0, 0.0], [3.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    d_unl = np.array([_sum_exp(r) / (1 + _sum_exp(r)) for r in LOGITS.tolist()])
    d_gen = np.array([_sum_exp(r) / (1 + _sum_exp(r)) for r in gen.tolist()])
    expected = np.mean(-np.log(1 - d_unl) - np.log(d_gen))
    assert semisup.encoder_decoder_loss(LOGITS, gen).item() == pytest.approx(expected, rel=1e-6)


def test_balanced_labels_are_per_class_seeded_and_differ_between_seeds():
    labels = np.random.default_rng(0).integers(0, 10, 5000)
    chosen = semisup.balanced_labels(labels, 100, seed=3)
    assert len(chosen) == 1000 and np.bincount(labels[chosen], minlength=10).tolist() == [100] * 10
    np.testing.assert_array_equal(chosen, semisup.balanced_labels(labels, 100, seed=3))
    assert len(set(chosen) & set(semisup.balanced_labels(labels, 100, seed=4))) < 500
    with pytest.raises(ValueError, match="fewer than"):
        semisup.balanced_labels(labels, 2000, seed=0)


def test_lr_schedule_is_flat_then_linear_to_zero_over_the_last_third():
    epochs = 1200
    for epoch in (0, 400, 799, 800, 1000, 1199):
        assert semisup.lr_factor(epoch, epochs, 1 / 3) == pytest.approx(min(3 - 3 * epoch / epochs, 1.0))
    assert semisup.lr_factor(10, 20, 0.0) == 1.0


def _model():
    torch.manual_seed(0)
    return ImageALI(image_architecture("svhn", width=0.125), n_classes=10).train()


def test_k_logit_head_and_one_step_moves_what_it_should():
    model = _model()
    assert model.discriminate(torch.rand(4, 3, 32, 32), torch.randn(4, 256, 1, 1)).shape == (4, 10)
    opt = lambda params: torch.optim.Adam(params, lr=1e-3)  # noqa: E731
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x_lab, y_lab = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8), torch.arange(6) % 10
    x_unl = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    monitors = semisup.semisup_step(model, opt(model.discriminator_parameters()), opt(model.generator_parameters()), x_lab, y_lab, x_unl)
    assert monitors.shape == (len(semisup.MONITORS),) and torch.isfinite(monitors).all()
    after = model.state_dict()
    for prefix in ("encoder.0.", "decoder.0.", "dx.1.", "joint."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)), prefix


def test_supervised_only_baseline_leaves_encoder_and_decoder_alone():
    model = _model()
    opt = lambda params: torch.optim.Adam(params, lr=1e-3)  # noqa: E731
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("encoder.", "decoder.")) and "running" not in k and "num_batches" not in k}
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    monitors = semisup.semisup_step(model, opt(model.discriminator_parameters()), opt(model.generator_parameters()),
                                    x, torch.arange(6), x, supervised_only=True)
    assert monitors[2].item() == 0.0 and monitors[3].item() == 0.0  # no unlabelled or generator term
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_discriminator_average_is_an_exponential_moving_average():
    model = _model()
    average = semisup.DiscriminatorAverage(model, decay=0.9)
    start = [p.detach().clone() for p in model.discriminator_parameters()]
    with torch.no_grad():
        for p in model.discriminator_parameters():
            p.add_(1.0)
    average.update(model)
    torch.testing.assert_close(average.shadow[0], start[0] + 0.1)
    averaged = average.averaged_model(model)
    torch.testing.assert_close(averaged.discriminator_parameters()[0], start[0] + 0.1)
    assert not averaged.training
