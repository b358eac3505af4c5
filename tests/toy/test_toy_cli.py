"""The toy CLI steps by hand: resume after a kill, clear errors, tables and provenance."""

import json
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch

from ali_bench import provenance
from ali_bench.toy.table import toy_table

from conftest import REPO, TINY_TOY, run_cli, straight_and_resumed_runs


def _write_config(path, **toy_overrides):
    # checkpoint_seconds 0: every cadence point, so the resume tests kill at the first one
    path.write_text(json.dumps({"device": "cpu", "checkpoint_seconds": 0, "toy": {**TINY_TOY, **toy_overrides}}))
    return path


def _train_args(config, out_dir):
    return [
        "toy-train",
        "--config",
        str(config),
        "--hyperparameters",
        "random",
        "--no-progress",
        "--out",
        str(out_dir / "models.pt"),
        "--log",
        str(out_dir / "log.csv"),
    ]


def _final_state(path):
    return torch.load(path, weights_only=True)["models"]


def test_killed_training_resumes_and_ends_where_an_uninterrupted_run_ends(tmp_path):
    config = _write_config(tmp_path / "c.json", training={"epochs": 40, "checkpoint_every": 2})
    straight, killed = straight_and_resumed_runs(partial(_train_args, config), tmp_path)
    a, b = _final_state(straight / "models.pt"), _final_state(killed / "models.pt")
    for kind in a:
        for key in a[kind]:
            assert torch.equal(a[kind][key], b[kind][key]), f"{kind} {key}"
    log = pd.read_csv(killed / "log.csv")
    assert sorted(log["epoch"].unique()) == list(range(1, 41))


def test_a_corrupt_checkpoint_is_one_warning_line_and_the_training_starts_over(tmp_path):
    config = _write_config(tmp_path / "c.json")
    (tmp_path / "models.checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    result = run_cli(*_train_args(config, tmp_path), check=False)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(lines) == 1 and "models.checkpoint.pt' is corrupt or truncated" in lines[0], result.stderr
    assert "kept as models.checkpoint.pt.corrupt, training from scratch" in lines[0]
    assert (tmp_path / "models.checkpoint.pt.corrupt").read_bytes() == b"PK\x03\x04 truncated"
    assert (tmp_path / "models.pt").is_file()


def test_bad_config_is_refused_with_one_line(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"toy": {"training": {"epochs": 0}}}))
    result = run_cli(*_train_args(config, tmp_path), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: config key 'toy.training.epochs': 0 is less than the minimum of 1"
    ]


def test_cuda_device_without_a_gpu_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"device": "cuda", "toy": TINY_TOY}))
    result = run_cli(*_train_args(config, tmp_path), check=False)
    assert result.returncode == 2 and "config key 'device'" in result.stderr


def test_toy_table_aggregates_hand_made_coverage():
    coverage = pd.DataFrame(
        {
            "model": ["ali"] * 3 + ["gan"] * 3,
            "hyperparameter_set": ["random"] * 6,
            "seed": [0, 1, 2] * 2,
            "epochs": [200] * 6,
            "modes": [10, 20, 24, 1, 5, 3],
            "modes_high_quality": [9, 19, 24, 1, 4, 3],
            "high_quality_share": [0.5, 0.7, 0.9, 0.1, 0.2, 0.3],
            "reverse_kl": [1.0, 0.5, 0.1, 3.0, np.inf, 2.0],
            "diverged_epoch": [np.nan, np.nan, np.nan, 12, np.nan, np.nan],
        }
    )
    table = toy_table(coverage).set_index("model")
    assert table.loc["ALI", "modes_mean"] == pytest.approx(18.0)
    assert table.loc["ALI", "modes_std"] == pytest.approx(np.std([10, 20, 24], ddof=1))
    assert table.loc["ALI", "modes_sem"] == pytest.approx(np.std([10, 20, 24], ddof=1) / np.sqrt(3))
    assert (table.loc["ALI", "modes_min"], table.loc["ALI", "modes_max"]) == (10, 24)
    assert table.loc["GAN", "diverged_runs"] == 1
    assert table.loc["GAN", "reverse_kl_median"] == pytest.approx(3.0)
    assert (table.loc["ALI", "paper_modes_mean"], table.loc["ALI", "paper_modes_pm"]) == (13.4, 5.8)
    assert table["paper_pacgan_modes_mean"].isna().all()  # PacGAN's numbers sit beside the released rows only
    assert table["pacgan_modes_mean"].isna().all()  # this coverage file has no PacGAN-protocol columns
    assert (table.loc["GAN", "paper_modes_min"], table.loc["GAN", "paper_modes_max"]) == (1, 22)
    assert "Sec. 4.5" in table.loc["ALI", "paper_source"]


def test_evaluate_table_and_figure_steps_write_outputs_with_provenance(tmp_path):
    config = _write_config(tmp_path / "c.json")
    for hset in ("random", "released"):
        run_cli(
            "toy-train",
            "--config",
            str(config),
            "--hyperparameters",
            hset,
            "--no-progress",
            "--out",
            str(tmp_path / hset / "models.pt"),
            "--log",
            str(tmp_path / hset / "log.csv"),
        )
    run_cli(
        "toy-evaluate",
        "--config",
        str(config),
        "--models",
        str(tmp_path / "random/models.pt"),
        str(tmp_path / "released/models.pt"),
        "--out-coverage",
        str(tmp_path / "coverage.csv"),
        "--out-samples",
        str(tmp_path / "samples.npz"),
    )
    run_cli("toy-table", "--coverage", str(tmp_path / "coverage.csv"), "--out", str(tmp_path / "toy_table.csv"))
    run_cli(
        "toy-figure",
        "--config",
        str(config),
        "--coverage",
        str(tmp_path / "coverage.csv"),
        "--samples",
        str(tmp_path / "samples.npz"),
        "--out",
        str(tmp_path / "toy.png"),
    )

    coverage = pd.read_csv(tmp_path / "coverage.csv")
    assert len(coverage) == 8  # 2 sets x 2 models x 2 seeds
    _recount_with_the_docs_lines(tmp_path, coverage)
    assert set(coverage.columns) >= {
        "model",
        "seed",
        "lr",
        "beta1",
        "init_std",
        "modes",
        "high_quality_share",
        "pacgan_modes",
        "pacgan_high_quality_share",
        "pacgan_reverse_kl",
    }
    assert coverage["pacgan_modes"].between(0, 25).all() and coverage["pacgan_high_quality_share"].between(0, 1).all()
    released = coverage[coverage["hyperparameter_set"] == "released"]
    assert (released["lr"] == 1e-4).all() and (released["beta1"] == 0.2).all()  # Blocks-2016 0.8, converted
    with np.load(tmp_path / "samples.npz") as archive:
        assert archive["ali-random-seed0"].shape == (500, 2)
    record = provenance.read(tmp_path / "toy_table.csv")
    for key in ("config_hash", "seeds", "versions", "device", "git", "wall_time_s"):
        assert key in record
    assert record["batchnorm_statistics"] == "recomputed"
    assert record["seeds"] == [0, 1] and record["wall_time_s"] > 0
    markdown = (tmp_path / "toy_table.md").read_text()
    assert markdown.startswith("# Toy") and "one of 500 p(x) samples" in markdown  # the notes say what was scored
    table = pd.read_csv(tmp_path / "toy_table.csv").set_index(["model", "hyperparameter_set"])
    assert table.loc[("ALI", "released"), "paper_pacgan_modes_mean"] == 24.1
    assert pd.isna(table.loc[("ALI", "released"), "paper_modes_mean"])  # not the ALI paper's protocol
    assert table.loc[("GAN", "released"), "pacgan_high_quality_pct_mean"] == pytest.approx(
        100 * released[released["model"] == "gan"]["pacgan_high_quality_share"].mean()
    )
    assert (tmp_path / "toy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_released_only_config_trains_with_the_config_json_the_workflow_passes(tmp_path):
    """toy.hyperparameter_sets [released] with toy_inference.select_from released is valid; the
    training job, which receives the toy section without toy_inference, must not re-check
    select_from against that section's default (random) and fail."""
    from ali_bench.config import load_config
    from ali_bench.config_schema import validate

    raw = {
        "device": "cpu",
        "toy": {**TINY_TOY, "hyperparameter_sets": ["released"]},
        "toy_inference": {"select_from": "released"},
    }
    full = validate(raw)
    load_config(full)  # what the workflow checks before any job starts
    job = {
        "device": full["device"],
        "cuda_graphs": full["cuda_graphs"],
        "toy": full["toy"],
        "batchnorm": {key: full["batchnorm"][key] for key in ("batches", "batch_size")},
    }  # toy.smk's toy_train
    run_cli(
        "toy-train",
        "--config-json",
        json.dumps(job),
        "--hyperparameters",
        "released",
        "--no-progress",
        "--out",
        str(tmp_path / "models.pt"),
        "--log",
        str(tmp_path / "log.csv"),
    )
    assert (tmp_path / "models.pt").exists()
    with pytest.raises(Exception, match="toy_inference.select_from"):  # where both sections are given, still checked
        load_config({**raw, "toy_inference": {"select_from": "random"}})


def _recount_with_the_docs_lines(folder, coverage):
    """docs/toy-coverage.md's numpy lines, run on each kept sample stream, give coverage.csv's numbers;
    each file holds every run with the seed of its z draw."""
    import re

    from ali_bench.seeding import seed_for
    from ali_bench.toy.runs import EVALUATION, PACGAN_EVALUATION

    text = (REPO / "docs/toy-coverage.md").read_text()
    block = re.search(r"## Recounting a column from the samples\n.*?```python\n(.*?)```", text, re.S).group(1)
    names = [f"{r.model}-{r.hyperparameter_set}-seed{r.seed}" for r in coverage.itertuples()]
    for stream, file, prefix in ((EVALUATION, "samples.npz", ""), (PACGAN_EVALUATION, "pacgan_samples.npz", "pacgan_")):
        with np.load(folder / file) as archive:
            assert sorted(n for n in archive.files if not n.endswith(".z_seed")) == sorted(names)
        for name, (_, run) in zip(names, coverage.iterrows(), strict=True):
            code = block.replace('"results/toy/pacgan_samples.npz"', repr(str(folder / file)))
            code = code.replace('"ali-released-seed0', f'"{name}')
            counted = {}
            exec(code, counted)
            assert counted["z_seed"] == seed_for(int(run["seed"]), stream)
            if prefix:
                assert counted["pacgan_modes"] == run["pacgan_modes"]
                assert counted["pacgan_high_quality_share"] == pytest.approx(run["pacgan_high_quality_share"])
                assert counted["pacgan_reverse_kl"] == pytest.approx(run["pacgan_reverse_kl"])
            else:
                assert counted["modes"] == run["modes"]
                assert counted["pacgan_modes"] == run["modes_high_quality"]  # the same rule on the paper's stream
                assert counted["pacgan_high_quality_share"] == pytest.approx(run["high_quality_share"])
