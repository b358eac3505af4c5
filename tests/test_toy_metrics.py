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
