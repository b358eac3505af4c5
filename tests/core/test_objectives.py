import math

import pytest
import torch

from ali_bench.objectives import discriminator_accuracies, discriminator_loss, generator_loss


def _log_sigmoid(value: float) -> float:
    return math.log(1.0 / (1.0 + math.exp(-value)))


def test_losses_match_the_log_sigmoid_formulas_on_hand_made_logits():
    s_data = torch.tensor([2.0, -1.0, 0.5])
    s_sample = torch.tensor([-3.0, 0.0, 1.5])
    expected_d = (
        sum(
            -_log_sigmoid(a) - math.log(1 - 1 / (1 + math.exp(-b)))
            for a, b in zip(s_data.tolist(), s_sample.tolist(), strict=True)
        )
        / 3
    )
    expected_g = (
        sum(
            -math.log(1 - 1 / (1 + math.exp(-a))) - _log_sigmoid(b)
            for a, b in zip(s_data.tolist(), s_sample.tolist(), strict=True)
        )
        / 3
    )
    assert discriminator_loss(s_data, s_sample).item() == pytest.approx(expected_d, rel=1e-6)
    assert generator_loss(s_data, s_sample).item() == pytest.approx(expected_g, rel=1e-6)


def test_undecided_discriminator_costs_two_log_two():
    zeros = torch.zeros(5)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))
    assert generator_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def test_batched_logits_give_one_loss_per_model():
    s = torch.randn(4, 7)
    t = torch.randn(4, 7)
    per_model = discriminator_loss(s, t)
    assert per_model.shape == (4,)
    assert per_model[2].item() == pytest.approx(discriminator_loss(s[2], t[2]).item())


def test_monitors_are_mean_d_on_data_and_one_minus_d_on_samples():
    d_data, d_sample = discriminator_accuracies(torch.tensor([0.0, 100.0]), torch.tensor([-100.0, 0.0]))
    assert d_data.item() == pytest.approx(0.75)
    assert d_sample.item() == pytest.approx(0.75)
