"""Bad dataset files and failed downloads are one line naming the file (or URL) and the fix.

Each case writes a bad file in the place a real one goes (or blocks the network the way a machine
without internet does) and loads it through ``load_split``, as training does; one case goes
through the CLI to show the exit status and that stderr is a single line.
"""

import json
import pickle
import urllib.error
import urllib.request

import numpy as np
import pytest
from scipy.io import savemat

from ali_bench.data.images import DatasetCorrupt, DownloadFailed, load_split

from conftest import run_cli, write_celeba_folder


def _one_line_naming(error: Exception, name: str) -> str:
    message = str(error)
    assert "\n" not in message and name in message, message
    return message


def _svhn_folder(tmp_path):
    folder = tmp_path / "svhn"
    folder.mkdir()
    return folder


def test_truncated_svhn_mat_is_named(tmp_path):
    folder = _svhn_folder(tmp_path)
    x = np.random.default_rng(0).integers(0, 256, size=(32, 32, 3, 50), dtype=np.uint8)
    savemat(folder / "test_32x32.mat", {"X": x, "y": np.ones((50, 1), np.uint8)})
    whole = (folder / "test_32x32.mat").read_bytes()
    (folder / "test_32x32.mat").write_bytes(whole[: len(whole) // 2])  # a download cut short
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("svhn", "test", tmp_path)
    assert "download" in _one_line_naming(caught.value, "test_32x32.mat")


def test_garbage_svhn_mat_is_named(tmp_path):
    (_svhn_folder(tmp_path) / "train_32x32.mat").write_bytes(b"<html>404 not found</html>" * 10)
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("svhn", "train", tmp_path)
    _one_line_naming(caught.value, "train_32x32.mat")


def test_svhn_mat_with_wrong_content_is_named(tmp_path):
    folder = _svhn_folder(tmp_path)
    savemat(folder / "extra_32x32.mat", {"X": np.zeros((28, 28, 1, 4), np.uint8), "y": np.ones((4, 1), np.uint8)})
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("svhn", "extra", tmp_path)
    assert "(32, 32, 3, N)" in _one_line_naming(caught.value, "extra_32x32.mat")
    savemat(folder / "extra_32x32.mat", {"images": np.zeros((32, 32, 3, 4), np.uint8)})
    with pytest.raises(DatasetCorrupt, match="expected X and y"):
        load_split("svhn", "extra", tmp_path)


def _cifar_folder(tmp_path, bad_name: str, content) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    good = {"labels": [0, 1], "data": np.zeros((2, 3072), np.uint8)}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as handle:
            pickle.dump(good, handle, protocol=2)
    if isinstance(content, bytes):
        (folder / bad_name).write_bytes(content)
    else:
        with open(folder / bad_name, "wb") as handle:
            pickle.dump(content, handle, protocol=2)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\x00\x01garbage, not a pickle", "python batch"),
        (
            {"labels": [0, 1, 2], "data": np.zeros((2, 3072), np.uint8)},
            "(N, 3072) and (N,)",
        ),  # labels and rows disagree
        ({"labels": [0, 1], "data": np.zeros((2, 1024), np.uint8)}, "(N, 3072) and (N,)"),  # grey 32×32
        ([1, 2, 3], "without 'data' and 'labels'"),
    ],
)
def test_bad_cifar_batch_is_named(tmp_path, content, words):
    _cifar_folder(tmp_path, "data_batch_3", content)
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("cifar10", "train", tmp_path)
    assert words in _one_line_naming(caught.value, "data_batch_3")


def test_truncated_celeba_jpeg_is_named(tmp_path):
    write_celeba_folder(tmp_path)
    jpeg = tmp_path / "celeba" / "img_align_celeba" / "000002.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[:400])
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("celeba", "train", tmp_path)
    _one_line_naming(caught.value, "000002.jpg")
    assert not (tmp_path / "celeba" / "ali_bench_64").exists() or not any(
        (tmp_path / "celeba" / "ali_bench_64").iterdir()
    )


def test_bad_celeba_lists_are_named(tmp_path):
    write_celeba_folder(tmp_path)
    attributes = tmp_path / "celeba" / "list_attr_celeba.txt"
    lines = attributes.read_text().splitlines()
    attributes.write_text("\n".join(lines[:3] + [lines[3][:30]] + lines[4:]) + "\n")  # a row cut mid-way
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("celeba", "train", tmp_path)
    assert "line 4" in _one_line_naming(caught.value, "list_attr_celeba.txt")
    attributes.write_text("\n".join(lines) + "\n")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with pytest.raises(DatasetCorrupt, match="line 2"):
        load_split("celeba", "train", tmp_path)


def test_broken_image_cache_is_named_with_the_fix(tmp_path):
    write_celeba_folder(tmp_path)
    load_split("celeba", "valid", tmp_path)  # converts and caches
    cache = next((tmp_path / "celeba" / "ali_bench_64").glob("valid_*.npz"))
    cache.write_bytes(cache.read_bytes()[:100])
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("celeba", "valid", tmp_path)
    assert "delete it" in _one_line_naming(caught.value, cache.name)


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_svhn_download_without_network_names_the_url_and_the_manual_route(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    with pytest.raises(DownloadFailed) as caught:
        load_split("svhn", "test", tmp_path, download=True)
    message = _one_line_naming(caught.value, "http://ufldl.stanford.edu/housenumbers/test_32x32.mat")
    assert "name resolution" in message and str(tmp_path / "svhn") in message and "images.download: false" in message


def test_cifar10_download_without_network_names_the_url(tmp_path, monkeypatch):
    _no_network(monkeypatch)
    with pytest.raises(DownloadFailed) as caught:
        load_split("cifar10", "test", tmp_path, download=True)
    assert "cifar-10-batches-py" in _one_line_naming(
        caught.value, "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    )


def test_celeba_download_without_gdown_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "gdown", None)  # as on a machine without it
    with pytest.raises(DownloadFailed) as caught:
        load_split("celeba", "train", tmp_path, download=True)
    assert "ali-bench[celeba]" in _one_line_naming(caught.value, "gdown")


def test_cli_names_the_corrupt_file_in_one_line(tmp_path):
    (_svhn_folder(tmp_path) / "extra_32x32.mat").write_bytes(b"not a mat file")
    config = json.dumps({"images": {"data_root": str(tmp_path), "svhn": {"epochs": 1}}})
    result = run_cli(
        "image-train",
        "--config-json",
        config,
        "--dataset",
        "svhn",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
        "--no-progress",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "extra_32x32.mat" in lines[0] and "Traceback" not in result.stderr, result.stderr
