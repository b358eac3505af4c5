"""The image datasets the harness knows: one record each, the one place a dataset is described.

Why one place: a dataset's name used to be checked against eight separate lists (wildcard regexes,
the schema, the stages' lists, the split table, the loader dict, the cache set, the architectures
table, the config's fields), and adding one meant finding them all. Now the stages' dataset lists,
the CLI choices, the workflow's wildcard constraints, the split table, the architectures table,
the downloads and the published checksums and sizes derive from these records; the config schema's
per-dataset enums and blocks, and the typed config's fields, are checked against them by
``tests/data/test_dataset_registry.py`` (a schema is data, and generating it would hide it from users).

Imports no torch: the workflow imports it to build its wildcard constraints. A record names its
reader, one module per format under ``ali_bench/data/`` (imported when a split is read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the stages that take an image dataset; svm: the datasets with an L2-SVM table (features and SVM
# fits themselves run on any image dataset's model)
STAGES = ("images", "svm", "semisup", "conditional")
DOWNLOADS = ("auto", "asked", "none")  # fetched by images.download: auto (and true) / only true / never


@dataclass(frozen=True)
class Dataset:
    name: str
    splits: tuple[str, ...]  # every split a config may name; the first three are train, valid, test
    reader: str  # the module of ali_bench/data/ that reads its format (read, missing_fix; fetch where it downloads)
    image_size: int  # H = W as the networks see the images
    channels: int  # as the networks see them (grey images are replicated to RGB)
    architecture: str  # the module of ali_bench/nets/ whose architecture its image ALI trains
    stages: tuple[str, ...]  # the stages (STAGES) that accept it
    labels: str  # "classes" (one int per image) or "attributes" (a 0/1 vector per image)
    n_labels: int  # classes, or attributes per image
    cached: bool = False  # read from a converted 64×64 cache of its image files (data/cache64.py)
    download: str = "none"  # see DOWNLOADS
    source: str = ""  # where its files come from
    md5: dict[str, str] = field(default_factory=dict)  # official file (relative to the data root) -> published MD5
    sizes: dict[str, int] = field(default_factory=dict)  # split -> published number of examples
    system_package: str = ""  # a folder where a system package puts its files, if one does
    embedded: bool = False  # shipped with a dependency: no files under the data root, no data-stage job
    # the feature splits its L2-SVM protocol reads, with "svm" in stages: (train, test) cuts svm.validation_size
    # rows off train to choose C (the released SVHN script); (train, valid, test) chooses C on valid
    svm_splits: tuple[str, ...] = ()
    # its reconstructions' labels judged by a classifier on 8×8 area-averaged pixels, fit on its train
    # split: only where that judge reads the real images well (digits 98 %, Fashion-MNIST 80 %); it
    # would say little of CIFAR-10 and cost minutes on Tiny ImageNet's 1,000 classes
    label_judge: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.stages) - set(STAGES)
        if ("svm" in self.stages) != bool(self.svm_splits) or not set(self.svm_splits) <= set(self.splits):
            raise ValueError(f"dataset record {self.name!r}: svm_splits {self.svm_splits} with stages {self.stages}; "
                             "expected splits of its own exactly when it has the svm stage")
        if self.label_judge and self.labels != "classes":
            raise ValueError(f"dataset record {self.name!r}: label_judge needs class labels, it has {self.labels}")
        if unknown or self.download not in DOWNLOADS or self.labels not in ("classes", "attributes"):
            raise ValueError(f"dataset record {self.name!r}: stages {self.stages}, download {self.download!r}, labels "
                             f"{self.labels!r}; expected stages among {STAGES}, download among {DOWNLOADS}")


DATASETS = {
    record.name: record
    for record in (
        Dataset(
            "digits",
            splits=("train", "valid", "test"),
            reader="digits",
            image_size=32,
            channels=3,
            architecture="svhn",
            stages=("images", "svm", "semisup", "conditional"),
            labels="classes",
            n_labels=10,
            svm_splits=("train", "valid", "test"),
            label_judge=True,
            source="scikit-learn's bundled 8×8 digits",
            embedded=True,
        ),
        Dataset(
            "svhn",
            splits=("train", "extra", "test"),
            reader="svhn",
            image_size=32,
            channels=3,
            architecture="svhn",
            stages=("images", "svm", "semisup"),
            labels="classes",
            n_labels=10,
            svm_splits=("train", "test"),
            download="auto",
            source="http://ufldl.stanford.edu/housenumbers/",
            md5={
                "svhn/train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
                "svhn/test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
                "svhn/extra_32x32.mat": "a93ce644f1a588dc4d68dda5feec44a7",
            },
            sizes={"train": 73_257, "extra": 531_131, "test": 26_032},
        ),
        Dataset(
            "cifar10",
            splits=("train", "valid", "test", "train_all"),
            reader="cifar10",
            image_size=32,
            channels=3,
            architecture="cifar10",
            stages=("images", "semisup"),
            labels="classes",
            n_labels=10,
            download="auto",
            source="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            md5={
                "cifar-10-batches-py/data_batch_1": "c99cafc152244af753f735de768cd75f",
                "cifar-10-batches-py/data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                "cifar-10-batches-py/data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                "cifar-10-batches-py/data_batch_4": "634d18415352ddfa80567beed471001a",
                "cifar-10-batches-py/data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                "cifar-10-batches-py/test_batch": "40351d587109b95175f43aff81a1287e",
            },
            # train / valid: the released code's [0, 45000) and [45000, 50000) of the training batches
            sizes={"train": 45_000, "valid": 5_000, "test": 10_000, "train_all": 50_000},
        ),
        Dataset(
            "celeba",
            splits=("train", "valid", "test"),
            reader="celeba",
            image_size=64,
            channels=3,
            architecture="celeba",
            stages=("images", "conditional"),
            labels="attributes",
            n_labels=40,
            cached=True,
            download="asked",
            source="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            # the images come in one zip whose checksum says nothing about an extracted folder: the two
            # list files are checked, and they decide which images a split holds
            md5={
                "celeba/list_attr_celeba.txt": "75e246fa4810816ffd6ee81facbd244c",
                "celeba/list_eval_partition.txt": "d32c9cbf5e040fd4025c592c306e6668",
            },
            sizes={"train": 162_770, "valid": 19_867, "test": 19_962},  # the partition list's 0, 1, 2
        ),
        Dataset(
            "fashion_mnist",
            splits=("train", "valid", "test", "train_all"),
            reader="fashion_mnist",
            image_size=32,  # 28×28 zero-padded: the SVHN architecture's input (docs/paper-vs-code.md)
            channels=3,
            architecture="svhn",
            stages=("images", "svm", "semisup", "conditional"),
            labels="classes",
            n_labels=10,
            svm_splits=("train", "valid", "test"),
            label_judge=True,
            download="auto",
            source="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            # of the decompressed IDX files (Debian's package recompressed the published .gz files)
            md5={
                "FashionMNIST/raw/train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                "FashionMNIST/raw/train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
                "FashionMNIST/raw/t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
                "FashionMNIST/raw/t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
            },
            # train / valid: [0, 55000) and [55000, 60000) of the training file
            sizes={"train": 55_000, "valid": 5_000, "test": 10_000, "train_all": 60_000},
            system_package="/usr/share/datasets/fashion-mnist",  # Debian's dataset-fashion-mnist
        ),
        Dataset(
            "tiny_imagenet",
            splits=("train", "valid", "test"),
            reader="tiny_imagenet",
            image_size=64,
            channels=3,
            architecture="tiny_imagenet",
            stages=("images",),
            labels="classes",
            n_labels=1000,
            cached=True,
            source="built by the user from ImageNet (an ImageFolder tree; no download exists)",
        ),
    )
}


def dataset(name: str) -> Dataset:
    """The record of ``name``; an unknown name fails in one line listing the known ones."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]


def accepted_by(stage: str) -> tuple[str, ...]:
    """The datasets ``stage`` accepts, in the registry's order."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    return tuple(name for name, record in DATASETS.items() if stage in record.stages)


def svm_table(name: str) -> str:
    """The file stem of ``name``'s L2-SVM table: SVHN's is the paper's Table 1 (``svhn_table``), every
    other dataset's ``<name>_svm_table``, with a raw-pixel baseline and no paper number."""
    return "svhn_table" if name == "svhn" else f"{name}_svm_table"


def svm_tables() -> dict[str, str]:
    """Table file stem -> dataset, for every dataset with the svm stage (the verdict judges each)."""
    return {svm_table(name): name for name in accepted_by("svm")}


def with_files() -> tuple[str, ...]:
    """The datasets read from files under the data root (all but the embedded digits): the data stage's."""
    return tuple(name for name, record in DATASETS.items() if not record.embedded)


def all_splits() -> tuple[str, ...]:
    """Every split name any dataset has, in first-seen order (the workflow's split constraint)."""
    return tuple(dict.fromkeys(split for record in DATASETS.values() for split in record.splits))


def wildcard(names: tuple[str, ...]) -> str:
    """A Snakemake wildcard constraint matching exactly ``names``."""
    return "|".join(names)
