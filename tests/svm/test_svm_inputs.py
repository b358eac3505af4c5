"""The SVM stage refuses feature files that cannot be scored honestly, before any fit, in one line."""

import json

import numpy as np
import pytest

from ali_bench import sidecar_digest

from conftest import run_cli

CONFIG = json.dumps({"svm": {"labels_per_class": 20, "n_svms": 2, "validation_size": 100, "n_c": 3, "n_jobs": 1}})


def _write(tmp_path, n_train=600, n_test=200, train_dim=8, test_dim=8, n_test_labels=None, poison_test=False):
    rng = np.random.default_rng(1)
    means = rng.normal(0, 3, (10, max(train_dim, test_dim)))
    y_train, y_test = np.tile(np.arange(10), n_train // 10), np.tile(np.arange(10), (n_test_labels or n_test) // 10)
    train = (means[y_train, :train_dim] + rng.standard_normal((n_train, train_dim))).astype(np.float32)
    test = (means[np.arange(n_test) % 10, :test_dim] + rng.standard_normal((n_test, test_dim))).astype(np.float32)
    if poison_test:
        test[:] = np.nan
    for name, array in (("train", train), ("test", test), ("train_labels", y_train), ("test_labels", y_test)):
        np.save(tmp_path / f"{name}.npy", array)
    _seal(tmp_path)


def _seal(tmp_path):
    """The .sha256 beside each file as it is now, as the features job records what it wrote: the
    arrays below then reach the check a test is about rather than the digest's."""
    for name in ("train", "test", "train_labels", "test_labels"):
        sidecar_digest.record(tmp_path / f"{name}.npy")


def _svm(tmp_path):
    return run_cli(
        "svm",
        "--config-json",
        CONFIG,
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
        check=False,
    )


def _one_line_refusal(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("kind", ["short", "long"])
def test_features_and_labels_of_different_lengths_are_refused_naming_both_files_and_counts(tmp_path, kind):
    if kind == "short":  # a test feature file 10 rows short of its labels
        _write(tmp_path, n_test=190, n_test_labels=200)
    else:  # more labels than rows, by a lot
        _write(tmp_path, n_test=250, n_test_labels=1290)
    line = _one_line_refusal(_svm(tmp_path))
    rows, labels = ("190", "200") if kind == "short" else ("250", "1,290")
    assert (
        f"'{tmp_path / 'test.npy'}' have {rows} rows" in line
        and f"'{tmp_path / 'test_labels.npy'}' have {labels}" in line
    )
    assert not (tmp_path / "s.json").exists()


def test_non_finite_features_are_refused(tmp_path):
    _write(tmp_path, poison_test=True)
    line = _one_line_refusal(_svm(tmp_path))
    assert f"test features '{tmp_path / 'test.npy'}' hold a non-finite value in row 0" in line


def test_feature_dimensions_that_differ_between_splits_are_refused(tmp_path):
    _write(tmp_path, test_dim=6)
    line = _one_line_refusal(_svm(tmp_path))
    assert "have 8 dimensions but test features" in line and "have 6" in line


@pytest.mark.parametrize("damage", ["empty", "truncated", "empty labels"])
def test_an_empty_or_truncated_npy_is_refused_naming_the_file(tmp_path, damage):
    """An interrupted copy leaves such files; numpy's own error was a traceback."""
    _write(tmp_path)
    name = "test_labels.npy" if damage == "empty labels" else "test.npy"
    path = tmp_path / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"")
    assert "changed after it was written" in _one_line_refusal(_svm(tmp_path))  # the copy's damage
    _seal(tmp_path)  # a features job that wrote it so: numpy's reader is the check
    line = _one_line_refusal(_svm(tmp_path))
    assert f"'{path}' cannot be read as a .npy array" in line
    assert not (tmp_path / "s.json").exists()


def test_a_stray_training_label_is_blamed_on_the_labels_not_the_config(tmp_path):
    """One training label of class 42 was reported as too few examples for svm.labels_per_class."""
    _write(tmp_path)
    labels = np.load(tmp_path / "train_labels.npy")
    labels[3] = 42
    np.save(tmp_path / "train_labels.npy", labels)
    _seal(tmp_path)
    line = _one_line_refusal(_svm(tmp_path))
    assert f"training labels '{tmp_path / 'train_labels.npy'}' hold class 42 (1 example)" in line
    assert "never hold" in line and "labels_per_class" not in line


def test_consistent_files_pass_the_check(tmp_path):
    _write(tmp_path)
    assert _svm(tmp_path).returncode == 0 and json.loads((tmp_path / "s.json").read_text())["feature_dim"] == 8


def _svm_with(tmp_path, config: str):
    return run_cli(
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
        check=False,
    )


@pytest.mark.parametrize(
    "sampling, per_class, says",
    [
        ("balanced", 51, "'svm.labels_per_class': 51 examples per class, but class 0 has 50 in the training pool"),
        ("random", 51, "'svm.labels_per_class': 51 per class is 510 examples, but the training pool"),
    ],
)
def test_more_labels_per_class_than_the_pool_holds_is_one_line_naming_the_key(tmp_path, sampling, per_class, says):
    _write(tmp_path)  # 600 training rows, the last 100 for validation: 50 of each class in the pool
    config = json.dumps(
        {
            "svm": {
                "labels_per_class": per_class,
                "sampling": sampling,
                "n_svms": 2,
                "validation_size": 100,
                "n_c": 3,
                "n_jobs": 1,
            }
        }
    )
    line = _one_line_refusal(_svm_with(tmp_path, config))
    assert says in line and str(tmp_path / "train_labels.npy") in line, line
    assert not (tmp_path / "s.json").exists()


@pytest.mark.parametrize(
    "labels, says",
    [
        (lambda y: np.where(y == 3, 42, y), "test labels '{test}' hold class 42, of which the training pool"),
        (lambda y: y.astype(np.float64) + 0.5, "test labels '{test}' are float64; expected integer class labels"),
        (lambda y: np.stack([y, y], axis=1), "test labels '{test}' have shape (200, 2); expected one class per row"),
        (lambda y: y[:0], "test labels '{test}' are empty"),
        (lambda y: y - 1, "test labels '{test}' hold class -1"),
    ],
)
def test_malformed_label_arrays_are_one_line_naming_the_file(tmp_path, labels, says):
    """Before: class 42 scored as a plausible error rate; floats, 2-D and empty arrays gave tracebacks."""
    _write(tmp_path)
    path = tmp_path / "test_labels.npy"
    np.save(path, labels(np.load(path)))
    _seal(tmp_path)
    line = _one_line_refusal(_svm(tmp_path))
    assert says.format(test=path) in line, line
    assert not (tmp_path / "s.json").exists()


def _features(tmp_path, split):
    """The features job's command for digits' raw pixels (no model needed): the .npy files and their
    .sha256 sidecars, as the workflow writes them."""
    out = tmp_path / f"{split}.npy"
    run_cli(
        "features",
        "--config-json",
        json.dumps({"device": "cpu"}),
        "--dataset",
        "digits",
        "--split",
        split,
        "--feature-set",
        "pixels",
        "--out",
        str(out),
        "--out-labels",
        str(tmp_path / f"{split}_labels.npy"),
    )
    return out


def test_features_changed_on_disk_after_the_features_job_are_refused(tmp_path):
    """A block of a feature file overwritten in place (right shape, finite values) passes every
    shape and value check; its .sha256 sidecar catches it before any fit."""
    import subprocess

    for split in ("train", "test"):
        _features(tmp_path, split)
        check = subprocess.run(["sha256sum", "-c", f"{split}.npy.sha256"], cwd=tmp_path, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr  # coreutils reads the sidecar too
    assert _svm(tmp_path).returncode == 0  # as written: fitted

    features = np.load(tmp_path / "test.npy", mmap_mode="r+")
    features[10:20] = 0.5  # a flipped block: same shape, finite
    features.flush()
    del features
    line = _one_line_refusal(_svm(tmp_path))
    assert (
        f"'{tmp_path / 'test.npy'}' changed after it was written" in line
        and f"--forcerun {tmp_path / 'test.npy'})" in line
    )

    (tmp_path / "test.npy.sha256").unlink()  # deleted, or left behind by a copy: nothing vouches for it
    line = _one_line_refusal(_svm(tmp_path))
    assert f"'{tmp_path / 'test.npy'}' has no recorded hash" in line and f"--forcerun {tmp_path / 'test.npy'})" in line
