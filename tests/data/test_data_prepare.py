"""Data preparation (ali_bench/data/prepare.py, the workflow's prepare_data jobs): published
checksums checked once, caches converted in several processes, manifests for provenance, and
jobs that read only what was prepared (no download, no conversion)."""

from __future__ import annotations

import fcntl
import hashlib
import json

import numpy as np
import pytest
import torchvision
from scipy.io import savemat

from ali_bench.data import cache64, checksums, images, prepare
from ali_bench.data.images import DatasetCorrupt, DatasetMissing, load_split

from conftest import run_cli, write_celeba_folder


def _svhn_file(root, split="train", n=5):
    (root / "svhn").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    path = root / "svhn" / f"{split}_32x32.mat"
    savemat(path, {"X": rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8), "y": rng.integers(1, 11, (n, 1))})
    return path


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_known_checksums_are_torchvisions():
    """The published MD5s we check are the ones torchvision's downloaders check, file for file.
    Fashion-MNIST's are of its decompressed files, which torchvision does not list (its .gz MD5s
    cannot be used: Debian recompressed the files; tests/data/test_fashion_mnist.py)."""
    expected = {f"svhn/{name}": md5 for _, name, md5 in torchvision.datasets.SVHN.split_list.values()}
    expected |= {
        f"cifar-10-batches-py/{name}": md5
        for name, md5 in torchvision.datasets.CIFAR10.train_list + torchvision.datasets.CIFAR10.test_list
    }
    expected |= {
        f"celeba/{name}": md5
        for _, md5, name in torchvision.datasets.CelebA.file_list
        if name in ("list_attr_celeba.txt", "list_eval_partition.txt")
    }
    assert {path: md5 for path, md5 in checksums.KNOWN_MD5.items() if not path.startswith("FashionMNIST/")} == expected


def test_a_file_that_is_not_the_published_one_is_refused_in_one_line(tmp_path):
    """A hand-placed SVHN file whose MD5 is not the published one: exit 2, one line naming the file."""
    path = _svhn_file(tmp_path)
    result = run_cli(
        "prepare-data",
        "--dataset",
        "svhn",
        "--split",
        "train",
        "--data-root",
        str(tmp_path),
        "--out",
        str(tmp_path / "m.json"),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and checksums.KNOWN_MD5["svhn/train_32x32.mat"] in lines[0], lines
    assert _md5(path) in lines[0] and "download it again" in lines[0]
    assert not (tmp_path / "m.json").exists()


def test_manifest_records_files_and_the_arrays_the_split_holds(tmp_path, monkeypatch):
    path = _svhn_file(tmp_path)
    monkeypatch.setitem(checksums.KNOWN_MD5, "svhn/train_32x32.mat", _md5(path))
    monkeypatch.setitem(checksums.PUBLISHED_SIZES, ("svhn", "train"), 5)
    manifest = prepare.prepare_split("svhn", "train", tmp_path, download=False)
    assert manifest["files"] == [
        {
            "path": "svhn/train_32x32.mat",
            "bytes": path.stat().st_size,
            "md5": _md5(path),
            "checked_against_published_md5": True,
        }
    ]
    split = load_split("svhn", "train", tmp_path)
    assert manifest["examples"] == 5 and manifest["image_shape"] == [3, 32, 32]
    assert manifest["images_sha256"] == hashlib.sha256(split.images.numpy().tobytes()).hexdigest()
    assert manifest["labels_sha256"] == hashlib.sha256(split.labels.numpy().tobytes()).hexdigest()
    # a file changed by one byte after that no longer passes
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetCorrupt, match="MD5"):
        prepare.prepare_split("svhn", "train", tmp_path, download=False)


def test_cache_converted_in_several_processes_is_the_one_converted_in_one(tmp_path, monkeypatch):
    """Parallel conversion (the prepare_data job's --workers) changes nothing but the speed."""
    write_celeba_folder(tmp_path, partition=(0,) * 7 + (1, 2))
    for name in ("list_attr_celeba.txt", "list_eval_partition.txt"):
        monkeypatch.setitem(checksums.KNOWN_MD5, f"celeba/{name}", _md5(tmp_path / "celeba" / name))
    monkeypatch.setitem(checksums.PUBLISHED_SIZES, ("celeba", "train"), 7)
    monkeypatch.setattr(cache64, "CONVERT_CHUNK", 2)  # 7 training images: 4 chunks over 3 processes
    one = prepare.prepare_split("celeba", "train", tmp_path, download=False, workers=1)
    cache = images.cache_path("celeba", "train", tmp_path)
    first = np.load(cache)["images"]
    cache.unlink()
    several = prepare.prepare_split("celeba", "train", tmp_path, download=False, workers=3)
    assert np.array_equal(np.load(cache)["images"], first)
    assert several["images_sha256"] == one["images_sha256"] and several["examples"] == 7
    assert several["cache"]["path"] == str(cache.relative_to(tmp_path))
    assert [f["path"] for f in several["files"]] == ["celeba/list_attr_celeba.txt", "celeba/list_eval_partition.txt"]


def test_jobs_read_only_what_was_prepared(tmp_path, monkeypatch):
    """prepared_only (every workflow job but prepare_data): a missing cache is not converted and a
    missing file is not downloaded; each is one line that says to prepare the data."""
    write_celeba_folder(tmp_path)
    with pytest.raises(DatasetMissing) as caught:
        load_split("celeba", "train", tmp_path, prepared_only=True)
    message = str(caught.value)
    assert "prepare-data --dataset celeba --split train" in message and "\n" not in message
    assert not images.cache_path("celeba", "train", tmp_path).exists()

    def no_network(*args, **kwargs):
        raise AssertionError("a prepared-only read tried to download")

    monkeypatch.setattr(torchvision.datasets, "SVHN", no_network)
    with pytest.raises(DatasetMissing, match="test_32x32.mat"):
        load_split("svhn", "test", tmp_path, download=True, prepared_only=True)
    # once prepared, the same read works
    load_split("celeba", "train", tmp_path, workers=1)
    assert len(load_split("celeba", "train", tmp_path, prepared_only=True)) == 3


def test_download_runs_under_a_lock_the_other_splits_wait_on(tmp_path, monkeypatch):
    """CIFAR-10's train, valid and train_all manifests come from one download: whichever job fetches
    holds the dataset's lock, so a second job cannot download into the same folder at once."""
    seen = []

    def fetch(dataset, split, root):
        with open(root / f".ali_bench_{dataset}.lock", "a") as other:  # another open file: another job
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                seen.append("free")
            except BlockingIOError:
                seen.append("held")
        raise images.DownloadFailed("stop here")

    monkeypatch.setattr(images, "fetch", fetch)
    with pytest.raises(images.DownloadFailed):
        prepare.prepare_split("cifar10", "valid", tmp_path, download=True)
    assert seen == ["held"]


def test_training_provenance_carries_the_manifests(tmp_path):
    """prepare-data writes the digits manifests; a training given them copies them (less the data
    root) into its provenance."""
    outs = [tmp_path / f"{split}.json" for split in ("train", "valid", "test")]
    run_cli("prepare-data", "--dataset", "digits", "--split", "train", "valid", "test", "--out", *map(str, outs))
    manifests = [json.loads(path.read_text()) for path in outs]
    assert [m["examples"] for m in manifests] == [1297, 250, 250]
    record = prepare.provenance_record([outs[0]])
    assert record == [{k: v for k, v in manifests[0].items() if k not in ("format", "data_root")}]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DatasetCorrupt, match="bad.json"):
        prepare.provenance_record([tmp_path / "bad.json"])


@pytest.fixture(scope="module")
def digits_manifests(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifests")
    outs = {split: folder / f"{split}.json" for split in ("train", "valid", "test")}
    run_cli("prepare-data", "--dataset", "digits", "--split", *outs, "--out", *map(str, outs.values()))
    return outs


def _edited(manifest, tmp_path, **changes):
    path = tmp_path / manifest.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**json.loads(manifest.read_text()), **changes}))
    return path


@pytest.mark.parametrize("changes", [{"examples": 1000}, {"images_sha256": "0" * 64}, {"labels_sha256": "f" * 64}])
def test_a_manifest_that_is_not_what_the_split_holds_is_refused(digits_manifests, tmp_path, changes):
    """A manifest edited after preparation (or data replaced under it) names other bytes than the job
    reads: refused in one line naming the manifest and the key, before anything trains."""
    train = load_split("digits", "train", "unused")
    prepare.check_manifests([digits_manifests["train"]], {("digits", "train"): train})  # as written: accepted
    edited = _edited(digits_manifests["train"], tmp_path, **changes)
    key = next(iter(changes))
    with pytest.raises(DatasetCorrupt, match=rf"'{edited}' records {key} .* --forcerun {edited}\)") as caught:
        prepare.check_manifests([edited, digits_manifests["test"]], {("digits", "train"): train})
    assert "\n" not in str(caught.value)
    # a manifest of a split the job did not read is not its business
    prepare.check_manifests([edited], {("digits", "test"): load_split("digits", "test", "unused")})


def test_trainings_check_their_manifests_before_training(digits_manifests, tmp_path):
    """image-train and semisup-train given an edited manifest stop in one line without a model."""
    edited = _edited(digits_manifests["train"], tmp_path, examples=1000)
    config = tmp_path / "config.json"
    tiny = {"epochs": 1, "width": 0.125}  # without the check, each would train for seconds and write its model
    config.write_text(json.dumps({"device": "cpu", "images": {"digits": tiny}, "semisup": {"digits": tiny}}))
    common = ["--config", str(config), "--dataset", "digits", "--no-progress", "--threads", "1"]
    runs = {
        "image-train": ["image-train", *common, "--log", str(tmp_path / "i.csv")],
        "semisup-train": [
            "semisup-train",
            *common,
            "--labels",
            "100",
            "--seed",
            "0",
            "--model",
            "ali",
            "--log",
            str(tmp_path / "s.csv"),
        ],
    }
    for name, args in runs.items():
        out = tmp_path / f"{name}.out"
        result = run_cli(*args, "--out", str(out), "--data-manifest", str(edited), check=False)
        assert result.returncode != 0 and not out.exists(), (name, result.stderr)
        assert f"'{edited}' records examples 1000" in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)


def test_features_and_figures_check_their_manifests_before_writing(digits_manifests, tmp_path):
    """The jobs that read a split without training on it (features, image-figures, conditional-figure)
    compare it with its manifest too, so a 64x64 cache or a data file replaced after preparation
    cannot reach an SVM or a figure unnoticed: an edited manifest stops each in one line, nothing written."""
    tiny = {"epochs": 1, "width": 0.125}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"device": "cpu", "images": {"digits": tiny}, "conditional": {"digits": tiny}}))
    models = {}
    for kind, extra in (("plain", []), ("conditional", ["--conditional"])):
        models[kind] = tmp_path / f"{kind}.pt"
        run_cli(
            "image-train", "--config", str(config), "--dataset", "digits", "--no-progress", "--threads", "1",
            *extra, "--out", str(models[kind]), "--log", str(tmp_path / f"{kind}.csv"),
        )  # fmt: skip
    edited = {split: _edited(digits_manifests[split], tmp_path / split, examples=1000) for split in ("train", "valid")}
    out = tmp_path / "out"
    runs = {
        "features": ["features", "--dataset", "digits", "--split", "valid", "--feature-set", "pixels",
                     "--out", str(out / "f.npy"), "--out-labels", str(out / "l.npy"),
                     "--data-manifest", str(digits_manifests["test"]), str(edited["valid"])],
        "image-figures": ["image-figures", "--models", str(models["plain"]), "--out-samples", str(out / "s.png"),
                          "--out-reconstructions", str(out / "r.png"), "--out-interpolations", str(out / "i.png"),
                          "--out-metrics", str(out / "m.json"), "--data-manifest", str(edited["valid"])],
        "conditional-figure": ["conditional-figure", "--models", str(models["conditional"]), "--out",
                               str(out / "c.png"), "--out-metrics", str(out / "c.json"),
                               "--data-manifest", str(edited["train"])],
    }  # fmt: skip
    for name, args in runs.items():
        result = run_cli(*args, "--config", str(config), check=False)
        assert result.returncode != 0, (name, result.stderr)
        assert "records examples 1000" in result.stderr and len(result.stderr.strip().splitlines()) == 1, (
            name,
            result.stderr,
        )
        assert not out.exists() or not any(out.iterdir()), (name, sorted(out.iterdir()))
    # as prepared, each is accepted: here the pixel features, which need no model
    valid = ["--data-manifest", str(digits_manifests["valid"])]
    run_cli(*runs["features"][: runs["features"].index("--data-manifest")], *valid, "--config", str(config))
    assert (out / "f.npy").is_file()
