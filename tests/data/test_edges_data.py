"""Dataset edges: files that are not the published ones, lists that disagree, caches that outlived
their lists, messages that point where nothing is.

Each case is a file a user could really have (a copy cut short, an older list, an edited one), in
the official on-disk format, read the way a command reads it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from ali_bench.data import checksums, cifar10, images, prepare
from ali_bench.data.errors import ChecksumMismatch, DatasetCorrupt, DatasetMissing
from ali_bench.data.images import load_split

from conftest import REPO, run_cli, write_celeba_folder


def _svhn_file(root: Path, split: str = "test", n: int = 5) -> Path:
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    path = root / "svhn" / f"{split}_32x32.mat"
    savemat(path, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": rng.integers(1, 11, (n, 1))})
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _one_line(message: str, *words: str) -> str:
    assert "\n" not in message and all(word in message for word in words), message
    return message


def test_a_command_reading_a_file_that_is_not_the_published_one_refuses_in_one_line(tmp_path):
    """Not only prepare-data: image-train (as features, svm, semisup) reads through the same check."""
    path = _svhn_file(tmp_path, "extra")
    config = json.dumps({"device": "cpu", "images": {"data_root": str(tmp_path), "svhn": {"epochs": 1}}})
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
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    _one_line(
        lines[0], str(path), _md5(path), checksums.KNOWN_MD5["svhn/extra_32x32.mat"], "images.verify_checksums: false"
    )
    assert not (tmp_path / "m.pt").exists()


def test_verify_checksums_false_reads_another_version_and_the_manifest_says_so(tmp_path):
    path = _svhn_file(tmp_path)
    with pytest.raises(ChecksumMismatch):
        load_split("svhn", "test", tmp_path, verify=True)
    assert len(load_split("svhn", "test", tmp_path, verify=False)) == 5
    manifest = prepare.prepare_split("svhn", "test", tmp_path, download=False, verify=False)
    assert manifest["files"] == [
        {
            "path": "svhn/test_32x32.mat",
            "bytes": path.stat().st_size,
            "md5": _md5(path),
            "checked_against_published_md5": False,
        }
    ]


def test_a_published_file_whose_split_has_another_size_is_refused(tmp_path, monkeypatch):
    """The size check stands behind the checksum: a reader that dropped examples would be caught."""
    path = _svhn_file(tmp_path)
    monkeypatch.setitem(checksums.KNOWN_MD5, "svhn/test_32x32.mat", _md5(path))  # as if it were the published file
    with pytest.raises(ChecksumMismatch) as caught:
        load_split("svhn", "test", tmp_path, verify=True)
    _one_line(str(caught.value), "'svhn' split 'test' has 5 examples", "published split has 26,032")


def test_the_published_sizes_are_the_datasets_own():
    """Stated independently of the package: SVHN's page, CIFAR-10's batches, CelebA's partition list."""
    assert {k: v for k, v in checksums.PUBLISHED_SIZES.items() if k[0] == "svhn"} == {
        ("svhn", "train"): 73257,
        ("svhn", "extra"): 531131,
        ("svhn", "test"): 26032,
    }
    assert checksums.PUBLISHED_SIZES[("cifar10", "train")] + checksums.PUBLISHED_SIZES[("cifar10", "valid")] == 50000
    assert sum(v for k, v in checksums.PUBLISHED_SIZES.items() if k[0] == "celeba") == 202599


def test_an_attribute_list_cut_short_is_refused_not_a_smaller_split(tmp_path):
    """Two test images in the partition list, one in the attribute list: before, the test split
    silently held one image."""
    write_celeba_folder(tmp_path)  # partition 0 0 0 1 2 2
    attr = tmp_path / "celeba" / "list_attr_celeba.txt"
    attr.write_text("".join(attr.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("celeba", "test", tmp_path)
    _one_line(str(caught.value), str(attr), "no line for 1 of the partition list's images", "000006.jpg")
    assert not list((tmp_path / "celeba").glob("ali_bench_64/*.npz"))


@pytest.mark.parametrize("which", ["list_attr_celeba.txt", "list_eval_partition.txt"])
def test_an_image_listed_twice_is_refused(tmp_path, which):
    write_celeba_folder(tmp_path)
    path = tmp_path / "celeba" / which
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + [lines[-1]]))
    with pytest.raises(DatasetCorrupt) as caught:
        load_split("celeba", "train", tmp_path)
    _one_line(str(caught.value), str(path), "'000006.jpg' a second time")


def test_a_cache_built_from_other_lists_is_never_read(tmp_path):
    """The 64×64 cache is named by its lists' content: after the partition list changes, the split
    is converted again from the new lists, and a prepared-only job asks for preparation."""
    write_celeba_folder(tmp_path)  # train = images 1-3
    first = load_split("celeba", "train", tmp_path)
    old_cache = images.cache_path("celeba", "train", tmp_path)
    partition = tmp_path / "celeba" / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace("000004.jpg 1", "000004.jpg 0"))  # a valid image joins train
    assert images.cache_path("celeba", "train", tmp_path) != old_cache and old_cache.is_file()
    with pytest.raises(DatasetMissing) as caught:
        load_split("celeba", "train", tmp_path, prepared_only=True)
    _one_line(str(caught.value), "prepare-data --dataset celeba --split train", "--forcerun prepare_data")
    again = load_split("celeba", "train", tmp_path)
    assert len(first) == 3 and len(again) == 4
    assert np.array_equal(again.images[:3].numpy(), first.images.numpy())


def test_a_celeba_image_replaced_after_its_cache_was_built_is_converted_again(tmp_path):
    """A JPEG replaced under its old name once left the cache serving the old pixels: the cache is
    named by each image's size and modification time too, so the replacement is read."""
    import os

    write_celeba_folder(tmp_path)
    first = load_split("celeba", "train", tmp_path)
    old_cache = images.cache_path("celeba", "train", tmp_path)
    image = tmp_path / "celeba" / "img_align_celeba" / "000001.jpg"
    other = tmp_path / "celeba" / "img_align_celeba" / "000002.jpg"
    image.write_bytes(other.read_bytes())  # another face under the first one's name
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 1_000_000_000))
    assert images.cache_path("celeba", "train", tmp_path) != old_cache
    again = load_split("celeba", "train", tmp_path)
    assert not np.array_equal(again.images[0].numpy(), first.images[0].numpy())
    assert np.array_equal(again.images[0].numpy(), first.images[1].numpy())


def test_a_tiny_imagenet_cache_follows_its_image_files(tmp_path):
    folder = tmp_path / "tiny_imagenet" / "valid" / "n01"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(folder / f"{i}.JPEG")
    assert len(load_split("tiny_imagenet", "valid", tmp_path)) == 2
    Image.fromarray(rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(folder / "2.JPEG")
    assert len(load_split("tiny_imagenet", "valid", tmp_path)) == 3


def test_a_missing_file_says_where_to_get_it_in_prepare_data_too(tmp_path):
    """prepare-data's message named a README section 'Data' that does not exist."""
    result = run_cli(
        "prepare-data",
        "--dataset",
        "cifar10",
        "--split",
        "test",
        "--data-root",
        str(tmp_path),
        "--download",
        "false",
        "--out",
        str(tmp_path / "m.json"),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    _one_line(result.stderr.strip(), "cifar-10-batches-py/test_batch' is missing", cifar10.URL, "images.download: true")


def test_every_page_a_message_names_exists():
    """Messages, docstrings and rule comments that send the user to a page (``docs/<page>.md``,
    ``config/README.md``) or to "README, <section>" name a page or heading that exists."""
    headings = {
        line.lstrip("#").strip() for line in (REPO / "README.md").read_text().splitlines() if line.startswith("#")
    }
    sections, pages = set(), set()
    for path in [
        *(REPO / "ali_bench").rglob("*.py"),
        *(REPO / "workflow").rglob("*.smk"),
        *(REPO / "config").glob("*.yaml"),
    ]:
        text = path.read_text()
        sections |= {(path.name, m) for m in re.findall(r'README, "?([A-Z][\w\-–, ]+?)"?[);:.]', text)}
        pages |= {(path.name, m) for m in re.findall(r"\b((?:docs|config)/[\w\-]+\.md)", text)}
    assert pages, "the pattern finds the references (ali_bench/data/images.py names docs/image-models.md)"
    assert {(name, page) for name, page in pages if not (REPO / page).is_file()} == set()
    assert {(name, section) for name, section in sections if not any(h.startswith(section) for h in headings)} == set()
