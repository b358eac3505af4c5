import numpy as np
import pytest

from ali_bench.config import load_config
from ali_bench.data.mixture import GridMixture
from ali_bench.toy.metrics import mode_coverage, reverse_kl_to_uniform


@pytest.fixture
def mixture() -> GridMixture:
    return GridMixture.from_config(load_config({}).toy.mixture)


def test_samples_on_seven_means_cover_seven_modes(mixture):
    chosen = mixture.means[[0, 3, 6, 9, 12, 18, 24]]
    samples = np.repeat(chosen, 100, axis=0)
    cov = mode_coverage(samples, mixture)
    assert cov.modes == 7 and cov.modes_high_quality == 7
    assert cov.high_quality_share == 1.0
    assert cov.reverse_kl == pytest.approx(np.log(25 / 7))


def test_one_sample_per_mode_covers_all_25(mixture):
    cov = mode_coverage(mixture.means.copy(), mixture)
    assert cov.modes == 25 and cov.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_far_samples_still_count_for_the_paper_but_are_not_high_quality(mixture):
    # halfway between (0,0) and (0,2) plus a small nudge: assigned to (0,2) but 0.9 away from it
    samples = np.array([[0.0, 1.1]] * 10 + [[0.0, 2.1]] * 10)  # second half within 0.1 <= 3*0.05
    cov = mode_coverage(samples, mixture, high_quality_stds=3.0)
    assert cov.modes == 1
    assert cov.modes_high_quality == 1
    assert cov.high_quality_share == 0.5


def test_high_quality_radius_is_three_std(mixture):
    inside = np.array([[2.0 + 0.149, 2.0]])
    outside = np.array([[2.0 + 0.151, 2.0]])
    assert mode_coverage(inside, mixture).high_quality_share == 1.0
    assert mode_coverage(outside, mixture).high_quality_share == 0.0


def test_non_finite_samples_are_misses(mixture):
    samples = np.array([[np.nan, 0.0], [np.inf, 1.0], [4.0, 4.0], [4.0, 4.0]])
    cov = mode_coverage(samples, mixture)
    assert cov.modes == 1 and cov.finite_share == 0.5 and cov.high_quality_share == 0.5
    all_bad = mode_coverage(np.full((3, 2), np.nan), mixture)
    assert all_bad.modes == 0 and all_bad.finite_share == 0.0


def test_reverse_kl_hand_checked():
    # p = (3/4, 1/4, 0, 0) against uniform over 4: 3/4 log 3 + 1/4 log 1
    assert reverse_kl_to_uniform(np.array([3, 1, 0, 0])) == pytest.approx(0.75 * np.log(3.0))


def _pacgan_metric_logger(samples, means, variance, threshold=3.0):
    """PacGAN's MetricLogger rule, written out as its code reads: each sample goes to the mean of least
    diagonal Mahalanobis distance and counts when that distance is below the threshold."""
    distance = np.sqrt((((samples[:, None, :] - means[None, :, :]) ** 2) / variance).sum(axis=2))
    nearest = distance.argmin(axis=1)
    kept = distance[np.arange(len(samples)), nearest] < threshold
    detail = np.bincount(nearest[kept], minlength=len(means))
    share = detail / detail.sum()
    return (
        np.count_nonzero(detail),
        kept.mean(),
        float(np.sum(share[share > 0] * np.log(share[share > 0] * len(means)))),
    )


def test_mode_coverage_is_pacgans_rule_on_this_mixture(mixture):
    rng = np.random.default_rng(0)
    # samples around a random subset of modes at several radii, some far off the grid
    centres = mixture.means[rng.integers(0, 25, size=3000)]
    samples = centres + rng.normal(scale=rng.choice([0.03, 0.08, 0.5], size=(3000, 1)), size=(3000, 2))
    modes, share, kl = _pacgan_metric_logger(samples, mixture.means, mixture.std**2)
    cov = mode_coverage(samples, mixture, high_quality_stds=3.0)
    assert (cov.modes_high_quality, cov.high_quality_share) == (modes, pytest.approx(share))
    assert cov.reverse_kl == pytest.approx(kl)


def test_2500_and_10000_sample_counts_differ_where_they_must(mixture):
    # 24 modes 400 times each in the first 9,600 samples; the 25th mode only in the last 400: a
    # 2,500-sample score cannot see it, a 10,000-sample one must
    first = np.repeat(mixture.means[:24], 400, axis=0)
    samples = np.concatenate([first, np.repeat(mixture.means[24:], 400, axis=0)])
    rng = np.random.default_rng(1)
    samples = np.concatenate([rng.permutation(first)[:2500], samples[2500:]])  # the first 2,500 hold no mode 25
    assert mode_coverage(samples[:2500], mixture).modes_high_quality == 24
    assert mode_coverage(samples, mixture).modes_high_quality == 25


def test_pacgans_samples_come_from_a_stream_of_their_own():
    import torch

    from ali_bench.toy.evaluate import generate
    from ali_bench.toy.runs import EVALUATION, PACGAN_EVALUATION

    class Identity(torch.nn.Module):  # x = z: the samples are the stream's draws themselves
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.decoder = torch.nn.Identity()

    payload = {"runs": [{"run": "ali-released-seed3", "seed": 3}], "model_runs": {"ali": ["ali-released-seed3"]}}
    paper = generate({"ali": Identity()}, payload, 10_000, 2, EVALUATION)["ali-released-seed3"]
    pacgan = generate({"ali": Identity()}, payload, 2_500, 2, PACGAN_EVALUATION)["ali-released-seed3"]
    assert paper.shape == (10_000, 2) and pacgan.shape == (2_500, 2)
    assert not np.isin(pacgan[:, 0], paper[:, 0]).any()  # neither a prefix nor a subset of the paper's samples
    again = generate({"ali": Identity()}, payload, 2_500, 2, PACGAN_EVALUATION)["ali-released-seed3"]
    assert np.array_equal(pacgan, again)  # a function of the seed alone
