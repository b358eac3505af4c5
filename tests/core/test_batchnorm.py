"""Recomputed batch-norm statistics: what they average, what they leave alone, how they are chosen."""

import pytest
import torch
from torch import nn

from ali_bench import batchnorm


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 4),
        nn.BatchNorm1d(4, momentum=0.05),
        nn.Dropout(0.5),
        nn.Linear(4, 2),
        nn.BatchNorm1d(2, momentum=0.05),
    )


def test_recomputed_statistics_are_the_plain_average_of_the_batches_statistics():
    net = _net()
    batches = [torch.randn(50, 3, generator=torch.Generator().manual_seed(k)) * (k + 1) for k in range(4)]
    before = {key: value.clone() for key, value in net.state_dict().items()}
    state = batchnorm.recompute_statistics(net, lambda k: net(batches[k]), len(batches))
    with torch.no_grad():
        hidden = [net[0](x) for x in batches]
    expected_mean = torch.stack([h.mean(0) for h in hidden]).mean(0)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hidden]).mean(0)
    torch.testing.assert_close(state["1.running_mean"], expected_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(state["1.running_var"], expected_var, rtol=1e-5, atol=1e-6)
    # the model is left as it was: training mode, momentum, running averages and batch counters
    assert net.training and net[1].momentum == 0.05 and all(module.training for module in net)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_dropout_stays_off_while_statistics_are_recomputed():
    net = _net()
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1))
    first = batchnorm.recompute_statistics(net, lambda k: net(x), 1)
    second = batchnorm.recompute_statistics(net, lambda k: net(x), 1)
    # with dropout active the second layer's statistics would change from pass to pass
    torch.testing.assert_close(first["4.running_mean"], second["4.running_mean"], rtol=0, atol=0)


def test_running_averages_stay_available_and_the_choice_is_checked():
    net = _net()
    trained = net.state_dict()
    recomputed = {key: value + 1 for key, value in batchnorm.statistics_state(net).items()}
    assert batchnorm.with_statistics(trained, recomputed, "running") is trained
    chosen = batchnorm.with_statistics(trained, recomputed, "recomputed")
    torch.testing.assert_close(chosen["1.running_var"], trained["1.running_var"] + 1)
    torch.testing.assert_close(chosen["0.weight"], trained["0.weight"])
    with pytest.raises(ValueError, match="unknown batch-norm statistics 'stale'"):
        batchnorm.with_statistics(trained, recomputed, "stale")
    with pytest.raises(ValueError, match="no recomputed batch-norm statistics for 4.running_mean"):
        batchnorm.with_statistics(
            trained, {k: v for k, v in recomputed.items() if not k.startswith("4.")}, "recomputed"
        )


def test_stale_running_averages_are_what_recomputation_repairs():
    """Statistics of earlier weights mis-normalise the current ones; recomputed statistics do not."""
    net = _net()
    x = torch.randn(500, 3, generator=torch.Generator().manual_seed(2))
    net.train()
    for _ in range(20):
        net(x)  # running averages now describe these weights
    with torch.no_grad():
        net[0].weight.mul_(5.0)  # the weights move on (as at the end of a short, fast run)
    net.eval()
    stale = net[1](net[0](x)).std(0).mean().item()
    recomputed = batchnorm.recompute_statistics(net, lambda k: net(x), 1)
    assert not net.training  # left in the mode it was given in
    net.load_state_dict(batchnorm.with_statistics(net.state_dict(), recomputed, "recomputed"))
    fresh = net[1](net[0](x)).std(0).mean().item()
    assert stale > 3.0 and fresh == pytest.approx(1.0, abs=0.01)
