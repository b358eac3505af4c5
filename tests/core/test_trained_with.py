"""No model from another configuration is used silently: every consumer of a trained file checks
the settings it was trained with against its own config, and refuses a mismatch in one line naming
the file and the first differing key (``ali_bench/trained_with.py``)."""

import json
from dataclasses import replace

import pytest
import torch
import yaml

from ali_bench import sidecar_digest, trained_with
from ali_bench.config import load_config
from ali_bench.trained_with import ModelMismatch, first_difference

from conftest import TINY_INFERENCE, TINY_TOY, run_cli


def test_first_difference_names_the_first_differing_dotted_key():
    trained = {"mixture": {"std": 0.05, "grid": [-4, 4]}, "seeds": (0, 1)}
    assert first_difference(trained, {"mixture": {"std": 0.05, "grid": (-4, 4)}, "seeds": [0, 1]}) is None
    assert first_difference(trained, {"mixture": {"std": 0.1, "grid": [-4, 4]}, "seeds": [0, 1, 2]}) == (
        "mixture.std",
        0.05,
        0.1,
    )
    key, _, missing = first_difference({"a": 1}, {})
    assert key == "a" and type(missing) is object


def test_training_views_leave_out_what_no_training_reads():
    toy = load_config({}).toy
    from ali_bench.config import as_dict

    view = trained_with.toy_training(as_dict(toy), "released")
    assert "coverage" not in view and "hyperparameter_sets" not in view and "random_search" not in view
    assert view["released"] == as_dict(toy)["released"] and view["training"]["epochs"] == toy.training.epochs
    images = trained_with.images_training(as_dict(load_config({}).images), "svhn")
    assert set(images) >= {"svhn", "variant", "seed"} and not {
        "digits",
        "figures",
        "data_root",
        "download",
        "verify_checksums",
    } & set(images)
    assert "valid_split" not in images["svhn"] and "cifar10_dx_biases" not in images


def _toy_config(tmp_path, **toy):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "device": "cpu",
                "toy": {**TINY_TOY, "hyperparameter_sets": ["random"], **toy},
                "toy_inference": {**TINY_INFERENCE, "select_from": "random"},
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def toy_models(tmp_path_factory):
    """Tiny toy runs of the random set (seeds 0 and 1), trained through the CLI as the workflow does."""
    folder = tmp_path_factory.mktemp("toy_models")
    run_cli(
        "toy-train",
        "--config",
        str(_toy_config(folder)),
        "--hyperparameters",
        "random",
        "--no-progress",
        "--out",
        str(folder / "models.pt"),
        "--log",
        str(folder / "log.csv"),
    )
    return folder / "models.pt"


@pytest.mark.parametrize(
    "toy, key",
    [({"seeds": [0, 1, 2]}, "toy.seeds"), ({"mixture": {**TINY_TOY["mixture"], "std": 0.1}}, "toy.mixture.std")],
)
def test_toy_evaluation_refuses_models_trained_with_other_settings(tmp_path, toy_models, toy, key):
    result = run_cli(
        "toy-evaluate",
        "--config",
        str(_toy_config(tmp_path, **toy)),
        "--models",
        str(toy_models),
        "--out-coverage",
        str(tmp_path / "coverage.csv"),
        "--out-samples",
        str(tmp_path / "s.npz"),
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(toy_models) in lines[0] and f"trained with {key} = " in lines[0], result.stderr
    assert not (tmp_path / "coverage.csv").exists()


def test_toy_provenance_is_what_the_models_file_was_trained_with(tmp_path, toy_models):
    run_cli(
        "toy-evaluate",
        "--config",
        str(_toy_config(tmp_path, coverage={"n_samples": 300})),
        "--models",
        str(toy_models),
        "--out-coverage",
        str(tmp_path / "coverage.csv"),
        "--out-samples",
        str(tmp_path / "s.npz"),
    )
    record = json.loads((tmp_path / "coverage.provenance.json").read_text())
    trained = torch.load(toy_models, weights_only=False)["config"]
    assert record["config"]["trained"]["random"]["mixture"] == trained["mixture"] and record["seeds"] == [0, 1]
    assert record["config"]["coverage"]["n_samples"] == 300  # evaluation settings beside them


def test_toy_inference_refuses_a_method_trained_with_other_settings(tmp_path, toy_models):
    from ali_bench.toy_inference.train import check_method, train_method

    cfg = load_config(
        {
            "device": "cpu",
            "toy": {**TINY_TOY, "hyperparameter_sets": ["random"]},
            "toy_inference": {**TINY_INFERENCE, "select_from": "random", "epochs": 1},
        }
    )
    selection = {"ali": {"run": "ali-random-seed0"}, "gan": {"run": "gan-random-seed1"}}
    payload = train_method(
        "inverse",
        cfg.toy,
        cfg.toy_inference,
        selection,
        toy_models,
        tmp_path / "inverse.pt",
        tmp_path / "log.csv",
        tmp_path / "ck.pt",
        torch.device("cpu"),
        "cpu",
        cfg.batchnorm,
        progress=False,
    )
    check_method("inverse.pt", payload, cfg.toy, cfg.toy_inference, selection, cfg.batchnorm)  # its own config passes
    cases = [
        (cfg.toy, replace(cfg.toy_inference, lr=1e-3), selection, cfg.batchnorm, "toy_inference.lr"),
        (cfg.toy, cfg.toy_inference, {**selection, "gan": {"run": "gan-random-seed0"}}, cfg.batchnorm, "selection.gan"),
        (cfg.toy, cfg.toy_inference, selection, replace(cfg.batchnorm, statistics="running"), "batchnorm.statistics"),
        (replace(cfg.toy, seeds=(0, 1, 2)), cfg.toy_inference, selection, cfg.batchnorm, "toy.seeds"),
    ]
    for toy, settings, chosen, bn, key in cases:
        with pytest.raises(ModelMismatch, match=f"'inverse.pt' was trained with {key.replace('.', '[.]')} = "):
            check_method("inverse.pt", payload, toy, settings, chosen, bn)
    # evaluation-only settings are not compared
    check_method("inverse.pt", payload, cfg.toy, replace(cfg.toy_inference, mmd_samples=7), selection, cfg.batchnorm)


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits_models")
    config = folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "device": "cpu",
                "images": {"digits": {"epochs": 1, "width": 0.125}},
                "conditional": {"digits": {"epochs": 1, "width": 0.125}},
            }
        )
    )
    for extra, name in (((), "models.pt"), (("--conditional",), "conditional.pt")):
        run_cli(
            "image-train",
            "--config",
            str(config),
            "--dataset",
            "digits",
            *extra,
            "--no-progress",
            "--out",
            str(folder / name),
            "--log",
            str(folder / f"{name}.csv"),
        )
    return folder


def _image_config(tmp_path, images=None, conditional=None, batchnorm=None):
    path = tmp_path / "asked.yaml"
    digits = {"epochs": 1, "width": 0.125}
    path.write_text(
        yaml.safe_dump(
            {
                "device": "cpu",
                "images": {**(images or {}), "digits": {**digits, **(images or {}).get("digits", {})}},
                "conditional": {**(conditional or {}), "digits": {**digits, **(conditional or {}).get("digits", {})}},
                "batchnorm": batchnorm or {},
            }
        )
    )
    return path


def _refused(result, path, key):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"'{path}' was trained with {key} = " in lines[0], result.stderr


@pytest.mark.parametrize(
    "asked, key",
    [
        ({"images": {"digits": {"epochs": 2}}}, "images.digits.epochs"),
        ({"images": {"seed": 3}}, "images.seed"),
        ({"batchnorm": {"batches": 4}}, "batchnorm.batches"),
    ],
)
def test_image_figures_and_features_refuse_a_model_trained_with_other_settings(tmp_path, digits_models, asked, key):
    models = digits_models / "models.pt"
    config = str(_image_config(tmp_path, **asked))
    figures = run_cli(
        "image-figures",
        "--config",
        config,
        "--models",
        str(models),
        "--out-samples",
        str(tmp_path / "s.png"),
        "--out-reconstructions",
        str(tmp_path / "r.png"),
        "--out-interpolations",
        str(tmp_path / "i.png"),
        check=False,
    )
    _refused(figures, models, key)
    features = run_cli(
        "features",
        "--config",
        config,
        "--dataset",
        "digits",
        "--split",
        "test",
        "--feature-set",
        "paper",
        "--models",
        str(models),
        "--out",
        str(tmp_path / "f.npy"),
        "--out-labels",
        str(tmp_path / "l.npy"),
        check=False,
    )
    _refused(features, models, key)


def test_image_consumers_accept_evaluation_only_changes_and_the_conditional_model_is_checked(tmp_path, digits_models):
    config = _image_config(
        tmp_path,
        images={"figures": {"interpolation_pairs": 2}, "data_root": "elsewhere", "digits": {"valid_split": "test"}},
        batchnorm={"statistics": "running"},
    )
    run_cli(
        "image-figures",
        "--config",
        str(config),
        "--models",
        str(digits_models / "models.pt"),
        "--out-samples",
        str(tmp_path / "s.png"),
        "--out-reconstructions",
        str(tmp_path / "r.png"),
        "--out-interpolations",
        str(tmp_path / "i.png"),
    )
    conditional = digits_models / "conditional.pt"
    result = run_cli(
        "conditional-figure",
        "--config",
        str(_image_config(tmp_path, conditional={"embedding": "trained"})),
        "--models",
        str(conditional),
        "--out",
        str(tmp_path / "c.png"),
        check=False,
    )
    _refused(result, conditional, "conditional.embedding")


def test_semisup_table_refuses_a_run_from_another_configuration(tmp_path):
    from ali_bench.semisup.settings import check_result, settings_for

    cfg = load_config({})
    result = settings_for(cfg, "digits", 100, 0, "ali").__dict__
    check_result("run.json", result, cfg)
    for key, value, name in (
        ("epochs", 1, "semisup.digits.epochs"),
        ("ema_decay", 0.5, "semisup.ema_decay"),
        ("bn_batches", 3, "batchnorm.batches"),
        ("variant", "paper", "images.variant"),
    ):
        with pytest.raises(ModelMismatch, match=f"'run.json' was trained with {name.replace('.', '[.]')} = "):
            check_result("run.json", {**result, key: value}, cfg)
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**result, "epochs": 1}))
    sidecar_digest.record(path)  # as semisup-train writes it
    table = run_cli(
        "semisup-table",
        "--config-json",
        json.dumps({"device": "cpu"}),
        "--results",
        str(path),
        "--out",
        str(tmp_path / "t.csv"),
        check=False,
    )
    _refused(table, path, "semisup.digits.epochs")
