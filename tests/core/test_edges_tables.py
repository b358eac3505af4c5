"""The table commands read their intermediate files against a declared spec (ali_bench/table_inputs.py):
an impossible, duplicated, missing or non-numeric value is one line naming the file, the column, the
run and the value (exit 2), never a table or a traceback; each table's provenance lists the SHA-256
of what it read; and the Markdown notes say the settings that ran, not the defaults."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ali_bench import provenance, sidecar_digest
from ali_bench.cli import main
from ali_bench.config import load_config
from ali_bench.semisup.settings import settings_for

from conftest import run_cli

GRID = [-4.0, -2.0, 0.0, 2.0, 4.0]  # 25 modes
CONFIG = json.dumps({"device": "cpu"})  # every other setting at its default (an empty config is refused)


def _coverage_rows() -> list[dict]:
    """What toy-evaluate writes for 2 models x 2 seeds of the released set."""
    return [
        {
            "model": model,
            "hyperparameter_set": "released",
            "seed": seed,
            "lr": 1e-4,
            "beta1": 0.2,
            "init_std": 0.02,
            "epochs": 100,
            "modes": 24,
            "high_quality_share": 0.6,
            "modes_high_quality": 23,
            "reverse_kl": 0.4,
            "finite_share": 1.0,
            "pacgan_modes": 22,
            "pacgan_high_quality_share": 0.61,
            "pacgan_reverse_kl": 0.41,
            "diverged_epoch": None,
        }
        for model in ("ali", "gan")
        for seed in (0, 1)
    ]


def _rows_of_16_modes() -> list[dict]:
    """Coverage of a 4 x 4 grid (16 modes)."""
    return [{**row, "modes": 16, "modes_high_quality": 12, "pacgan_modes": 12} for row in _coverage_rows()]


def _write_coverage(folder: Path, rows=None, grid=GRID, coverage=None) -> Path:
    path = folder / "coverage.csv"
    pd.DataFrame(rows if rows is not None else _coverage_rows()).to_csv(path, index=False)
    config = {
        "trained": {"released": {"mixture": {"grid": grid, "std": 0.05}}},
        "coverage": coverage or {"n_samples": 10000, "pacgan_n_samples": 2500, "high_quality_stds": 3.0},
    }
    provenance.write(
        path, provenance.build(config=config, config_hash="h", seeds=[0, 1], device="cpu", wall_time_s=1.0)
    )
    return path


def _refused(capsys, argv: list[str], *needles: str) -> str:
    """Run the command in this process; it must exit 2 with one line that holds every needle."""
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def _rerecord(path: Path) -> None:
    """Record the table's hash in its sidecar again, as if the command had written what it now holds:
    the value checks are tested on tables as a (faulty) writer made them; a hand edit the sidecar did
    not see is its own case (test_a_coverage_table_edited_after_it_was_written_is_refused)."""
    provenance.write(path, {k: v for k, v in provenance.read(path).items() if k != provenance.TABLE_DIGEST})


def _edit(path: Path, row: int, column: str, value) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)
    _rerecord(path)


# --------------------------------------------------------------- 1. the toy coverage table, validated


@pytest.mark.parametrize(
    "column, value, says",
    [
        ("modes", "99", "'99' is out of range; expected a whole number >= 0 and <= 25"),
        ("modes", "-3", "'-3' is out of range"),
        ("modes_high_quality", "26", "expected a whole number >= 0 and <= 25"),
        ("pacgan_modes", "30", "'30' is out of range"),
        ("high_quality_share", "1.5", "'1.5' is out of range; expected a number >= 0 and <= 1"),
        ("pacgan_high_quality_share", "-0.1", "'-0.1' is out of range"),
        ("reverse_kl", "-0.2", "'-0.2' is out of range; expected a number >= 0 (inf allowed)"),
        ("modes", "many", "'many' is not a number"),
        ("modes", "nan", "'nan' is not a number"),
        ("modes", "", "the value is missing"),
        ("modes", "24.5", "'24.5' is not a whole number"),
        ("model", "vae", "'vae' is not an allowed value; expected one of 'ali', 'gan'"),
    ],
)
def test_an_impossible_coverage_value_is_one_line_naming_file_column_run_and_value(
    tmp_path, capsys, column, value, says
):
    coverage = _write_coverage(tmp_path)
    _edit(coverage, 1, column, value)
    err = _refused(
        capsys,
        ["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "toy_table.csv")],
        f"'{coverage}' line 3, column '{column}'",
        says,
        "rule toy_evaluate",
    )
    if column != "model":
        assert "(run model ali, hyperparameter_set released, seed 1)" in err
    assert not (tmp_path / "toy_table.csv").exists()


def test_a_coverage_table_with_a_run_twice_only_a_header_or_a_column_missing_is_refused(tmp_path, capsys):
    argv = ["toy-table", "--coverage", str(tmp_path / "coverage.csv"), "--out", str(tmp_path / "toy_table.csv")]
    rows = _coverage_rows()
    _write_coverage(tmp_path, rows + [rows[0]])
    _refused(capsys, argv, "line 2 and line 6 both hold run model ali, hyperparameter_set released, seed 0")
    coverage = _write_coverage(tmp_path)
    coverage.write_text(coverage.read_text().splitlines()[0] + "\n")
    _rerecord(coverage)
    _refused(capsys, argv, f"'{coverage}' has a header but no rows")
    coverage.write_text("")
    _rerecord(coverage)
    _refused(capsys, argv, f"'{coverage}' is empty")
    _write_coverage(tmp_path, [{k: v for k, v in row.items() if k != "reverse_kl"} for row in rows])
    _refused(capsys, argv, "has no column 'reverse_kl'")
    assert not (tmp_path / "toy_table.csv").exists()


def test_the_mode_bound_is_the_mixture_the_provenance_records_and_inf_kl_is_a_value(tmp_path, capsys):
    rows = _rows_of_16_modes()
    rows[0].update(reverse_kl=float("inf"))  # inf: no high-quality sample
    coverage = _write_coverage(tmp_path, rows, grid=[-3.0, -1.0, 1.0, 3.0])
    argv = ["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "toy_table.csv")]
    assert main(argv) == 0
    _edit(coverage, 0, "modes", "17")
    _refused(capsys, argv, "'17' is out of range; expected a whole number >= 0 and <= 16")


def test_a_refused_coverage_table_exits_2_from_the_command_line(tmp_path):
    coverage = _write_coverage(tmp_path)
    _edit(coverage, 0, "modes", "not-a-count")
    result = run_cli("toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "t.csv"), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "column 'modes'" in result.stderr and "'not-a-count' is not a number" in result.stderr


def test_a_provenance_sidecar_that_is_not_json_is_one_line(tmp_path, capsys):
    coverage = _write_coverage(tmp_path)
    provenance.sidecar_path(coverage).write_text("{not json")
    _refused(
        capsys,
        ["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "t.csv")],
        f"provenance file '{provenance.sidecar_path(coverage)}' is not valid JSON",
    )


# ------------------------------------------------------------ 1-2. semi-supervised result files


def _semisup_result(seed=0, error=0.1) -> dict:
    settings = settings_for(load_config({}), "digits", 100, seed, "ali").__dict__
    errors = {
        "test_error_sampled": error,
        "test_error_posterior_mean": error,
        "test_error_prior": error,
        "train_error": 0.0,
    }
    return {
        **settings,
        "steps_per_epoch": 12,
        "steps": 12 * settings["epochs"],
        "wall_time_s": 3.0,
        "device": "cpu",
        "evaluations": {w: {s: dict(errors) for s in ("recomputed", "running")} for w in ("averaged", "live")},
    }


def _write_json(path: Path, record: dict) -> Path:
    """A per-run result as its command writes it: the JSON, then its .sha256 (sidecar_digest.record)."""
    path.write_text(json.dumps(record))
    sidecar_digest.record(path)
    return path


def _semisup_argv(tmp_path, *paths) -> list[str]:
    return [
        "semisup-table",
        "--config-json",
        CONFIG,
        "--results",
        *map(str, paths),
        "--out",
        str(tmp_path / "semisup_table.csv"),
    ]


def test_semisup_table_refuses_the_same_result_file_twice(tmp_path, capsys):
    run0 = _write_json(tmp_path / "digits_100labels_seed0_ali.json", _semisup_result(0))
    run1 = _write_json(tmp_path / "digits_100labels_seed1_ali.json", _semisup_result(1, 0.2))
    _refused(capsys, _semisup_argv(tmp_path, run0, run1, run0), f"'{run0}' is given twice; pass each file once")
    assert not (tmp_path / "semisup_table.csv").exists()
    assert main(_semisup_argv(tmp_path, run0, run1)) == 0
    assert pd.read_csv(tmp_path / "semisup_table.csv").loc[0, "seeds"] == 2


def test_a_json_result_edited_after_it_was_written_is_refused_by_its_table(tmp_path, capsys):
    """A per-run result whose writer recorded its hash beside it (semisup-train, svm and
    toy-inference-select do: sidecar_digest.record), edited afterwards: an error of 0.2 made 0.3
    parses and stays in range, so only the hash tells. Refused in one line naming the file."""
    run0 = _write_json(tmp_path / "digits_100labels_seed0_ali.json", _semisup_result(0))
    run1 = _write_json(tmp_path / "digits_100labels_seed1_ali.json", _semisup_result(1, 0.2))
    assert main(_semisup_argv(tmp_path, run0, run1)) == 0  # as written: accepted
    run1.write_text(run1.read_text().replace("0.2", "0.3"))
    _refused(capsys, _semisup_argv(tmp_path, run0, run1), f"'{run1}' changed after it was written", "semisup")
    sidecar_digest.sidecar(run1).unlink()  # its hash deleted, or a copy of the *.json alone: nothing vouches for it
    _refused(capsys, _semisup_argv(tmp_path, run0, run1), f"'{run1}' has no recorded hash", "semisup")


def test_a_training_log_edited_after_it_was_written_is_refused_by_the_curves(tmp_path, capsys):
    """Every trainer's CSV log is written by resumable.write_log, which records its .sha256; the
    curve figures check it: a test error halved in a log would otherwise be drawn as learned."""
    from ali_bench.resumable import write_log

    run = _write_json(tmp_path / "digits_100labels_seed0_ali.json", _semisup_result(0))
    log = tmp_path / "digits_100labels_seed0_ali_log.csv"
    rows = [{"step": 12 * i, "test_error": 0.5 / i, "test_error_live": 0.6 / i} for i in (1, 2, 3)]
    write_log(log, rows, ("step", "test_error", "test_error_live"))
    argv = ["semisup-curves", "--results", str(run), "--logs", str(log), "--out", str(tmp_path / "curves.png")]
    assert main(argv) == 0 and (tmp_path / "curves.png").is_file()  # as written: drawn
    log.write_text(log.read_text().replace("0.25", "0.125"))
    _refused(capsys, argv, f"'{log}' changed after it was written", f"--forcerun {log})")
    sidecar_digest.sidecar(log).unlink()
    _refused(capsys, argv, f"'{log}' has no recorded hash", f"--forcerun {log})")


def test_semisup_table_refuses_two_files_of_the_same_run(tmp_path, capsys):
    run0 = _write_json(tmp_path / "a.json", _semisup_result(0))
    copy = tmp_path / "copy" / "a.json"
    copy.parent.mkdir()
    shutil.copy(run0, copy)
    shutil.copy(sidecar_digest.sidecar(run0), sidecar_digest.sidecar(copy))
    _refused(
        capsys,
        _semisup_argv(tmp_path, run0, copy),
        f"'{run0}' and '{copy}' both hold run dataset digits, n_labels 100, seed 0, model ali",
        "pass only one",
    )


def test_semisup_table_refuses_a_run_copied_under_another_seed(tmp_path, capsys):
    """A result copied with only its seed changed was counted as a second seed ("seeds 2, std 0.0")."""
    record = {**_semisup_result(0), "labelled_indices": [3, 14, 15]}
    run0 = _write_json(tmp_path / "digits_100labels_seed0_ali.json", record)
    fake = _write_json(tmp_path / "digits_100labels_seed1_ali.json", {**record, "seed": 1})
    _refused(capsys, _semisup_argv(tmp_path, run0, fake), f"'{run0}' and '{fake}' are the same run under two seed")
    assert not (tmp_path / "semisup_table.csv").exists()
    other = _write_json(tmp_path / "digits_100labels_seed1_ali.json", {**record, "seed": 1, "labelled_indices": [9]})
    assert main(_semisup_argv(tmp_path, run0, other)) == 0  # another subset: another run


@pytest.mark.parametrize(
    "edit, says",
    [
        (
            lambda r: r["evaluations"]["averaged"]["recomputed"].update(test_error_sampled=1.7),
            "column 'evaluations.averaged.recomputed.test_error_sampled' (run dataset digits, n_labels 100, seed 0, model ali): "
            "1.7 is out of range; expected a number >= 0 and <= 1",
        ),
        (lambda r: r["evaluations"].pop("live"), "has no key 'evaluations.live.recomputed.test_error_sampled'"),
        (lambda r: r.update(seed="zero"), "column 'seed': 'zero' is not a number"),
        (lambda r: r.update(model="GAN"), "column 'model'"),
    ],
)
def test_an_impossible_semisup_result_is_one_line(tmp_path, capsys, edit, says):
    record = _semisup_result(0)
    edit(record)
    path = _write_json(tmp_path / "r.json", record)
    _refused(capsys, _semisup_argv(tmp_path, path), f"'{path}'", says)


def test_a_semisup_result_that_is_not_json_is_one_line(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text('{"dataset": "digits", ')
    sidecar_digest.record(path)  # a writer killed mid-file would leave none; the parser is the check here
    _refused(capsys, _semisup_argv(tmp_path, path), f"semi-supervised result file '{path}' is not valid JSON")


# -------------------------------------------------------------------------- 1. SVM result files


def _svm_result(feature_set="paper", dim=2432, **changes) -> dict:
    return {
        "dataset": "digits",
        "feature_set": feature_set,
        "feature_dim": dim,
        "sampling": "balanced",
        "labels_per_svm": 100,
        "n_svms": 3,
        "chosen_c": 0.01,
        "validation_error": 0.05,
        "test_errors": [0.08, 0.09, 0.1],
        "test_examples": 250,
        "validation_examples": 250,
        "pool_examples": 1297,
        "unconverged": 0,
        "wall_time_s": 1.0,
        **changes,
    }


def _svm_argv(tmp_path, *paths, config=CONFIG) -> list[str]:
    return [
        "svm-table",
        "--config-json",
        config,
        "--results",
        *map(str, paths),
        "--out",
        str(tmp_path / "digits_svm_table.csv"),
    ]


@pytest.mark.parametrize(
    "changes, says",
    [
        (
            {"chosen_c": 0.0},
            "column 'chosen_c' (feature set dataset digits, feature_set paper): 0.0 is out of range; expected a number > 0",
        ),
        (
            {"test_errors": [0.1, 1.5]},
            "column 'test_errors' (feature set dataset digits, feature_set paper): item 1 1.5 is out of range",
        ),
        ({"test_errors": []}, "[] is not a non-empty list"),
        ({"feature_dim": "wide"}, "column 'feature_dim'"),
    ],
)
def test_an_impossible_svm_result_is_one_line(tmp_path, capsys, changes, says):
    path = _write_json(tmp_path / "digits_paper.json", _svm_result(**changes))
    _refused(capsys, _svm_argv(tmp_path, path), f"'{path}'", says, "rule svm")


def test_svm_table_refuses_a_feature_set_twice_and_a_missing_key(tmp_path, capsys):
    first = _write_json(tmp_path / "a.json", _svm_result())
    second = _write_json(tmp_path / "b.json", _svm_result())
    _refused(capsys, _svm_argv(tmp_path, first, second), "both hold feature set dataset digits, feature_set paper")
    _refused(capsys, _svm_argv(tmp_path, first, first), "is given twice")
    broken = _svm_result()
    del broken["test_errors"]
    _refused(capsys, _svm_argv(tmp_path, _write_json(tmp_path / "c.json", broken)), "has no key 'test_errors'")


# -------------------------------------------------------------------- 1. toy inference selection


def test_toy_inference_evaluate_refuses_a_selection_without_a_gan_run(tmp_path, capsys):
    selection = _write_json(
        tmp_path / "selection.json",
        {"ali": {"run": "ali-released-seed0", "seed": 0, "hyperparameter_set": "released"}, "rule": "most modes"},
    )
    _refused(
        capsys,
        [
            "toy-inference-evaluate",
            "--config-json",
            CONFIG,
            "--selection",
            str(selection),
            "--ali-models",
            str(tmp_path / "m.pt"),
            "--gan-models",
            str(tmp_path / "m.pt"),
            "--out",
            str(tmp_path / "t.csv"),
            "--out-arrays",
            str(tmp_path / "a.npz"),
        ],
        f"toy run selection '{selection}' has no key 'gan.run'",
        "rule toy_select",
    )


# ----------------------------------------------------------------- 1. the verdict's result tables


@pytest.mark.parametrize(
    "change, says",
    [
        ({"runs": "ten"}, "column 'runs' (row model ALI, hyperparameter_set released): 'ten' is not a number"),
        ({"pacgan_modes_mean": "lots"}, "column 'pacgan_modes_mean'"),
        (None, "has no column 'runs'"),
    ],
)
def test_verdict_refuses_a_result_table_with_a_wrong_or_missing_column(tmp_path, capsys, change, says):
    row = {
        "model": "ALI",
        "hyperparameter_set": "released",
        "runs": 10,
        "modes_mean": 24.0,
        "modes_std": 0.4,
        "pacgan_modes_mean": 24.0,
        "pacgan_modes_sem": 0.4,
    }
    row = {k: v for k, v in row.items() if k != "runs"} if change is None else {**row, **change}
    table = tmp_path / "toy_table.csv"
    pd.DataFrame([row]).to_csv(table, index=False)
    provenance.write(table, {"config": {}})
    _refused(
        capsys,
        ["verdict", "--config-json", CONFIG, "--tables", str(table), "--out", str(tmp_path / "verdict.csv")],
        f"'{table}'",
        says,
    )


# ------------------------------------------------------------- 3. checksums of the inputs read


def test_toy_table_provenance_lists_the_sha256_of_its_inputs_and_an_edit_changes_it(tmp_path):
    coverage = _write_coverage(tmp_path)
    out = tmp_path / "toy_table.csv"
    assert main(["toy-table", "--coverage", str(coverage), "--out", str(out)]) == 0
    inputs = provenance.read(out)["inputs"]
    sidecar = provenance.sidecar_path(coverage)
    assert inputs == {
        str(coverage): hashlib.sha256(coverage.read_bytes()).hexdigest(),
        str(sidecar): hashlib.sha256(sidecar.read_bytes()).hexdigest(),
    }
    _edit(coverage, 0, "modes", "25")  # rewritten by its command: the new table's provenance lists the new hash
    assert main(["toy-table", "--coverage", str(coverage), "--out", str(out)]) == 0
    edited = provenance.read(out)["inputs"]
    assert edited[str(coverage)] != inputs[str(coverage)]
    assert edited[str(coverage)] == hashlib.sha256(coverage.read_bytes()).hexdigest()


def test_a_coverage_table_edited_after_it_was_written_is_refused(tmp_path, capsys):
    """A plausible hand edit (modes 6 -> 25) passes every value check; the hash its sidecar recorded
    when toy-evaluate wrote it does not match any more, and the table command says so in one line."""
    coverage = _write_coverage(tmp_path)
    frame = pd.read_csv(coverage, dtype=str, keep_default_na=False)
    frame.loc[0, "modes"] = "25"
    frame.to_csv(coverage, index=False)
    _refused(
        capsys,
        ["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "toy_table.csv")],
        f"'{coverage}' changed after it was written",
        f"provenance file '{provenance.sidecar_path(coverage)}' recorded",
        "rule toy_evaluate",
    )
    assert not (tmp_path / "toy_table.csv").exists()
    provenance.sidecar_path(coverage).unlink()  # nothing left to vouch for it: refused too
    _refused(
        capsys,
        ["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "toy_table.csv")],
        f"provenance file '{provenance.sidecar_path(coverage)}' is missing",  # toy-table reads it first
    )


def test_semisup_and_svm_table_provenance_list_each_input_with_its_sha256(tmp_path):
    run0 = _write_json(tmp_path / "r0.json", _semisup_result(0))
    assert main(_semisup_argv(tmp_path, run0)) == 0
    assert provenance.read(tmp_path / "semisup_table.csv")["inputs"] == {
        str(run0): hashlib.sha256(run0.read_bytes()).hexdigest()
    }
    paper = _write_json(tmp_path / "digits_paper.json", _svm_result())
    assert main(_svm_argv(tmp_path, paper)) == 0
    assert provenance.read(tmp_path / "digits_svm_table.csv")["inputs"] == {
        str(paper): hashlib.sha256(paper.read_bytes()).hexdigest()
    }


# ------------------------------------------------------- 4. the notes say the settings that ran


def test_toy_table_notes_show_the_coverage_settings_that_ran(tmp_path):
    coverage = _write_coverage(
        tmp_path,
        _rows_of_16_modes(),
        grid=[-3.0, -1.0, 1.0, 3.0],
        coverage={"n_samples": 1234, "pacgan_n_samples": 777, "high_quality_stds": 2.5},
    )
    assert main(["toy-table", "--coverage", str(coverage), "--out", str(tmp_path / "toy_table.csv")]) == 0
    notes = (tmp_path / "toy_table.md").read_text()
    assert notes.startswith("# Toy 16-Gaussian mixture")
    for shown in ("of the mixture's 16", "one of 1,234 p(x) samples", "within 2.5 std", "score 777 samples"):
        assert shown in notes
    ours = "\n".join(line for line in notes.splitlines() if line.startswith(("# ", "- ")))  # the title and notes
    for default in ("25", "10,000", "2,500", "3 std"):
        assert default not in ours


def test_svm_table_notes_show_the_dimensions_counts_and_width_that_ran(tmp_path):
    paths = [
        _write_json(tmp_path / f"{name}.json", _svm_result(name, dim))
        for name, dim in (("paper", 2432), ("released-code", 1536))
    ]
    config = json.dumps({"images": {"digits": {"width": 0.25}}, "svm": {"log_c_low": -5, "log_c_high": 5, "n_c": 7}})
    assert main(_svm_argv(tmp_path, *paths, config=config)) == 0
    notes = (tmp_path / "digits_svm_table.md").read_text()
    for shown in (
        "2,432-d",
        "1,536-d",
        "0.25 x the paper's width",
        "over 3 SVMs",
        "exp(linspace(-5, 5, 7))",
        "250 test examples",
    ):
        assert shown in notes
    assert "8,960" not in notes and "5,376" not in notes


def test_semisup_notes_name_the_result_files_that_were_read(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    run0 = _write_json(folder / "digits_100labels_seed0_ali.json", _semisup_result(0))
    assert main(_semisup_argv(tmp_path, run0)) == 0
    notes = (tmp_path / "semisup_table.md").read_text()
    assert f"<dataset>_<labels>labels_seed<seed>_<ali|supervised|gan-fm>.json in {folder}" in notes


def test_verdict_protocol_names_the_high_quality_radius_that_ran(tmp_path):
    from ali_bench.verdict.comparisons import toy_comparisons

    row = {
        "model": "ALI",
        "hyperparameter_set": "released",
        "runs": 10,
        "pacgan_modes_mean": 24.0,
        "pacgan_modes_sem": 0.4,
    }
    record = {"config": {"trained": {"released": {}}, "coverage": {"high_quality_stds": 2.5}}}
    protocols = {c.measured_protocol for c in toy_comparisons(pd.DataFrame([row]), record) if c.measured_protocol}
    assert protocols == {"PacGAN: its own samples per run, nearest mean within 2.5 std"}
