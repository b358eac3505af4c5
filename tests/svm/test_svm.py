"""The L2-SVM protocol: sampler, C search, error arithmetic, feature sets, the CLI on tiny files."""

import json

import numpy as np
import pytest
import torch

from ali_bench import sidecar_digest
from ali_bench.nets import image_architecture
from ali_bench.nets.image import ImageALI
from ali_bench.svm import fit as svm
from ali_bench.svm.features import FEATURE_PARTS, extract, feature_dimension

from conftest import run_cli


def _labels(n=3000, classes=10, seed=0):
    return np.random.default_rng(seed).integers(0, classes, n)


def test_balanced_sampler_takes_exactly_100_per_class_fresh_and_seeded():
    pool = svm.FeatureRows("unused", _labels())
    first = svm.training_set(pool, 100, "balanced", seed=7, index=0)
    assert len(first) == 1000 and len(set(first.tolist())) == 1000
    assert np.bincount(pool.labels[first], minlength=10).tolist() == [100] * 10
    again = svm.training_set(pool, 100, "balanced", seed=7, index=0)
    other = svm.training_set(pool, 100, "balanced", seed=7, index=1)
    np.testing.assert_array_equal(first, again)
    assert len(set(first.tolist()) & set(other.tolist())) < 900  # a fresh draw per SVM


def test_balanced_walk_keeps_the_first_examples_met():
    labels = np.array([0, 1, 0, 1, 0, 1])
    rng_order = np.random.default_rng(123).permutation(6)
    picked = svm.balanced_indices(labels, 2, np.random.default_rng(123))
    expected = [i for i in rng_order if sum(labels[j] == labels[i] for j in rng_order[: list(rng_order).index(i)]) < 2]
    assert picked.tolist() == expected


def test_random_sampler_and_a_pool_too_small():
    pool = svm.FeatureRows("unused", _labels())
    assert len(svm.training_set(pool, 100, "random", 0, 0)) == 1000
    with pytest.raises(ValueError, match="fewer than 400"):
        svm.training_set(pool, 400, "balanced", 0, 0)


def _write(path, x):
    np.save(path, x.astype(np.float32))
    return str(path)


def test_c_search_picks_the_best_validation_c_and_its_errors_are_sklearns(tmp_path):
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(0)
    means = rng.normal(0, 0.6, (10, 20))

    def make(n):
        y = rng.integers(0, 10, n)
        return means[y] + rng.standard_normal((n, 20)), y

    (xp, yp), (xv, yv), (xt, yt) = make(1500), make(300), make(400)
    pool = svm.FeatureRows(_write(tmp_path / "p.npy", xp), yp)
    valid = svm.FeatureRows(_write(tmp_path / "v.npy", xv), yv)
    test = svm.FeatureRows(_write(tmp_path / "t.npy", xt), yt)
    grid = svm.c_grid(-8, 4, 7)
    result = svm.run(pool, valid, test, per_class=40, sampling="balanced", n_svms=5, grid=grid, seed=0, n_jobs=1)
    assert result.chosen_c == grid[int(np.argmin(result.validation_errors))]
    assert len(set(np.round(result.validation_errors, 6))) > 1  # the grid matters on this data
    assert result.test_errors.shape == (5,) and result.test_errors.mean() < 0.5  # far below chance (0.9)
    # the protocol's validation error for one C equals scikit-learn's own fit and score
    chosen_rows = svm.training_set(pool, 40, "balanced", svm.seed_for(0, svm.C_SELECTION), 0)
    reference = LinearSVC(
        C=grid[3], random_state=svm.seed_for(svm.seed_for(0, svm.C_SELECTION), svm.SVM_FITS, 3) % 2**31
    ).fit(xp[chosen_rows].astype(np.float32).astype(np.float64), yp[chosen_rows])
    assert result.validation_errors[3] == pytest.approx(1 - reference.score(xv.astype(np.float32), yv), abs=1e-9)
    again = svm.run(pool, valid, test, per_class=40, sampling="balanced", n_svms=5, grid=grid, seed=0, n_jobs=2)
    np.testing.assert_array_equal(again.test_errors, result.test_errors)  # same seed, same numbers, any n_jobs
    np.testing.assert_array_equal(again.validation_errors, result.validation_errors)


def test_error_rates_hand_checked(tmp_path):
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [-1.0, 3.0]])
    split = svm.FeatureRows(_write(tmp_path / "x.npy", x), np.array([0, 1, 1, 1]))
    always_first = (
        np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32),
        np.zeros(2, np.float32),
        np.array([0, 1]),
        True,
    )
    # class 0 if x0 > x1: predictions 0, 1, 0, 1 -> one mistake (row 2) out of 4
    biased = (
        np.array([[0.0, 0.0], [0.0, 0.0]], dtype=np.float32),
        np.array([0.0, 1.0], np.float32),
        np.array([0, 1]),
        True,
    )
    # constant scores (0, 1): always class 1 -> one mistake (row 0)
    binary = (np.array([[0.0, 1.0]], dtype=np.float32), np.array([-2.0], np.float32), np.array([0, 1]), True)
    # binary head: class 1 where x1 > 2 -> predictions 0, 0, 0, 1 -> two mistakes
    errors = svm.error_rates(split, [always_first, biased, binary], chunk=3)  # chunking crosses a row boundary
    np.testing.assert_allclose(errors, [0.25, 0.25, 0.5])


@pytest.mark.parametrize("feature_set, dim", [("released-code", 5376), ("paper", 8960)])
def test_feature_sets_have_the_documented_dimensions(feature_set, dim):
    model = ImageALI(image_architecture("svhn")).eval()
    assert feature_dimension(model, feature_set) == dim


def test_features_use_population_statistics_so_an_image_does_not_depend_on_its_batch():
    torch.manual_seed(0)
    model = ImageALI(image_architecture("svhn", width=0.25))
    model.train()
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():  # move the BN running statistics off their initial values
        for _ in range(3):
            model.encoder(torch.rand(16, 3, 32, 32))
    model.eval()
    alone = extract(model, images[:1], "released-code")
    batched = extract(model, images, "released-code")
    torch.testing.assert_close(alone[0], batched[0], rtol=1e-4, atol=1e-5)
    mu, _ = model.posterior(images[:1].float() / 255)
    torch.testing.assert_close(alone[0, : model.arch.latent_dim], mu.flatten())  # released-code starts with mu
    assert FEATURE_PARTS["released-code"][0] == "mu"


def test_svm_cli_takes_the_last_rows_of_train_as_validation(tmp_path):
    rng = np.random.default_rng(1)
    means = rng.normal(0, 3, (10, 8))
    y_train, y_test = np.tile(np.arange(10), 60), np.tile(np.arange(10), 20)
    np.save(tmp_path / "train.npy", (means[y_train] + rng.standard_normal((600, 8))).astype(np.float32))
    np.save(tmp_path / "test.npy", (means[y_test] + rng.standard_normal((200, 8))).astype(np.float32))
    np.save(tmp_path / "train_labels.npy", y_train)
    np.save(tmp_path / "test_labels.npy", y_test)
    for name in ("train", "test", "train_labels", "test_labels"):
        sidecar_digest.record(tmp_path / f"{name}.npy")  # as the features job does
    config = json.dumps({"svm": {"labels_per_class": 20, "n_svms": 4, "validation_size": 100, "n_c": 5, "n_jobs": 1}})
    run_cli(
        "svm",
        "--config-json",
        config,
        "--dataset",
        "svhn",
        "--feature-set",
        "paper",
        "--train",
        str(tmp_path / "train.npy"),
        "--train-labels",
        str(tmp_path / "train_labels.npy"),
        "--test",
        str(tmp_path / "test.npy"),
        "--test-labels",
        str(tmp_path / "test_labels.npy"),
        "--out",
        str(tmp_path / "s.json"),
        "--out-errors",
        str(tmp_path / "e.csv"),
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["pool_examples"], summary["validation_examples"], summary["test_examples"]) == (500, 100, 200)
    assert summary["labels_per_svm"] == 200 and len(summary["test_errors"]) == 4 and summary["feature_dim"] == 8
    run_cli(
        "svm-table",
        "--config-json",
        config,
        "--results",
        str(tmp_path / "s.json"),
        "--out",
        str(tmp_path / "svhn_table.csv"),
    )
    import pandas as pd

    table = pd.read_csv(tmp_path / "svhn_table.csv")
    assert table.loc[0, "paper_ali_error_pct"] == 19.14 and table.loc[0, "paper_dcgan_l2svm_error_pct"] == 22.18
    assert table.loc[0, "test_error_mean_pct"] == pytest.approx(100 * np.mean(summary["test_errors"]))
    assert table.loc[0, "test_error_std_pct"] == pytest.approx(100 * np.std(summary["test_errors"]))
