"""The dataset loaders on tiny files written in each dataset's exact on-disk format."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.io import savemat

from ali_bench.data import images
from ali_bench.data.celeba import to_64 as celeba_64
from ali_bench.data.images import DatasetMissing, load_split

from conftest import write_celeba_folder


def test_svhn_mat_files(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "svhn"
    folder.mkdir()
    x = rng.integers(0, 256, size=(32, 32, 3, 7), dtype=np.uint8)  # (H, W, C, N) as the .mat stores it
    y = np.array([[10], [1], [2], [10], [9], [5], [3]], dtype=np.uint8)
    savemat(folder / "extra_32x32.mat", {"X": x, "y": y})
    split = load_split("svhn", "extra", tmp_path)
    assert split.images.shape == (7, 3, 32, 32) and split.images.dtype == torch.uint8
    assert split.labels.tolist() == [0, 1, 2, 0, 9, 5, 3]  # 10 means the digit 0
    # pixel (row 4, column 9) of channel 1 of image 2 survives the (N, C, H, W) transpose
    assert split.images[2, 1, 4, 9].item() == x[4, 9, 1, 2]


def test_svhn_missing_file_names_it_and_the_download_switch(tmp_path):
    with pytest.raises(DatasetMissing) as caught:
        load_split("svhn", "test", tmp_path)
    message = str(caught.value)
    assert "test_32x32.mat" in message and "images.download" in message and "\n" not in message


def _cifar_batch(path, n, offset):
    data = np.arange(n * 3072, dtype=np.int64).reshape(n, 3072) % 251
    data[:, 0] = np.arange(offset, offset + n) % 256  # a marker: first red pixel = global index
    labels = [int(i % 10) for i in range(offset, offset + n)]
    with open(path, "wb") as handle:
        pickle.dump(
            {"batch_label": "x", "labels": labels, "data": data.astype(np.uint8), "filenames": ["f"] * n},
            handle,
            protocol=2,
        )


def test_cifar10_batches_test_split_and_all_training_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", 20, (i - 1) * 20)
    _cifar_batch(folder / "test_batch", 20, 0)
    test, everything = load_split("cifar10", "test", tmp_path), load_split("cifar10", "train_all", tmp_path)
    assert test.images.shape == (20, 3, 32, 32) and len(everything) == 100
    assert everything.images[57, 0, 0, 0].item() == 57 and everything.labels[57].item() == 7  # batch order kept
    # the flat 3072 vector is (channel, row, column): element 1 is channel 0, row 0, column 1
    assert test.images[3, 0, 0, 1].item() == (3 * 3072 + 1) % 251


def test_cifar10_train_valid_boundary_is_45000(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        _cifar_batch(folder / f"data_batch_{i}", 10000, (i - 1) * 10000)
    train, valid = load_split("cifar10", "train", tmp_path), load_split("cifar10", "valid", tmp_path)
    assert len(train) == 45000 and len(valid) == 5000
    assert valid.images[0, 0, 0, 0].item() == 45000 % 256 and valid.labels[0].item() == 45000 % 10


def test_celeba_folder_partition_attributes_and_64x64(tmp_path):
    attrs, _ = write_celeba_folder(tmp_path)
    train, valid, test = (load_split("celeba", s, tmp_path) for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (3, 1, 2)
    assert train.images.shape == (3, 3, 64, 64) and train.images.dtype == torch.uint8
    assert train.labels.shape == (3, 40) and set(train.labels.unique().tolist()) <= {0, 1}
    np.testing.assert_array_equal(test.labels.numpy(), (attrs[4:] + 1) // 2)
    cache = images.cache_path("celeba", "train", tmp_path)
    assert cache.is_file() and cache.name.startswith("train_lanczos_")  # converted once, then cached


def test_celeba_crop_keeps_rows_7_to_70_of_the_64x78_resize():
    column = np.repeat(np.arange(218, dtype=np.uint8)[:, None], 178, axis=1)  # brightness = row index
    image = Image.fromarray(np.stack([column] * 3, axis=-1))
    out = celeba_64(image)
    assert out.shape == (3, 64, 64)
    # row r of the 78-high resize samples source row ~ (r + 0.5) * 218 / 78; rows 7 and 70 are kept
    assert abs(int(out[0, 0, 32]) - (7.5 * 218 / 78)) < 3 and abs(int(out[0, 63, 32]) - (70.5 * 218 / 78)) < 3


def _lanczos_resize_1d(row: np.ndarray, out_size: int) -> np.ndarray:
    """A 1-D reduction with a 3-lobe Lanczos filter stretched by the scale factor (what PIL's
    ANTIALIAS/LANCZOS does), written out here from the filter's definition."""
    scale = len(row) / out_size
    out = np.empty(out_size)
    for i in range(out_size):
        centre = (i + 0.5) * scale
        taps = np.arange(max(int(centre - 3 * scale + 0.5), 0), min(int(centre + 3 * scale + 0.5), len(row)))
        t = (taps + 0.5 - centre) / scale
        weights = np.sinc(t) * np.sinc(t / 3) * (np.abs(t) < 3)
        out[i] = (weights * row[taps]).sum() / weights.sum()
    return np.clip(np.round(out), 0, 255)


def test_celeba_resize_is_fuels_lanczos_not_bicubic():
    """Fuel's converter resizes with Image.ANTIALIAS (= Lanczos). Columns of random brightness (rows all
    alike) make the horizontal 178 -> 64 reduction the whole test: Lanczos matches the filter written
    out above to rounding; bicubic misses it by many grey levels."""
    row = np.random.default_rng(0).integers(0, 256, 178).astype(np.uint8)
    image = Image.fromarray(np.stack([np.tile(row, (218, 1))] * 3, axis=-1))
    expected = _lanczos_resize_1d(row.astype(np.float64), 64)
    got = celeba_64(image)[0, 30].astype(np.float64)
    assert np.abs(got - expected).max() <= 1
    bicubic = np.asarray(image.resize((64, 78), Image.Resampling.BICUBIC), dtype=np.float64)[37, :, 0]
    assert np.abs(bicubic - expected).max() > 5  # the check above would catch a bicubic resize


def test_celeba_missing_lists_name_the_file(tmp_path):
    (tmp_path / "celeba").mkdir()
    with pytest.raises(DatasetMissing, match=r"celeba/list_(attr_celeba|eval_partition)\.txt' is missing"):
        load_split("celeba", "train", tmp_path)


def test_tiny_imagenet_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, size in (("n01", (80, 100)), ("n02", (120, 64))):
        folder = tmp_path / "tiny_imagenet" / "valid" / cls
        folder.mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.JPEG")
    split = load_split("tiny_imagenet", "valid", tmp_path)
    assert split.images.shape == (4, 3, 64, 64) and split.labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(DatasetMissing, match="tiny_imagenet/train"):
        load_split("tiny_imagenet", "train", tmp_path)


def test_digits_are_svhn_shaped_with_a_fixed_split():
    train, valid, test = (load_split("digits", s, "unused") for s in ("train", "valid", "test"))
    assert (len(train), len(valid), len(test)) == (1297, 250, 250)
    assert train.images.shape == (1297, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.images.min() >= 25 and train.images.max() <= 230  # [0.1, 0.9] grey range
    assert torch.equal(train.images[:, 0], train.images[:, 2])
    assert sorted(torch.cat([train.labels, valid.labels, test.labels]).bincount().tolist())[0] > 170
    assert torch.equal(load_split("digits", "train", "unused").images, train.images)


def test_unknown_split_is_refused():
    with pytest.raises(ValueError, match="no split 'extra'"):
        load_split("cifar10", "extra", "data")


def test_celeba_attribute_header_must_be_the_standard_one(tmp_path):
    write_celeba_folder(tmp_path)
    path = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[1] = " ".join(reversed(lines[1].split()))
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="usual order"):
        load_split("celeba", "train", tmp_path)
