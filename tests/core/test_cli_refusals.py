"""Arguments that can never work are refused in one line before any training starts."""

import time

import pytest

from ali_bench import cli
from ali_bench.config import ConfigError, load_config

TOY_ARGS = ["toy-train", "--config-json", "{}", "--hyperparameters", "released", "--log", "log.csv"]


def _refusal(capsys, argv: list[str]) -> str:
    """Run the CLI in-process; return its one error line. argparse refusals exit 2 through SystemExit,
    the CLI's own return 2; either way at once, before any work."""
    started = time.perf_counter()
    try:
        code = cli.main(argv)
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    assert time.perf_counter() - started < 5, "refused only after starting work"
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("flag, value", [("--threads", "0"), ("--threads", "-1")])
def test_threads_below_one_are_refused(capsys, flag, value, tmp_path):
    line = _refusal(capsys, TOY_ARGS + ["--out", str(tmp_path / "m.pt"), flag, value])
    assert "--threads" in line and "expected an integer >= 1" in line


def test_negative_seed_is_refused(capsys, tmp_path):
    argv = [
        "semisup-train",
        "--config-json",
        "{}",
        "--dataset",
        "digits",
        "--labels",
        "100",
        "--seed",
        "-3",
        "--out",
        str(tmp_path / "r.json"),
        "--log",
        str(tmp_path / "l.csv"),
    ]
    line = _refusal(capsys, argv)
    assert "--seed" in line and "expected an integer >= 0" in line


@pytest.mark.parametrize("labels, expected", [("0", "expected an integer >= 1"), ("7", "multiple of 10")])
def test_label_counts_that_cannot_be_class_balanced_are_refused(capsys, tmp_path, labels, expected):
    argv = [
        "semisup-train",
        "--config-json",
        "{}",
        "--dataset",
        "digits",
        "--labels",
        labels,
        "--seed",
        "0",
        "--out",
        str(tmp_path / "r.json"),
        "--log",
        str(tmp_path / "l.csv"),
    ]
    assert expected in _refusal(capsys, argv)


def test_duplicate_seeds_are_refused(capsys, tmp_path):
    line = _refusal(capsys, TOY_ARGS + ["--out", str(tmp_path / "m.pt"), "--seeds", "1", "2", "1"])
    assert line == "error: --seeds lists seed 1 more than once; expected distinct seeds"


def test_an_output_that_is_a_directory_is_refused_before_training(capsys, tmp_path):
    line = _refusal(capsys, TOY_ARGS + ["--out", str(tmp_path)])
    assert line == f"error: --out '{tmp_path}' is an existing directory; expected a file path"


def test_an_output_under_a_file_is_refused_before_training(capsys, tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("I am a file")
    line = _refusal(capsys, TOY_ARGS + ["--out", str(blocker / "toy" / "m.pt")])
    assert line == f"error: --out '{blocker / 'toy' / 'm.pt'}': '{blocker}' is a file, not a directory"


@pytest.mark.parametrize("results_dir", ["/", "  ", "/../"])
def test_results_dir_at_the_filesystem_root_or_blank_is_refused(results_dir):
    with pytest.raises(ConfigError, match="config key 'results_dir'"):
        load_config({"results_dir": results_dir})
