"""Fashion-MNIST (ali_bench/data/fashion_mnist.py): its IDX reader on tiny files in the exact
on-disk format (gzipped and not, torchvision's layout and the system package's folder), its checks,
and, where Debian's ``dataset-fashion-mnist`` is installed, the real files read and trained on.

Where ``ALI_BENCH_REQUIRE_FASHION_MNIST`` is set (``.ci/run`` sets it after installing the package)
the real-file tests must not skip: a skip there means the package or its folder changed.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ali_bench.config import FASHION_TRAIN_MIN_CLASS
from ali_bench.data import checksums, fashion_mnist, images
from ali_bench.data.errors import ChecksumMismatch, DatasetCorrupt, DatasetMissing
from ali_bench.data.registry import DATASETS

from conftest import snakemake

SYSTEM = Path(DATASETS["fashion_mnist"].system_package)
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an IDX file: 0, 0, type 0x08, ndim; each dimension big-endian; the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_set(folder: Path, n_train: int = 30, n_test: int = 12, gz: bool = True, seed: int = 0) -> dict:
    """Four IDX files of random images with labels 0..9 in turn; returns what they hold."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.fixture
def no_system_package(tmp_path, monkeypatch):
    """The system package's folder pointed at an empty one: these tests see only their own files."""
    folder = tmp_path / "system"
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDER", folder)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_the_splits_are_the_training_files_windows_padded_to_32_and_replicated_to_rgb(
    tmp_path, no_system_package, monkeypatch, gz
):
    monkeypatch.setitem(fashion_mnist.WINDOW, "train", slice(0, 25))  # of 30 tiny training images
    monkeypatch.setitem(fashion_mnist.WINDOW, "valid", slice(25, 30))
    arrays = write_set(tmp_path / "data" / "FashionMNIST" / "raw", gz=gz)
    read = {
        split: images.load_split("fashion_mnist", split, tmp_path / "data")
        for split in DATASETS["fashion_mnist"].splits
    }
    assert {split: len(data) for split, data in read.items()} == {"train": 25, "valid": 5, "test": 12, "train_all": 30}
    train = read["train"]
    assert train.images.shape == (25, 3, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grey replicated
    assert train.images[:, :, :2].eq(0).all() and train.images[:, :, :, -2:].eq(0).all()  # the zero padding
    assert np.array_equal(train.images[:, 1, 2:30, 2:30].numpy(), arrays["train-images-idx3-ubyte"][:25])
    assert torch.equal(read["valid"].labels, torch.arange(25, 30) % 10)
    assert torch.equal(read["test"].labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"].astype(np.int64)))
    assert read["train"].labels.dtype == torch.int64


def test_files_under_the_data_root_come_before_the_system_packages(tmp_path, no_system_package):
    write_set(no_system_package, seed=1)
    assert len(images.load_split("fashion_mnist", "test", tmp_path / "data")) == 12  # the package's copy
    root_copy = write_set(tmp_path / "data" / "FashionMNIST" / "raw", n_test=7, gz=False, seed=2)
    test = images.load_split("fashion_mnist", "test", tmp_path / "data")
    assert len(test) == 7 and np.array_equal(test.images[:, 0, 2:30, 2:30].numpy(), root_copy["t10k-images-idx3-ubyte"])
    files = images.check_official_files("fashion_mnist", "test", tmp_path / "data", verify=False)
    assert [f["path"] for f in files] == [f"FashionMNIST/raw/{name}" for name in NAMES[2:]]


def test_the_checksum_is_of_the_decompressed_file_so_a_recompressed_copy_still_matches(
    tmp_path, no_system_package, monkeypatch
):
    """Debian's package recompressed the published .gz files: other .gz bytes, the same data. The MD5
    checked is therefore the decompressed file's, whatever the compression."""
    arrays = write_set(no_system_package, gz=True)
    for name, array in arrays.items():
        monkeypatch.setitem(checksums.KNOWN_MD5, f"FashionMNIST/raw/{name}", hashlib.md5(idx_bytes(array)).hexdigest())
    files = images.check_official_files("fashion_mnist", "test", tmp_path / "data", verify=True)
    assert all(f["checked_against_published_md5"] and f["md5_of"] == "decompressed contents" for f in files)
    assert files[0]["path"] == str(no_system_package / "t10k-images-idx3-ubyte.gz")
    recompressed = no_system_package / "t10k-images-idx3-ubyte.gz"
    recompressed.write_bytes(gzip.compress(idx_bytes(arrays["t10k-images-idx3-ubyte"]), compresslevel=1, mtime=12345))
    images.load_split("fashion_mnist", "test", tmp_path / "data", verify=False)
    assert (
        images.check_official_files("fashion_mnist", "test", tmp_path / "data", verify=True)[0]["md5"]
        == files[0]["md5"]
    )
    other = arrays["t10k-images-idx3-ubyte"].copy()
    other[0, 0, 0] ^= 1  # one pixel of another version
    recompressed.write_bytes(gzip.compress(idx_bytes(other)))
    with pytest.raises(
        ChecksumMismatch,
        match=r"t10k-images-idx3-ubyte.gz' decompressed contents have MD5 \w+, but "
        r"the published file has",
    ):
        images.load_split("fashion_mnist", "test", tmp_path / "data", verify=True)


def test_missing_files_name_both_places_and_the_package(tmp_path, no_system_package):
    with pytest.raises(DatasetMissing) as error:
        images.load_split("fashion_mnist", "train", tmp_path / "data")
    message = str(error.value)
    assert "\n" not in message and "FashionMNIST/raw/train-images-idx3-ubyte' is missing" in message
    assert "apt-get install dataset-fashion-mnist" in message and str(no_system_package) in message
    assert "images.download: true" in message


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda data: data[:-5], r"dimensions \(12, 28, 28\) and 9,403 bytes of data"),
        (lambda data: b"\0\0\x0d\x03" + data[4:], "header 00000d03, expected 00000803"),
        (lambda data: b"", "header empty"),
    ],
)
def test_a_damaged_idx_file_is_refused_in_one_line_naming_it(tmp_path, no_system_package, damage, expected):
    folder = tmp_path / "data" / "FashionMNIST" / "raw"
    write_set(folder, gz=False)
    path = folder / "t10k-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DatasetCorrupt, match=expected) as error:
        images.load_split("fashion_mnist", "test", tmp_path / "data")
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_cut_gzip_file_is_refused_in_one_line(tmp_path, no_system_package):
    folder = tmp_path / "data" / "FashionMNIST" / "raw"
    write_set(folder, gz=True)
    path = folder / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ChecksumMismatch, match="t10k-labels-idx1-ubyte.gz' cannot be decompressed") as error:
        images.load_split("fashion_mnist", "test", tmp_path / "data", verify=False)
    assert "\n" not in str(error.value)


def test_labels_that_do_not_match_the_images_are_refused(tmp_path, no_system_package):
    folder = tmp_path / "data" / "FashionMNIST" / "raw"
    write_set(folder, gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(12, 10, dtype=np.uint8)))
    with pytest.raises(DatasetCorrupt, match="labels up to 10 for 12 images"):
        images.load_split("fashion_mnist", "test", tmp_path / "data")


def test_the_file_names_and_layout_are_torchvisions():
    import torchvision

    tv = torchvision.datasets.FashionMNIST
    assert tuple(name.removesuffix(".gz") for name, _ in tv.resources) == NAMES
    assert fashion_mnist.URL == tv.mirrors[0] and fashion_mnist.LAYOUT == f"{tv.__name__}/raw"
    assert {path.split("/")[-1] for path in DATASETS["fashion_mnist"].md5} == set(NAMES)


# ---------------------------------------------------------------------------------------------
# The real files (Debian's dataset-fashion-mnist; CI installs it)


def _real_files_or_skip() -> None:
    if all((SYSTEM / f"{name}.gz").is_file() for name in NAMES):
        return
    reason = f"Debian's dataset-fashion-mnist is not installed ({SYSTEM} lacks its four .gz files; apt-get install dataset-fashion-mnist)"
    if os.environ.get("ALI_BENCH_REQUIRE_FASHION_MNIST"):
        pytest.fail(f"ALI_BENCH_REQUIRE_FASHION_MNIST is set (as .ci/run sets it), so this must not skip: {reason}")
    pytest.skip(reason)


def test_the_real_files_are_the_published_data_split_as_the_record_says(tmp_path):
    _real_files_or_skip()
    read = {
        split: images.load_split("fashion_mnist", split, tmp_path, verify=True) for split in ("train", "valid", "test")
    }
    assert {split: len(data) for split, data in read.items()} == {"train": 55_000, "valid": 5_000, "test": 10_000}
    assert read["train"].labels.bincount().min().item() == FASHION_TRAIN_MIN_CLASS
    assert read["test"].labels.bincount().tolist() == [1000] * 10  # the published test set is balanced
    assert read["train"].labels[:10].tolist() == [
        9,
        0,
        0,
        3,
        0,
        2,
        7,
        2,
        5,
        5,
    ]  # ankle boot, T-shirt, T-shirt, dress, ...
    files = images.check_official_files("fashion_mnist", "test", tmp_path, verify=True)
    assert all(f["checked_against_published_md5"] for f in files)


def test_the_real_files_train_a_few_semisup_steps_of_each_model(tmp_path):
    """Reading the real files into the semi-supervised stage and stepping each model: losses finite,
    the result written (a smoke test; learning is guarded on digits)."""
    _real_files_or_skip()
    from ali_bench.semisup import settings as semisup_settings
    from ali_bench.semisup import train as semisup_train

    train = images.load_split("fashion_mnist", "train", tmp_path, verify=True)
    test = images.load_split("fashion_mnist", "test", tmp_path, verify=True)
    unlabelled = images.ImageSplit(train.images[:300], train.labels[:300])
    test = images.ImageSplit(test.images[:100], test.labels[:100])
    for model, nets in (("ali", ""), ("gan-fm", "improved-gan-mlp"), ("supervised", "")):
        settings = semisup_settings.SemisupSettings(
            "fashion_mnist",
            20,
            0,
            1,
            50,
            1e-3,
            0.5,
            0.0,
            0.9,
            0.125,
            "code",
            model,
            gan_fm_nets=nets,
            bn_batches=2,
            bn_batch_size=50,
        )
        out = tmp_path / model
        out.mkdir()
        result = semisup_train.train_semisup(
            settings,
            unlabelled,
            unlabelled,
            test,
            out / "r.json",
            out / "l.csv",
            out / "c.pt",
            torch.device("cpu"),
            progress=False,
        )
        error = result["evaluations"]["averaged"]["recomputed"]["test_error_sampled"]
        assert result["model"] == model and 0.0 <= error <= 1.0, (model, error)


def test_its_l2_svm_table_is_planned_like_the_digits_one_with_its_valid_split_choosing_c(tmp_path):
    """The svm stage comes from its record: features of train, valid and test for the two ALI feature
    sets and raw pixels, one SVM job each reading --valid, and one table rule named after it."""
    config = tmp_path / "fm.yaml"
    config.write_text(
        yaml.safe_dump({"results_dir": "res", "device": "cpu", "images": {"datasets": ["fashion_mnist"]}})
    )
    result = snakemake(
        "-n", "--configfile", str(config), "--directory", str(tmp_path), "res/fashion_mnist_svm_table.csv"
    )
    out = result.stdout + result.stderr
    assert out.count("rule fashion_mnist_svm_table:") == 1 and out.count("rule image_train:") == 1
    assert out.count("rule features:") == 3 * 3  # (paper, released-code, pixels) x (train, valid, test)
    assert out.count("rule svm:") == 3 and out.count("--valid res/features/fashion_mnist/") == 3
    for feature_set in ("paper", "released-code", "pixels"):
        assert f"res/svm/fashion_mnist_{feature_set}.json" in out
