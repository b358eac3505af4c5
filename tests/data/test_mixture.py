import numpy as np
import pytest

from ali_bench.config import MixtureConfig, load_config
from ali_bench.data.mixture import GridMixture, train_and_test


@pytest.fixture
def paper_mixture_cfg() -> MixtureConfig:
    return load_config({}).toy.mixture


def test_means_are_the_25_point_grid(paper_mixture_cfg):
    mixture = GridMixture.from_config(paper_mixture_cfg)
    assert mixture.n_components == 25
    assert sorted(set(mixture.means[:, 0])) == [-4, -2, 0, 2, 4]
    assert {tuple(m) for m in mixture.means} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}


def test_samples_have_the_configured_spread_and_equal_weights(paper_mixture_cfg):
    mixture, (x, comp), _ = train_and_test(paper_mixture_cfg)
    assert x.shape == (100_000, 2) and x.dtype == np.float32
    residual = x - mixture.means[comp]
    assert np.std(residual) == pytest.approx(0.05, rel=0.02)
    counts = np.bincount(comp, minlength=25)
    assert counts.min() > 3600 and counts.max() < 4400  # 4000 expected each


def test_held_out_set_differs_from_training_set_and_is_reproducible(paper_mixture_cfg):
    _, (train, _), (test, _) = train_and_test(paper_mixture_cfg)
    _, (train2, _), (test2, _) = train_and_test(paper_mixture_cfg)
    assert test.shape == (10_000, 2)
    assert not np.allclose(train[:10_000], test)
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(test, test2)


def test_same_train_and_test_seed_is_refused(paper_mixture_cfg):
    from dataclasses import replace

    with pytest.raises(ValueError, match="test_seed"):
        train_and_test(replace(paper_mixture_cfg, test_seed=paper_mixture_cfg.train_seed))


def test_argmax_responsibility_is_the_nearest_mean(paper_mixture_cfg):
    mixture = GridMixture.from_config(paper_mixture_cfg)
    points = np.random.default_rng(0).uniform(-6, 6, size=(1000, 2))
    nearest = ((points[:, None] - mixture.means[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(mixture.log_responsibilities(points).argmax(1), nearest)
