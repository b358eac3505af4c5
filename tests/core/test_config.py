import dataclasses
import typing

import pytest
import yaml

from ali_bench.config import Config, ConfigError, load_config
from ali_bench.config_schema import load_schema, validate

from conftest import REPO


def test_empty_config_gets_every_default_from_the_schema():
    cfg = load_config({})
    assert cfg.toy.training.epochs == 200
    assert cfg.toy.mixture.grid == (-4.0, -2.0, 0.0, 2.0, 4.0)
    assert cfg.toy.released.beta1 == 0.2  # Blocks-2016 beta1 0.8 in PyTorch convention
    assert cfg.toy.random_search.lr.log is True


@pytest.mark.parametrize("path", ["config/config.yaml", "config/quick.yaml"])
def test_shipped_configs_are_valid(path):
    cfg = load_config(REPO / path)
    assert cfg.toy.seeds


def test_paper_config_holds_the_paper_and_released_code_values():
    toy = load_config(REPO / "config/config.yaml").toy
    assert len(toy.seeds) == 10 and toy.mixture.n_train == 100_000 and toy.mixture.n_test == 10_000
    assert toy.mixture.std == 0.05 and len(toy.mixture.grid) ** 2 == 25
    assert toy.network.encoder_hidden == (400, 400) and toy.network.decoder_hidden == (400,) * 4
    assert (toy.network.discriminator_units, toy.network.discriminator_layers, toy.network.maxout_pieces) == (200, 3, 5)
    assert (toy.training.batch_size, toy.training.epochs) == (100, 200)
    assert (toy.released.lr, toy.released.beta1, toy.released.init_std) == (
        1e-4,
        0.2,
        0.02,
    )  # beta1: Blocks-2016 0.8, PyTorch convention
    assert toy.coverage.n_samples == 10_000


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"toy": {"trainig": {}}}, "toy.trainig"),
        ({"toy": {"training": {"epochs": "ten"}}}, "toy.training.epochs"),
        ({"toy": {"training": {"epochs": -3}}}, "toy.training.epochs"),
        ({"toy": {"mixture": {"std": 0}}}, "toy.mixture.std"),
        ({"device": "tpu"}, "device"),
        ({"toy": {"random_search": {"lr": {"low": 1.0, "high": 0.1}}}}, "toy.random_search.lr"),
        ({"toy": {"mixture": {"n_train": 50}}}, "toy.mixture.n_train"),
        ({"toy": {"seeds": [1, 1]}}, "toy.seeds"),
        ({"svm": {"digits_labels_per_class": 500}}, "svm.digits_labels_per_class"),
        ({"semisup": {"cifar10": {"labels": [60000]}}}, "semisup.cifar10.labels"),
        ({"semisup": {"digits": {"labels": [2000]}}}, "semisup.digits.labels"),
        ({"semisup": {"svhn": {"labels": [1005]}}}, "semisup.svhn.labels"),
        (
            {"toy_inference": {"select_from": "released"}, "toy": {"hyperparameter_sets": ["random"]}},
            "toy_inference.select_from",
        ),
    ],
)
def test_bad_config_fails_with_one_line_naming_the_key(raw, key):
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert f"'{key}" in message


def test_config_file_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def _schema_keys(schema: dict, root: dict) -> dict:
    out = {}
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = root["definitions"][sub["$ref"].split("/")[-1]]
        out[name] = _schema_keys(sub, root) if sub.get("type") == "object" else None
    return out


def _dataclass_keys(cls) -> dict:
    hints = typing.get_type_hints(cls)
    return {
        f.name: _dataclass_keys(hints[f.name]) if dataclasses.is_dataclass(hints[f.name]) else None
        for f in dataclasses.fields(cls)
    }


def test_schema_and_dataclasses_name_the_same_keys():
    schema = load_schema()
    assert _schema_keys(schema, schema) == _dataclass_keys(Config)


def test_workflow_schema_is_the_package_schema():
    assert yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text()) == load_schema()


def test_validate_does_not_mutate_its_input():
    raw = {"toy": {}}
    validate(raw)
    assert raw == {"toy": {}}


def test_digits_label_bound_is_the_rarest_digit_of_the_train_split():
    from ali_bench.config import DIGITS_TRAIN_MIN_CLASS
    from ali_bench.data.images import load_split

    assert load_split("digits", "train", "unused").labels.bincount().min().item() == DIGITS_TRAIN_MIN_CLASS


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty"),
        (b"# only a comment\n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not UTF-8 text"),
    ],
)
def test_empty_comment_only_or_binary_config_files_are_refused_in_one_line(tmp_path, content, expected):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "argument, key, fix",
    [
        ("cuda_graphs=false", "cuda_graphs", "write cuda_graphs=False"),
        ("deterministic=yes", "deterministic", "write deterministic=True"),
        ("toy={training: {epochs: 20}}", "toy.training.epochs", "put the value in a --configfile"),
        ("toy={released: {lr: 1e-4}}", "toy.released.lr", "put the value in a --configfile"),
    ],
)
def test_a_command_line_value_that_snakemake_left_a_string_says_how_to_write_it(argument, key, fix):
    from snakemake.cli import parse_config  # what `snakemake --config ARGUMENT` hands the workflow

    with pytest.raises(ConfigError) as caught:
        validate(parse_config([argument]))
    message = str(caught.value)
    assert "\n" not in message and f"'{key}'" in message and message.endswith(f"{fix})")


def test_the_written_fix_is_accepted_and_a_typo_gets_no_command_line_hint():
    from snakemake.cli import parse_config

    assert validate(parse_config(["cuda_graphs=False"]))["cuda_graphs"] is False
    with pytest.raises(ConfigError) as caught:
        validate({"toy": {"training": {"epochs": "ten"}}})
    assert "--config" not in str(caught.value)
