"""The Snakemake DAG as a user drives it: dry runs at paper scale, refusals, a tiny real run."""

import json
import re

import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY_INFERENCE, TINY_TOY, run_cli, snakemake


def _config_file(tmp_path, **top):
    path = tmp_path / "config.yaml"
    images = {"datasets": ["digits"], "digits": {"epochs": 1, "width": 0.125}}
    svm = {"n_svms": 5, "n_c": 5, "n_jobs": 1}
    semi = {"datasets": ["digits"], "seeds": [0, 1], "ema_decay": 0.5, "digits": {"epochs": 1, "width": 0.125}}
    conditional = {"datasets": ["digits"], "digits": {"epochs": 1, "width": 0.125}}
    path.write_text(
        yaml.safe_dump(
            {
                "device": "cpu",
                "toy": TINY_TOY,
                "toy_inference": TINY_INFERENCE,
                "images": images,
                "svm": svm,
                "semisup": semi,
                "conditional": conditional,
                **top,
            }
        )
    )
    return path


@pytest.mark.parametrize(
    "config", ["config/config.yaml", "config/quick.yaml", "config/reference-cpu.yaml", "config/reference-gpu.yaml"]
)
def test_dry_run_of_the_whole_dag(tmp_path, config):
    result = snakemake("--dry-run", "--cores", "8", "--configfile", str(REPO / config), "--directory", str(tmp_path))
    out = result.stdout + result.stderr
    for rule in (
        "toy_train",
        "toy_evaluate",
        "toy_table",
        "toy_figure",
        "toy_select",
        "toy_infer",
        "toy_inference_evaluate",
        "toy_inference_figure",
        "image_train",
        "image_figures",
        "features",
        "svm",
        "digits_svm_table",
    ):
        assert rule in out
    toy_sets = (
        yaml.safe_load((REPO / config).read_text()).get("toy", {}).get("hyperparameter_sets", ["random", "released"])
    )
    assert out.count("rule toy_train:") == len(toy_sets)  # one batched job per hyperparameter set
    assert out.count("rule toy_infer:") == 3  # inverse, posthoc, vae
    datasets = (
        yaml.safe_load((REPO / config).read_text())
        .get("images", {})
        .get("datasets", ["digits", "svhn", "cifar10", "celeba", "tiny_imagenet"])
    )
    assert out.count("rule image_train:") == len(datasets)
    if "svhn" in datasets:
        assert "rule svhn_table:" in out and out.count("rule svm:") == 2 + 3  # svhn x 2 feature sets, digits x 3
        models = yaml.safe_load((REPO / config).read_text())["semisup"]["models"]
        # 10 seeds of each model for digits 100, SVHN 1,000 and CIFAR-10's 4 label counts
        assert out.count("rule semisup_run:") == 10 * (1 + 1 + 4) * len(models)
        assert out.count("rule conditional_train:") == 2 and "figures/celeba_interpolations.png" in out


@pytest.mark.parametrize(
    "target, rule", [("results/toy_table.csv", "toy_table"), ("results/svhn_table.csv", "svhn_table")]
)
def test_paper_scale_targets_from_the_readme_are_known(tmp_path, target, rule):
    result = snakemake(
        target,
        "--dry-run",
        "--cores",
        "8",
        "--configfile",
        str(REPO / "config/config.yaml"),
        "--directory",
        str(tmp_path),
    )
    assert f"rule {rule}:" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "toy, needle",
    [
        ({"trainig": {}}, "toy.trainig"),
        ({"training": {"epochs": -1}}, "toy.training.epochs"),
        ({"training": {"epochs": "many"}}, "'many' is not of type 'integer'"),
    ],
)
def test_bad_config_is_refused_before_any_job_starts(tmp_path, toy, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"results_dir": str(tmp_path / "out"), "toy": toy}))
    result = snakemake("--cores", "1", "--configfile", str(path), "--directory", str(tmp_path), check=False)
    assert result.returncode != 0
    out = (result.stdout + result.stderr).strip()
    lines = [line for line in out.splitlines() if "invalid config" in line]
    assert len(lines) == 1 and needle in lines[0]
    assert out.splitlines()[-1] == lines[0] and "File " not in out, out  # the line is last: no frame after it
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The whole DAG at tiny scale, run once for the tests below (which only read it or dry-run)."""
    folder = tmp_path_factory.mktemp("tiny_run")
    config = _config_file(folder, results_dir="res")
    snakemake("--cores", "2", "--configfile", str(config), "--directory", str(folder))
    return folder, config


@pytest.mark.slow
def test_tiny_real_run_of_the_toy_dag(tiny_run):
    tmp_path, config = tiny_run
    table = pd.read_csv(tmp_path / "res/toy_table.csv")
    assert list(table["model"]) == ["ALI", "GAN", "ALI", "GAN"]
    assert list(table["hyperparameter_set"]) == ["random", "random", "released", "released"]
    assert (table["runs"] == 2).all() and (table["epochs"] == 3).all()
    assert (
        table["modes_mean"].between(0, 25).all() and table["modes_min"].ge(0).all() and table["modes_max"].le(25).all()
    )
    assert table["high_quality_share_mean"].between(0, 1).all()
    random, released = table[table["hyperparameter_set"] == "random"], table[table["hyperparameter_set"] == "released"]
    for column in ("paper_modes_mean", "paper_modes_pm", "paper_source"):  # the ALI paper's, beside the random rows
        assert random[column].notna().all() and (released[column].isna() | (released[column] == "")).all()
    for column in (
        "paper_pacgan_modes_mean",
        "paper_pacgan_reverse_kl_se",
        "pacgan_modes_mean",
    ):  # PacGAN's, beside the released
        assert released[column].notna().all()
    assert random["paper_pacgan_modes_mean"].isna().all()
    coverage = pd.read_csv(tmp_path / "res/toy/coverage.csv")
    assert len(coverage) == 8
    for name in (
        "toy_table.provenance.json",
        "toy_table.md",
        "figures/toy_samples.png",
        "toy/coverage.provenance.json",
        "logs/toy_train_random.log",
        "benchmarks/toy_train_random.tsv",
    ):
        assert (tmp_path / "res" / name).is_file(), name
    inference = pd.read_csv(tmp_path / "res/toy_inference_table.csv")
    assert list(inference["method"]) == ["ali", "inverse", "posthoc", "vae"]
    for column in ("modes", "reconstruction_mse", "same_mode_share", "qz_mmd2", "qz_ks_max", "paper_claim"):
        assert inference[column].notna().all(), column
    assert inference["same_mode_share"].between(0, 1).all() and (inference["reconstruction_mse"] >= 0).all()
    for name in (
        "toy_inference_table.provenance.json",
        "figures/toy_inference.png",
        "figures/toy_inference_losses.png",
        "toy/inference/selection.json",
        "toy/inference/vae_log.csv",
        "figures/digits_samples.png",
        "figures/digits_reconstructions.png",
        "figures/digits_interpolations.png",
        "images/digits/train_log.csv",
        "figures/digits_conditional.png",
        "images/digits_conditional/train_log.csv",
    ):
        assert (tmp_path / "res" / name).is_file(), name
    # the data were prepared by their own job, and each training's provenance names the bytes it read
    manifests = {
        split: json.loads((tmp_path / f"res/data/digits/{split}.json").read_text())
        for split in ("train", "valid", "test")
    }
    models = json.loads((tmp_path / "res/images/digits/models.provenance.json").read_text())
    assert models["data"] == [{k: v for k, v in manifests["train"].items() if k not in ("format", "data_root")}]
    semisup_run = json.loads((tmp_path / "res/semisup/digits_100labels_seed0_ali.json").read_text())
    assert [d["split"] for d in semisup_run["data"]] == ["test", "train"]
    svm_table = pd.read_csv(tmp_path / "res/digits_svm_table.csv")
    assert list(svm_table["feature_set"]) == ["paper", "released-code", "pixels"]
    for column in (
        "feature_dim",
        "chosen_C",
        "validation_error_pct",
        "test_error_mean_pct",
        "test_error_std_pct",
        "n_svms",
    ):
        assert svm_table[column].notna().all(), column
    assert svm_table["test_error_mean_pct"].between(0, 100).all() and (svm_table["n_svms"] == 5).all()
    assert (svm_table["labels_per_svm"] == 100).all()
    semi = pd.read_csv(tmp_path / "res/semisup_table.csv")
    assert (
        list(semi["model"]) == ["ali", "supervised", "gan-fm"]
        and (semi["labels"] == 100).all()
        and (semi["seeds"] == 2).all()
    )
    assert semi["test_error_mean_pct"].between(0, 100).all()
    assert semi.loc[0, "test_error_3std_pct"] == pytest.approx(3 * semi.loc[0, "test_error_std_pct"])
    run = json.loads((tmp_path / "res/semisup/digits_100labels_seed0_ali.json").read_text())
    assert len(run["labelled_indices"]) == 100
    pairs = pd.read_csv(tmp_path / "res/semisup_paired.csv")  # the models seed by seed, and their curves
    assert (
        list(zip(pairs["model"], pairs["reference"], strict=True))
        == [
            ("ali", "supervised"),
            ("gan-fm", "supervised"),
            ("ali", "gan-fm"),
        ]
        and (pairs["seeds"] == 2).all()
    )
    assert (tmp_path / "res/figures/semisup_curves.png").is_file()
    metrics = json.loads((tmp_path / "res/images/digits/reconstruction_metrics.json").read_text())
    assert 0 <= metrics["label_agreement"] <= 1 and metrics["mse"] > 0
    # the verdict of every table it built: at this scale nothing is comparable, and each row says why
    verdict = pd.read_csv(tmp_path / "res/verdict.csv")
    assert set(verdict["table"]) == {"toy_table", "digits_svm_table", "semisup_table"}
    measured = verdict[verdict["verdict"] != "not measured"]
    assert len(measured) == 2 + 6 + 2 + 2 and set(measured["verdict"]) == {
        "not comparable"
    }  # toy random, released; SVM; K+1 ALI and GAN-FM
    assert measured["reason"].str.contains("epochs|width").all()
    assert (tmp_path / "res/verdict.md").read_text().startswith("# Verdict")
    # the HTML report, with every table and figure and its caption
    snakemake("--configfile", str(config), "--directory", str(tmp_path), "--report", str(tmp_path / "report.html"))
    html = (tmp_path / "report.html").read_text()
    for needle in (
        "Reproduces the mode-coverage numbers",
        "toy_inference_table.csv",
        "digits_svm_table.provenance.json",
        "digits_reconstructions.png",
        "verdict.csv",
        "One row per reported number",
    ):
        assert needle in html, needle
    # a second invocation has nothing left to do
    again = snakemake("--cores", "2", "--configfile", str(config), "--directory", str(tmp_path))
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
@pytest.mark.parametrize("job", ["toy_train_released", "image_train_digits", "semisup_digits_100labels_seed0_ali"])
def test_a_training_jobs_log_is_lines_a_file_can_hold(tiny_run, job):
    """Written through Snakemake (stderr a file): timestamped progress lines, no bar redraws."""
    tmp_path, _ = tiny_run
    log = (tmp_path / f"res/logs/{job}.log").read_text()
    assert "\r" not in log and "%|" not in log
    counts = re.findall(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .+: epoch (\d+)/(\d+) \(.+ s\)", log, re.M)
    assert counts and counts[-1][0] == counts[-1][1], log  # the last epoch's line, at least


@pytest.mark.slow
def test_a_run_of_one_target_gets_the_verdict_of_the_tables_that_exist(tmp_path):
    toy = {**TINY_TOY, "hyperparameter_sets": ["released"], "seeds": [0]}
    config = _config_file(
        tmp_path, results_dir="res", toy=toy, toy_inference={**TINY_INFERENCE, "select_from": "released"}
    )
    result = snakemake("res/toy_table.csv", "--cores", "2", "--configfile", str(config), "--directory", str(tmp_path))
    assert "verdict of the tables that exist: res/verdict.md" in result.stdout + result.stderr
    verdict = pd.read_csv(tmp_path / "res/verdict.csv")
    assert set(verdict["table"]) == {"toy_table"} and len(verdict[verdict["verdict"] == "not comparable"]) == 3 * 2
    assert "Tables judged: `res/toy_table.csv`" in (tmp_path / "res/verdict.md").read_text()


@pytest.mark.slow
def test_killed_workflow_resumes_from_the_checkpoint_and_matches_an_uninterrupted_run(tmp_path):
    import subprocess
    import sys

    import torch

    from conftest import kill_at_first_checkpoint, snakemake_env

    toy = {
        **TINY_TOY,
        "seeds": [0],
        "training": {"epochs": 60, "checkpoint_every": 2},
        "hyperparameter_sets": ["random"],
    }
    results = {}
    for name in ("straight", "killed"):
        folder = tmp_path / name
        folder.mkdir()
        config = folder / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "device": "cpu",
                    "toy": toy,
                    "toy_inference": {"select_from": "random"},
                    "results_dir": "res",
                    "checkpoint_seconds": 0,
                }
            )
        )
        args = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "res/toy/random/models.pt",
            "--cores",
            "1",
            "--configfile",
            str(config),
            "--directory",
            str(folder),
        ]
        if name == "killed":  # Snakemake and its job killed together, as a kill -9 or a lost node would
            kill_at_first_checkpoint(args, folder / "res/toy/random/models.checkpoint.pt", env=snakemake_env())
            assert not (folder / "res/toy/random/models.pt").exists()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "--unlock",
                    "--snakefile",
                    str(REPO / "Snakefile"),
                    "--configfile",
                    str(config),
                    "--directory",
                    str(folder),
                ],
                env=snakemake_env(),
                check=True,
                capture_output=True,
            )
        snakemake(*args[5:], cwd=REPO)
        results[name] = torch.load(folder / "res/toy/random/models.pt", weights_only=True)["models"]
        if name == "killed":
            assert "resuming" in (folder / "res/logs/toy_train_random.log").read_text()
    for kind, state in results["straight"].items():
        for key, value in state.items():
            assert torch.equal(value, results["killed"][kind][key]), f"{kind} {key}"


def _scheduled(folder, config_path, change: dict) -> str:
    """The dry run's plan after merging ``change`` into the tiny config (written beside it)."""

    def merge(base, extra):
        return {**base, **{k: merge(base.get(k, {}), v) if isinstance(v, dict) else v for k, v in extra.items()}}

    edited = folder / "edited.yaml"
    edited.write_text(yaml.safe_dump(merge(yaml.safe_load(config_path.read_text()), change)))
    result = snakemake("--dry-run", "--cores", "2", "--configfile", str(edited), "--directory", str(folder))
    return result.stdout + result.stderr


TRAINING_RULES = ("toy_train", "toy_infer", "image_train", "conditional_train", "semisup_run")


@pytest.mark.slow
@pytest.mark.parametrize(
    "change",
    [
        {"images": {"figures": {"interpolation_pairs": 3}}},
        {"images": {"figures": {"sample_grid_every": 1}}},  # reaches training through the environment
        {"checkpoint_seconds": 5},  # so does this
        {"toy": {"coverage": {"n_samples": 300}}},
        {"conditional": {"figure_seed": 5}},
        {"images": {"data_root": "elsewhere/data files"}},
        {"images": {"download": True}},
        {"toy_inference": {"mmd_samples": 50}},
        {"batchnorm": {"statistics": "running"}},
        {"images": {"digits": {"valid_split": "test"}}},
    ],
    ids=lambda change: str(change),
)
def test_an_evaluation_only_change_never_retrains(tiny_run, change):
    plan = _scheduled(*tiny_run, change)
    # by design, toy inference retrains (the toy models do not) when more coverage samples re-count
    # the modes (the count picks the runs it trains against) or when the frozen GAN decoder it
    # trains against gets the other batch-norm statistics
    retrained_by_design = ("toy_infer",) if "toy" in change or "batchnorm" in change else ()
    for rule in TRAINING_RULES:
        if rule not in retrained_by_design:
            assert f"rule {rule}:" not in plan, (rule, plan)


@pytest.mark.slow
def test_another_datasets_settings_rerun_nothing(tiny_run):
    """The tiny run trains only digits: editing CIFAR-10's block (or the SVM table's other dataset)
    leaves every job of it, the digits SVM table included, as it is."""
    plan = _scheduled(*tiny_run, {"images": {"cifar10": {"epochs": 3}}, "semisup": {"svhn": {"epochs": 2}}})
    assert "Nothing to be done" in plan, plan
    assert "double '/'" not in plan, plan  # Snakemake warned of every stamp of a rule without wildcards


@pytest.mark.slow
def test_a_training_change_retrains_and_a_new_seed_trains_alone(tiny_run):
    plan = _scheduled(*tiny_run, {"toy": {"training": {"epochs": 4}}})
    assert plan.count("rule toy_train:") == 2 and "rule image_train:" not in plan  # both toy sets, nothing else
    plan = _scheduled(*tiny_run, {"semisup": {"seeds": [0, 1, 2]}})
    assert (
        plan.count("rule semisup_run:") == 3
        and "seed2_ali.json" in plan
        and "seed0_ali.json" not in plan.split("rule semisup_table:")[0]
    )  # only seed 2's three runs (ali, supervised, gan-fm), then the table


def test_snakemake_lint_is_clean(tmp_path):
    """CI runs Snakemake's linter (through this test): every rule has log, benchmark, no config in shell."""
    result = snakemake(
        "--lint", "--configfile", str(REPO / "config/quick.yaml"), "--directory", str(tmp_path), check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_a_checkout_that_restores_identical_code_reruns_nothing(tiny_run):
    """A `git checkout` back and forth rewrites the package's files with the same bytes and a new
    mtime: Snakemake compares their checksums and reruns nothing (an edit would rerun)."""
    import os
    import time

    modules = sorted((REPO / "ali_bench").rglob("*.py"))
    saved = {path: (path.stat().st_atime_ns, path.stat().st_mtime_ns) for path in modules}
    later = time.time_ns() + 10**9
    try:
        for path in modules:
            os.utime(path, ns=(later, later))
        folder, config = tiny_run
        result = snakemake("--dry-run", "--cores", "2", "--configfile", str(config), "--directory", str(folder))
        assert "Nothing to be done" in result.stdout + result.stderr, result.stdout + result.stderr
    finally:
        for path, times in saved.items():
            os.utime(path, ns=times)


def test_dry_run_of_pacgans_toy_setup_builds_the_toy_and_its_verdict_alone(tmp_path):
    result = snakemake(
        "--dry-run", "--cores", "8", "--configfile", str(REPO / "config/toy-pacgan.yaml"), "--directory", str(tmp_path)
    )
    out = result.stdout + result.stderr
    assert out.count("rule toy_train:") == 1 and "rule verdict:" in out and "rule image_train:" not in out
    assert "toy-pacgan/toy/released/models.pt" in out and '"epochs": 400' in out


@pytest.mark.slow
def test_dropping_a_model_retrains_nothing_and_only_rebuilds_the_table(tiny_run):
    """``semisup.models`` picks which runs exist, like the seeds: no run reads it, so listing fewer
    models leaves every trained run as it is and rebuilds the table from the ones listed."""
    plan = _scheduled(*tiny_run, {"semisup": {"models": ["ali"]}})
    assert "rule semisup_run:" not in plan and "rule semisup_table:" in plan, plan
    assert "seed0_supervised.json" not in plan.split("rule semisup_table:")[1].split("rule ")[0], plan


@pytest.mark.slow
@pytest.mark.parametrize(
    "sidecar, writer, reader",
    [
        ("features/digits/paper_train.npy.sha256", "features", "svm"),
        ("features/digits/paper_train_labels.npy.sha256", "features", "svm"),
        ("svm/digits_paper.json.sha256", "svm", "digits_svm_table"),
        ("semisup/digits_100labels_seed0_ali.json.sha256", "semisup_run", "semisup_table"),
        ("toy/inference/selection.json.sha256", "toy_select", "toy_infer"),
        ("toy/samples.npz.sha256", "toy_evaluate", "toy_figure"),
        ("toy/inference/outputs.npz.sha256", "toy_inference_evaluate", "toy_inference_figure"),
        ("toy/inference/vae_log.csv.sha256", "toy_infer", "toy_inference_figure"),
        ("semisup/digits_100labels_seed1_gan-fm_log.csv.sha256", "semisup_run", "semisup_curves"),
        ("semisup/digits_100labels_seed1_gan-fm.json.sha256", "semisup_run", "semisup_curves"),
        ("images/digits/reconstruction_metrics.json.sha256", "image_figures", None),  # quick-summary reads it
        ("images/digits_conditional/conditional_metrics.json.sha256", "conditional_figure", None),
    ],
)
def test_a_deleted_content_hash_is_rebuilt_before_anything_reads_its_file(tiny_run, sidecar, writer, reader):
    """Every reader refuses a file without its .sha256 (sidecar_digest.verify). So each is an output of
    the job that writes it and an input of the job that reads it: when the reader runs again (here
    forced), Snakemake first reruns the writer instead of handing the reader a file it must refuse.
    While nothing reads it, a missing one reruns nothing, as for any intermediate file; the metrics,
    read outside the DAG, are targets of `rule all` themselves."""
    folder, config = tiny_run
    path = folder / "res" / sidecar
    kept = path.with_name(path.name + ".kept")
    path.rename(kept)  # the module's run is shared: put it back whatever happens
    try:
        forced = ("--forcerun", reader) if reader else ()
        args = ("--dry-run", "--cores", "2", "--configfile", str(config), "--directory", str(folder), *forced)
        result = snakemake(*args)
    finally:
        kept.rename(path)
    plan = result.stdout + result.stderr
    assert f"rule {writer}:" in plan and sidecar in plan.split(f"rule {writer}:")[1], plan


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["toy-figure", "toy-inference-figure"])
def test_a_figures_arrays_edited_after_they_were_written_are_refused(tiny_run, tmp_path, kind):
    """The sample and output archives the toy figures draw carry their .sha256 (toy-evaluate and
    toy-inference-evaluate record it): one flipped byte in a copy, and the figure command refuses it."""
    import shutil

    folder, config = tiny_run
    name = "samples.npz" if kind == "toy-figure" else "outputs.npz"
    source = folder / "res/toy" / ("" if kind == "toy-figure" else "inference") / name
    archive = tmp_path / name
    for path in (source, source.with_name(f"{name}.sha256")):
        shutil.copy(path, tmp_path / path.name)
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    if kind == "toy-figure":
        args = ["--config", str(config), "--coverage", str(folder / "res/toy/coverage.csv"), "--samples", str(archive)]
    else:
        args = ["--arrays", str(archive), "--out-losses", str(tmp_path / "losses.png")]
    result = run_cli(kind, *args, "--out", str(tmp_path / "figure.png"), check=False)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: '{archive}' changed after it was written"), result.stderr
    assert not (tmp_path / "figure.png").exists()
