"""Each semi-supervised model has one name, from the config to the table row (ali_bench/semisup/models.py)."""

from __future__ import annotations

import pytest

from ali_bench.config import load_config
from ali_bench.config_schema import ConfigError, load_schema
from ali_bench.semisup.models import MODELS, NAMES
from ali_bench.semisup.settings import SemisupSettings, check_result, settings_for
from ali_bench.semisup.table import semisup_table
from ali_bench.trained_with import ModelMismatch
from ali_bench.verdict.comparisons import SEMISUP_JUDGED

from conftest import REPO, run_cli


def test_the_config_and_the_verdict_name_the_registrys_models():
    """The schema's choices for semisup.models, its default, and the models the verdict judges against
    the paper's two numbers are the registry's (the verdict reads tables only, so it holds the name as a constant)."""
    models = load_schema()["properties"]["semisup"]["properties"]["models"]
    assert tuple(models["items"]["enum"]) == NAMES and tuple(models["default"]) == NAMES
    paper_numbers = {name: m.paper_number for name, m in MODELS.items() if m.paper_number}
    assert paper_numbers == {name: ("ali", "gan_fm")[index] for name, index in SEMISUP_JUDGED.items()}
    assert load_config({}).semisup.models == NAMES


def test_the_command_takes_each_model_by_its_name_and_no_other():
    help_text = run_cli("semisup-train", "--help").stdout
    assert all(name in help_text for name in NAMES)
    refused = run_cli(
        "semisup-train",
        "--dataset",
        "digits",
        "--labels",
        "10",
        "--seed",
        "0",
        "--model",
        "ALI K+1",
        "--out",
        "x.json",
        "--log",
        "x.csv",
        check=False,
    )
    assert refused.returncode != 0 and "invalid choice: 'ALI K+1'" in refused.stderr


def test_the_result_and_the_table_row_carry_the_models_name():
    """A run's settings carry the name it was trained under; the table's row is that name."""
    cfg = load_config({})

    def result(seed: int, model: str) -> dict:
        errors = {
            "test_error_sampled": 0.1,
            "test_error_posterior_mean": 0.1,
            "test_error_prior": 0.1,
            "train_error": 0.0,
        }
        stats = {"recomputed": errors, "running": errors}
        return {
            **settings_for(cfg, "digits", 100, seed, model).__dict__,
            "steps_per_epoch": 12,
            "evaluations": {"averaged": stats, "live": stats},
        }

    runs = [result(seed, model) for model in NAMES for seed in (0, 1)]
    assert [r["model"] for r in runs] == [name for name in NAMES for _ in (0, 1)]
    table = semisup_table(runs, "recomputed")
    assert list(table["model"]) == list(NAMES)


def test_an_unknown_model_is_refused_in_one_line():
    with pytest.raises(
        ValueError, match=r"unknown semi-supervised model 'gan'; expected one of ali, supervised, gan-fm"
    ):
        settings_for(load_config({}), "digits", 100, 0, "gan")
    with pytest.raises(ValueError, match=r"unknown semi-supervised model 'ALI K\+1'"):
        SemisupSettings("digits", 10, 0, 1, 4, 3e-4, 0.5, 0.0, 0.9999, 0.125, "code", "ALI K+1")


def test_a_run_of_a_model_the_config_does_not_list_is_refused():
    cfg = load_config({"semisup": {"models": ["ali"]}})
    result = settings_for(load_config({}), "digits", 100, 0, "supervised").__dict__
    with pytest.raises(
        ModelMismatch,
        match=r"'run\.json' is a run of model 'supervised', which config key "
        r"'semisup\.models' \(ali\) does not list",
    ):
        check_result("run.json", result, cfg)


def test_the_removed_baseline_key_says_what_replaced_it():
    with pytest.raises(
        ConfigError,
        match=r"config key 'semisup\.supervised_baseline' is gone: list the models to "
        r"train in 'semisup\.models' instead",
    ):
        load_config({"semisup": {"supervised_baseline": ["digits"]}})


def test_the_workflow_spells_each_model_as_the_registry_does():
    """The rule passes its wildcard to --model unchanged, and the wildcard accepts exactly the registry's names."""
    rules = (REPO / "workflow/rules/semisup.smk").read_text()
    assert "--model {wildcards.model}" in rules and 'model="|".join(SEMISUP_MODELS)' in rules
    assert all(name.replace("-", "").isalnum() and name == name.lower() for name in NAMES)


def test_the_schema_offers_gan_fm_exactly_the_networks_the_code_builds():
    """Each semi-supervised dataset's ``gan_fm_nets`` enum is the nets module's list: no choice the
    schema accepts fails later in the job, and none the code builds is unreachable from a config."""
    from ali_bench.nets.improved_gan import GAN_FM_NETS
    from ali_bench.trained_with import SEMISUP_DATASETS

    semisup = load_schema()["properties"]["semisup"]["properties"]
    for dataset in SEMISUP_DATASETS:
        assert semisup[dataset]["properties"]["gan_fm_nets"]["enum"] == list(GAN_FM_NETS), dataset
