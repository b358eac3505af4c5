"""The dataset registry (ali_bench/data/registry.py) is the one description of each dataset: what
derives from it agrees with it, and what is written out elsewhere (the config schema, the typed
config, the workflow's rule files) is checked against it here."""

from __future__ import annotations

import dataclasses
import importlib
import re

import pytest
import yaml

from ali_bench import config as typed_config
from ali_bench import trained_with
from ali_bench.data import checksums, images, registry
from ali_bench.data.registry import DATASETS, accepted_by
from ali_bench.verdict import JUDGED_TABLES

from conftest import REPO

SCHEMA = yaml.safe_load((REPO / "ali_bench" / "config.schema.yaml").read_text())["properties"]
SECTION_OF = {
    "images": typed_config.ImagesConfig,
    "semisup": typed_config.SemisupConfig,
    "conditional": typed_config.ConditionalConfig,
}


@pytest.mark.parametrize("stage", sorted(SECTION_OF))
def test_the_schema_lists_and_blocks_each_stages_datasets_as_the_registry_does(stage):
    section = SCHEMA[stage]["properties"]
    names = list(accepted_by(stage))
    assert section["datasets"]["items"]["enum"] == names, f"schema {stage}.datasets enum"
    # the default: the paper's datasets (and the embedded digits); Fashion-MNIST is opted into
    default = section["datasets"]["default"]
    assert default == [name for name in names if name != "fashion_mnist"], f"schema {stage}.datasets default"
    blocks = [key for key in section if key in DATASETS]
    assert blocks == names, f"schema {stage}: one block per dataset the registry gives the stage"


@pytest.mark.parametrize("stage", sorted(SECTION_OF))
def test_the_typed_config_has_one_field_per_dataset_of_the_stage(stage):
    fields = [f.name for f in dataclasses.fields(SECTION_OF[stage]) if f.name in DATASETS]
    assert fields == list(accepted_by(stage))


def test_the_stage_lists_the_split_table_caches_and_downloads_derive_from_the_records():
    assert trained_with.IMAGE_DATASETS == ("digits", "svhn", "cifar10", "celeba", "fashion_mnist", "tiny_imagenet")
    assert trained_with.SEMISUP_DATASETS == ("digits", "svhn", "cifar10", "fashion_mnist")
    assert trained_with.CONDITIONAL_DATASETS == ("digits", "celeba", "fashion_mnist")
    assert accepted_by("svm") == ("digits", "svhn", "fashion_mnist")  # the datasets with an L2-SVM table
    assert registry.svm_tables() == {
        "digits_svm_table": "digits",
        "svhn_table": "svhn",  # the paper's Table 1 keeps its name
        "fashion_mnist_svm_table": "fashion_mnist",
    }
    assert all(table in JUDGED_TABLES for table in registry.svm_tables())
    # reconstructions judged by a pixel classifier where it reads the real images well (not CIFAR-10's)
    assert [name for name, record in DATASETS.items() if record.label_judge] == ["digits", "fashion_mnist"]
    assert images.SPLITS == {name: record.splits for name, record in DATASETS.items()}
    assert images.CACHED == ("celeba", "tiny_imagenet")
    assert images.AUTO_DOWNLOAD == ("svhn", "cifar10", "fashion_mnist")
    assert registry.with_files() == ("svhn", "cifar10", "celeba", "fashion_mnist", "tiny_imagenet")
    assert registry.all_splits() == ("train", "valid", "test", "extra", "train_all")


def test_a_record_has_svm_splits_of_its_own_exactly_when_it_has_the_svm_stage():
    base = dataclasses.asdict(DATASETS["digits"])
    for change in ({"svm_splits": ()}, {"stages": ("images",)}, {"svm_splits": ("train", "extra", "test")}):
        with pytest.raises(ValueError, match="svm_splits"):
            registry.Dataset(**{**base, **change})
    assert DATASETS["svhn"].svm_splits == ("train", "test")  # C is chosen on a cut of train, as released


def test_each_record_names_a_reader_an_architecture_of_its_image_size_and_its_label_count():
    from ali_bench.nets import conditional, image_architecture

    for name, record in DATASETS.items():
        module = images.reader(name)
        assert module.__name__ == f"ali_bench.data.{record.reader}" and callable(module.read), name
        assert record.embedded or callable(module.missing_fix), f"{name}: files without a missing_fix"
        assert hasattr(module, "fetch") == (record.download != "none"), name
        module = importlib.import_module(f"ali_bench.nets.{record.architecture}")
        assert callable(module.architecture), f"{name}: ali_bench.nets.{record.architecture} has no architecture()"
        assert image_architecture(name).image_size == record.image_size, name
        assert record.channels == 3 and set(record.sizes) <= set(record.splits), name
    assert {name: conditional.condition_size(name) for name in accepted_by("conditional")} == {
        "digits": 10,
        "celeba": 40,
        "fashion_mnist": 10,
    }


def test_the_published_checksums_are_exactly_the_files_the_splits_read():
    for name, record in DATASETS.items():
        read = {path for split in record.splits for path in images.official_files(name, split)}
        assert set(record.md5) == read, f"{name}: checksummed files against the files its splits read"
    assert len(checksums.KNOWN_MD5) == sum(len(record.md5) for record in DATASETS.values())


def test_no_rule_file_spells_out_a_list_of_datasets():
    """The wildcard constraints come from the registry: a hand-written alternation of dataset names
    in a rule file would be a second list to keep in step."""
    names = "|".join(DATASETS)
    pattern = re.compile(rf"\b({names})\|({names})\b")
    for path in sorted((REPO / "workflow").rglob("*.smk")) + [REPO / "Snakefile"]:
        found = [line.strip() for line in path.read_text().splitlines() if pattern.search(line)]
        assert found == [], f"{path.relative_to(REPO)} spells out datasets: {found}"


def test_an_unknown_name_or_stage_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'; expected one of digits, svhn, cifar10, celeba"):
        registry.dataset("mnist")
    with pytest.raises(ValueError, match="unknown stage 'toy'"):
        accepted_by("toy")
    with pytest.raises(ValueError, match="dataset record 'x'"):
        registry.Dataset("x", ("train",), "_x", 32, 3, "svhn", ("images", "gan"), "classes", 10)
