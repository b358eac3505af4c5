"""Workflow-, config- and filesystem-level edge cases: each is refused in one line or handled safely.

- a results folder without Snakemake's metadata never serves models trained with other settings;
- one Snakemake run per results folder, and one writer's cleanup never removes another's temporary;
- a key given twice in a YAML config, a reversed range, an empty --config-json are refused;
- a number YAML keeps a string is explained for where it was written;
- a full disk or a read-only folder is one line naming the output.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ali_bench import atomic, checkpoint, cli, results_lock
from ali_bench.atomic import WriteFailed
from ali_bench.config import ConfigError, load_config

from conftest import REPO, TINY_TOY, fresh_checkout, run_cli, snakemake

ONE_TOY_SET = {
    **TINY_TOY,
    "hyperparameter_sets": ["released"],
    "seeds": [0],
    "training": {"epochs": 2, "checkpoint_every": 1},
}
MODELS = "res/toy/released/models.pt"


def _write_config(folder, **changes) -> str:
    toy = {**ONE_TOY_SET, **changes}
    path = folder / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {"device": "cpu", "results_dir": "res", "toy": toy, "toy_inference": {"select_from": "released"}}
        )
    )
    return str(path)


def _one_line_error(result) -> str:
    lines = [
        line for line in (result.stdout + result.stderr).splitlines() if "invalid config" in line or "error" in line
    ]
    assert result.returncode != 0 and lines, result.stdout + result.stderr
    return lines[0]


# -------------------------------------------------------------------------------------------------
# 1. a results folder copied without .snakemake/


@pytest.mark.slow
def test_a_results_folder_without_metadata_retrains_when_a_training_setting_changed(tmp_path):
    made, copied = tmp_path / "made", tmp_path / "copied"
    made.mkdir()
    copied.mkdir()
    snakemake(MODELS, "--cores", "1", "--configfile", _write_config(made), "--directory", str(made))
    shutil.copytree(made / "res", copied / "res")  # the results alone, mtimes kept; no .snakemake/
    assert not (copied / ".snakemake").exists()

    changed = _write_config(copied, released={"lr": 1e-3})
    plan = snakemake(MODELS, "--dry-run", "--cores", "1", "--configfile", changed, "--directory", str(copied))
    assert "rule toy_train:" in plan.stdout + plan.stderr, plan.stdout + plan.stderr
    same = _write_config(copied)
    plan = snakemake(MODELS, "--dry-run", "--cores", "1", "--configfile", same, "--directory", str(copied))
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout + plan.stderr

    # the dry runs wrote nothing: a real run with the changed setting retrains, then nothing is left to do
    before = (copied / MODELS).stat().st_mtime_ns
    snakemake(
        MODELS, "--cores", "1", "--configfile", _write_config(copied, released={"lr": 1e-3}), "--directory", str(copied)
    )
    assert (copied / MODELS).stat().st_mtime_ns != before
    plan = snakemake(
        MODELS, "--dry-run", "--cores", "1", "--configfile", str(copied / "config.yaml"), "--directory", str(copied)
    )
    assert "Nothing to be done" in plan.stdout + plan.stderr


@pytest.mark.slow
def test_a_results_folder_without_metadata_reruns_the_evaluation_whose_setting_changed(tmp_path):
    """toy.coverage.n_samples changed in a folder copied without .snakemake/: "Nothing to be done"
    and a stale table, before evaluations had settings stamps; now the evaluation and what reads it
    rerun, and the training does not."""
    made, copied = tmp_path / "made", tmp_path / "copied"
    made.mkdir()
    copied.mkdir()
    table = "res/toy_table.csv"
    snakemake(table, "--cores", "1", "--configfile", _write_config(made), "--directory", str(made))
    shutil.copytree(made / "res", copied / "res")  # the results alone, mtimes kept; no .snakemake/
    changed = _write_config(copied, coverage={**TINY_TOY["coverage"], "n_samples": 400})
    plan = snakemake(table, "--dry-run", "--cores", "1", "--configfile", changed, "--directory", str(copied))
    out = plan.stdout + plan.stderr
    assert "rule toy_evaluate:" in out and "rule toy_table:" in out, out
    assert "rule toy_train:" not in out, out
    same = _write_config(copied)
    plan = snakemake(table, "--dry-run", "--cores", "1", "--configfile", same, "--directory", str(copied))
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout + plan.stderr


# -------------------------------------------------------------------------------------------------
# 2. one writer per results folder; temporaries in flight are kept


def test_a_second_holder_of_a_results_folder_is_refused_naming_the_first(tmp_path):
    first = results_lock.hold(tmp_path / "res", REPO)
    try:
        with pytest.raises(results_lock.ResultsFolderBusy) as refused:
            results_lock.hold(tmp_path / "res", tmp_path)
        message = str(refused.value)
        assert "\n" not in message and f"'{tmp_path / 'res'}'" in message
        assert f"pid {os.getpid()}" in message and socket.gethostname() in message and str(REPO) in message
        assert "another results_dir" in message
    finally:
        first.close()
    results_lock.hold(tmp_path / "res", tmp_path).close()  # freed with its holder


def test_snakemake_refuses_a_results_folder_another_run_holds(tmp_path):
    config = _write_config(tmp_path)
    holder = results_lock.hold(tmp_path / "res", "/elsewhere/checkout")
    try:
        plan = snakemake(MODELS, "--dry-run", "--cores", "1", "--configfile", config, "--directory", str(tmp_path))
        assert "rule toy_train:" in plan.stdout + plan.stderr  # a dry run writes nothing and takes no lock
        result = snakemake(MODELS, "--cores", "1", "--configfile", config, "--directory", str(tmp_path), check=False)
    finally:
        holder.close()
    out = result.stdout + result.stderr
    assert result.returncode != 0
    line = next(line for line in out.splitlines() if "is in use by another Snakemake run" in line)
    assert f"pid {os.getpid()}" in line and "/elsewhere/checkout" in line and "res" in line
    _refusal_is_the_last_line(result)
    assert not (tmp_path / MODELS).exists() and not (tmp_path / "res/logs/toy_train_released.log").exists()


def test_a_run_refused_by_the_lock_leaves_the_holders_settings_stamps(tmp_path):
    """The refused run once replaced the first run's stamp before the lock refused it, and the first
    run's next invocation then said "Nothing to be done" over tables trained with the other settings."""
    stamps = tmp_path / "res" / ".trained_with" / "toy_train" / "hparams=released"
    stamps.mkdir(parents=True)
    (stamps / "0123456789abcdef.json").write_text("{}")  # the holder's settings
    holder = results_lock.hold(tmp_path / "res", "/elsewhere/checkout")
    try:
        config = _write_config(tmp_path, released={"lr": 1e-3})
        result = snakemake(MODELS, "--cores", "1", "--configfile", config, "--directory", str(tmp_path), check=False)
    finally:
        holder.close()
    assert result.returncode != 0 and "is in use by another Snakemake run" in result.stdout + result.stderr
    assert sorted(p.name for p in stamps.iterdir()) == ["0123456789abcdef.json"]
    _refusal_is_the_last_line(result)  # refused while the DAG is built (the first stamp it would write)


def _refusal_is_the_last_line(result) -> None:
    out = (result.stdout + result.stderr).strip()
    assert out.splitlines()[-1].startswith("error: results folder ") and "Traceback" not in out, out
    assert not list((Path(result.args[result.args.index("--directory") + 1]) / ".snakemake/locks").glob("*"))


def test_a_run_refused_by_the_lock_writes_nothing_in_the_results_folder(tmp_path):
    """The lock before any write, checked over the whole DAG: a run of every default target, refused
    because another run holds the folder, leaves no file there but the lock (no settings stamp, data
    manifest, log or verdict), whatever it would have written first."""
    holder = results_lock.hold(tmp_path / "res", "/elsewhere/checkout")
    try:
        config = _write_config(tmp_path, released={"lr": 1e-3})
        result = snakemake("--cores", "1", "--configfile", config, "--directory", str(tmp_path), check=False)
    finally:
        holder.close()
    assert result.returncode != 0 and "is in use by another Snakemake run" in result.stdout + result.stderr
    written = sorted(str(p.relative_to(tmp_path / "res")) for p in (tmp_path / "res").rglob("*") if p.is_file())
    assert written == [results_lock.LOCK_NAME], written


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_write_removes_only_temporaries_that_are_no_longer_in_flight(tmp_path):
    out = tmp_path / "table.csv"
    host = atomic._host()
    living = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        in_flight = tmp_path / f".table.{living.pid}@{host}@abc123.tmp.csv"
        killed = tmp_path / f".table.{_dead_pid()}@{host}@def456.tmp.csv"
        elsewhere = tmp_path / f".table.{_dead_pid()}@another-node@ghi789.tmp.csv"
        old_style = tmp_path / ".table.k2j4h5g6.tmp.csv"  # named before writers named themselves
        checkpoint_temporary = tmp_path / f".table.checkpoint.{living.pid}@{host}@xyz.tmp.csv"  # another output's
        for path in (in_flight, killed, elsewhere, old_style, checkpoint_temporary):
            path.write_text("partial")
        atomic.write_text(out, "done\n")
        assert out.read_text() == "done\n"
        assert in_flight.exists() and elsewhere.exists() and checkpoint_temporary.exists()
        assert not killed.exists() and not old_style.exists()
        long_ago = time.time() - atomic.STALE_AFTER_SECONDS - 60
        os.utime(elsewhere, (long_ago, long_ago))  # another host's writer is judged by age alone
        atomic.write_text(out, "again\n")
        assert not elsewhere.exists() and in_flight.exists()
    finally:
        living.kill()
        living.wait()


def test_a_temporary_names_its_writer(tmp_path):
    seen = []
    with atomic.atomic_path(tmp_path / "models.pt") as tmp:
        seen.append(tmp.name)
        tmp.write_bytes(b"x")
    assert seen[0].startswith(f".models.{os.getpid()}@{atomic._host()}@") and seen[0].endswith(".tmp.pt")


# -------------------------------------------------------------------------------------------------
# 3.-6. config refusals and advice


DUPLICATED = "device: cpu\ntoy:\n  training:\n    epochs: 3\n  seeds: [0]\n  training:\n    epochs: 5\n"


def test_a_key_given_twice_in_a_config_file_is_refused_by_the_cli(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(DUPLICATED)
    result = run_cli("show-config", "--config", str(path), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert f"'{path}'" in result.stderr and "'toy.training'" in result.stderr and "lines 3 and 6" in result.stderr


def test_a_key_given_twice_in_a_configfile_is_refused_by_the_workflow(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(f"results_dir: {tmp_path / 'out'}\n" + DUPLICATED)
    result = snakemake(
        "--dry-run", "--cores", "1", "--configfile", str(path), "--directory", str(tmp_path), check=False
    )
    line = _one_line_error(result)
    assert "invalid config" in line and f"'{path}'" in line and "'toy.training'" in line and "lines 4 and 7" in line


def test_a_reversed_range_is_refused_naming_both_keys(tmp_path):
    with pytest.raises(ConfigError, match=r"'svm.log_c_low' = 5 and 'svm.log_c_high' = -5 are reversed"):
        load_config({"svm": {"log_c_low": 5, "log_c_high": -5}})
    with pytest.raises(ConfigError, match=r"'toy.random_search.lr.low' = 0.1 and 'toy.random_search.lr.high' = 0.01"):
        load_config({"toy": {"random_search": {"lr": {"low": 0.1, "high": 0.01, "log": True}}}})
    path = tmp_path / "reversed.yaml"
    path.write_text(yaml.safe_dump({"results_dir": str(tmp_path / "out"), "svm": {"log_c_low": 5, "log_c_high": -5}}))
    result = snakemake(
        "--dry-run", "--cores", "1", "--configfile", str(path), "--directory", str(tmp_path), check=False
    )
    assert "'svm.log_c_low' = 5 and 'svm.log_c_high' = -5 are reversed" in _one_line_error(result)


@pytest.mark.parametrize("empty", ["{}", "null", " {} "])
def test_an_empty_config_json_is_refused(empty):
    result = run_cli("show-config", "--config-json", empty, check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--config-json" in result.stderr and "empty" in result.stderr and "paper scale" in result.stderr


def test_a_number_yaml_keeps_a_string_is_explained_for_a_file(tmp_path):
    path = tmp_path / "sci.yaml"
    path.write_text(f"results_dir: {tmp_path / 'out'}\ntoy:\n  released:\n    lr: 3e-4\n")
    result = run_cli("show-config", "--config", str(path), check=False)
    assert result.returncode == 2 and f"config file '{path}'" in result.stderr and "3.0e-4" in result.stderr
    assert "--configfile" not in result.stderr
    workflow = _one_line_error(
        snakemake("--dry-run", "--cores", "1", "--configfile", str(path), "--directory", str(tmp_path), check=False)
    )
    assert "'toy.released.lr'" in workflow and f"config file '{path}'" in workflow and "3.0e-4 or 0.0003" in workflow


def test_a_results_dir_with_a_space_is_refused_at_start(tmp_path):
    """It once split the rules' shell commands, and the real error landed in a stray file outside it."""
    path = tmp_path / "spaced.yaml"
    path.write_text(f"results_dir: {tmp_path / 'my results'}\n")
    line = _one_line_error(
        snakemake("--dry-run", "--cores", "1", "--configfile", str(path), "--directory", str(tmp_path), check=False)
    )
    assert "config key 'results_dir'" in line and "contains whitespace" in line
    assert not (tmp_path / "my results").exists() and not (tmp_path / "my").exists()


def test_an_integer_yaml_keeps_a_string_is_told_the_integer_spelling(tmp_path):
    """``epochs: 1e3`` once got "write it as 1.0e+3", which the integer key then refused in turn."""
    path = tmp_path / "sci.yaml"
    path.write_text(f"results_dir: {tmp_path / 'out'}\ntoy:\n  training:\n    epochs: 1e3\n")
    result = run_cli("show-config", "--config", str(path), check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "'toy.training.epochs'" in result.stderr and "write it as 1000)" in result.stderr
    assert "1.0e+3" not in result.stderr
    path.write_text(f"results_dir: {tmp_path / 'out'}\ntoy:\n  training:\n    epochs: 1000\n")
    assert run_cli("show-config", "--config", str(path)).returncode == 0  # the advice, followed, is accepted


def test_a_number_the_command_line_keeps_a_string_keeps_the_configfile_advice(tmp_path):
    result = snakemake(
        "--dry-run",
        "--cores",
        "1",
        "--config",
        f"results_dir={tmp_path / 'out'}",
        "toy={released: {lr: 3e-4}}",
        cwd=fresh_checkout(tmp_path),
        check=False,
    )  # a clone's config/config.yaml
    line = _one_line_error(result)
    assert "'toy.released.lr'" in line and "put the value in a --configfile" in line and "config file '" not in line


# -------------------------------------------------------------------------------------------------
# 7. a full disk, a read-only folder


def test_a_full_disk_during_a_checkpoint_is_one_line_naming_it(tmp_path, monkeypatch):
    import torch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    path = tmp_path / "run" / "models.checkpoint.pt"
    with pytest.raises(WriteFailed) as failed:
        checkpoint.save(path, {"format": "x"})
    message = str(failed.value)
    assert (
        "\n" not in message and f"'{path}'" in message and "no space left on device" in message and "rerun" in message
    )
    assert not list(path.parent.glob(".*.tmp.pt"))  # its temporary went with it


def test_a_full_disk_torch_reports_without_errno_is_named_too(tmp_path, monkeypatch):
    import torch

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(atomic, "_free_bytes", lambda folder: 0)
    with pytest.raises(WriteFailed, match="no space left on device"):
        checkpoint.save(tmp_path / "models.pt", {"format": "x"})


def test_a_table_that_cannot_be_written_is_one_line_from_the_cli(tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "verdict.csv"
    assert cli.main(["verdict", "--config-json", '{"verdict": {}}', "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"'{out}'" in err[0] and "no space left on device" in err[0]


def test_a_read_only_folder_is_one_line_naming_the_output(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", denied)
    with pytest.raises(WriteFailed) as failed:
        atomic.write_text(tmp_path / "table.csv", "x")
    message = str(failed.value)
    assert (
        f"'{tmp_path / 'table.csv'}'" in message
        and "permission denied: the folder" in message
        and ".tmp" not in message
    )


def test_a_read_only_file_system_is_not_told_to_chmod(tmp_path, monkeypatch):
    """EROFS was told "make it writable (chmod u+w)", which no chmod on a read-only mount can do."""

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    with pytest.raises(WriteFailed) as failed:
        atomic.write_text(tmp_path / "table.csv", "x")
    message = str(failed.value)
    assert f"'{tmp_path / 'table.csv'}'" in message and "mounted read-only" in message
    assert "chmod" not in message and "\n" not in message


@pytest.fixture
def read_only_mount(tmp_path):
    """A real read-only file system (a tmpfs mounted, then remounted read-only), or a skip where this
    user cannot mount one."""
    mount = tmp_path / "read-only"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode:
        pytest.skip("mounting a read-only file system needs root")
    try:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_run_on_a_read_only_file_system_is_one_line_not_a_traceback(tmp_path, read_only_mount):
    """The results lock is a run's first write: on a read-only mount its OSError came out of a settings
    stamp's input function as a traceback. Now the line any output gets, last, and no chmod advice."""
    config = _write_config(tmp_path)
    Path(config).write_text(Path(config).read_text().replace("results_dir: res", f"results_dir: {read_only_mount}/res"))
    result = snakemake(
        f"{read_only_mount}/res/toy/released/models.pt",
        "--cores",
        "1",
        "--configfile",
        str(tmp_path / "config.yaml"),
        "--directory",
        str(tmp_path),
        check=False,
    )
    out = (result.stdout + result.stderr).strip()
    assert result.returncode == 1 and "Traceback" not in out, out
    assert out.splitlines()[-1] == (
        f"error: cannot write '{read_only_mount}/res/.ali-bench.lock': the file system of '{read_only_mount}/res' is "
        "mounted read-only; set results_dir to a folder on a writable disk (or remount it read-write), then rerun"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder")
def test_a_chmod_read_only_results_folder_is_one_line(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(WriteFailed, match="permission denied: the folder .* is read-only"):
            atomic.write_text(folder / "table.csv", "x")
    finally:
        folder.chmod(0o755)
