"""The user's own command as typed: `snakemake --cores 8 results/svhn_table.csv` in a fresh checkout
says in the terminal why it stops, fetches what it may, never starts days of CPU work unasked, and
`python -m ali_bench plan` prices a target before it runs.

The network is closed the way a machine without internet closes it (proxies that refuse every
connection), so these tests never download, whatever machine runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ali_bench import cost
from ali_bench.config import ConfigError, load_config

from conftest import REPO, fresh_checkout, run_cli, snakemake_env

NO_NETWORK = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "",
    "NO_PROXY": "",
}


def _as_typed(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    """`snakemake --cores 8 results/svhn_table.csv ...` from the checkout, as a user types it (no
    --snakefile, no profile named: Snakemake finds both), with no network."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "8", "results/svhn_table.csv", *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={**snakemake_env(), **NO_NETWORK},
        timeout=600,
    )


def test_the_svhn_command_without_data_or_network_says_why_in_the_terminal(tmp_path):
    """images.download is auto: the prepare_data job tries to fetch SVHN; without network its one
    line (the URL, where to put the file, how to stop downloads) is in the terminal, not only in a log,
    and it is the terminal's last line (the Snakefile's onerror handler), not ~40 lines up."""
    result = _as_typed(fresh_checkout(tmp_path))
    terminal = result.stdout + result.stderr
    assert result.returncode != 0
    reason = [line for line in terminal.splitlines() if line.startswith("error: could not download")]
    assert reason, terminal[-3000:]
    assert "http://ufldl.stanford.edu/housenumbers/" in reason[0] and "_32x32.mat into '" in reason[0]
    assert "images.download: false" in reason[0]
    assert result.stderr.rstrip().splitlines()[-1] in reason, terminal[-3000:]


def test_the_svhn_command_with_downloads_off_names_the_missing_file_in_the_terminal(tmp_path):
    checkout = fresh_checkout(tmp_path)
    config = checkout / "config" / "config.yaml"
    config.write_text(config.read_text().replace("  download: auto ", "  download: false"))
    result = _as_typed(checkout)
    terminal = result.stdout + result.stderr
    assert result.returncode != 0
    reason = [line for line in terminal.splitlines() if line.startswith("error: dataset file")]
    assert reason and "_32x32.mat' is missing" in reason[0], terminal[-3000:]
    assert "http://ufldl.stanford.edu/housenumbers/" in reason[0] and "images.download: true" in reason[0]
    assert result.stderr.rstrip().splitlines()[-1] in reason, terminal[-3000:]


def test_download_auto_fetches_svhn_and_cifar10_and_leaves_celeba_to_the_user():
    from ali_bench.data.images import wants_download

    assert load_config({}).images.download == "auto"
    assert [d for d in ("digits", "svhn", "cifar10", "celeba", "tiny_imagenet") if wants_download(d, "auto")] == [
        "svhn",
        "cifar10",
    ]
    assert wants_download("celeba", True) and not wants_download("svhn", False)
    with pytest.raises(ConfigError, match="'images.download'"):
        load_config({"images": {"download": "sometimes"}})


@pytest.mark.skipif(torch.cuda.is_available(), reason="device auto picks this machine's GPU: nothing to refuse")
def test_days_of_cpu_training_under_device_auto_are_refused_with_the_projection(tmp_path):
    """100,000 digits epochs (120 million images) under device auto on a machine without CUDA."""
    config = json.dumps({"images": {"digits": {"epochs": 100000}}})
    result = run_cli(
        "image-train",
        "--config-json",
        config,
        "--dataset",
        "digits",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
        "--no-progress",
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "image-train --dataset digits: 1,200,000 steps of 100 images on the CPU would take about" in lines[0]
    assert "days)" in lines[0] and "'device: cpu'" in lines[0] and "config/quick.yaml" in lines[0]
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.checkpoint.pt").exists()


def test_the_refusal_applies_only_to_device_auto_landing_on_a_cpu():
    long = cost.TrainingCost(
        steps=10**7, batch=100, images_per_step=100, flops_per_image=1e9, parameters=1, activation_bytes=0, data_bytes=0
    )
    with pytest.raises(ConfigError, match="would take about"):
        cost.refuse_unasked_cpu("x", lambda: long, "auto", "cpu")
    for choice, device in (("cpu", "cpu"), ("auto", "cuda"), ("cuda", "cuda")):
        cost.refuse_unasked_cpu("x", lambda: long, choice, device)  # asked for, or on a GPU: runs
    short = cost.TrainingCost(
        steps=100, batch=100, images_per_step=100, flops_per_image=1e9, parameters=1, activation_bytes=0, data_bytes=0
    )
    cost.refuse_unasked_cpu("x", lambda: short, "auto", "cpu")


def test_the_cpu_cost_model_reproduces_the_measured_steps():
    """The counted FLOPs of the SVHN step are the benchmark's 1.007 GFLOP per image; the model gives
    back the SVHN step it was fitted to (928.78 ms) and, within 25 %, the reference CPU run's digits
    training it was not fitted to (its committed Snakemake benchmark)."""
    images = load_config({}).images
    svhn = cost.image_training_cost("svhn", images, 531_131, epochs=100, batch=100, width=1.0)
    assert svhn.flops_per_image == pytest.approx(1.007e9, rel=1e-3)
    assert svhn.hours("cpu") * 3600 / svhn.steps == pytest.approx(0.92878, rel=1e-3)
    reference = load_config(REPO / "config" / "reference-cpu.yaml").images
    run = reference.digits
    digits = cost.image_training_cost(
        "digits", reference, 1297, epochs=run.epochs, batch=run.batch_size, width=run.width
    )
    tsv = (REPO / "results" / "reference" / "cpu" / "benchmarks" / "image_train_digits.tsv").read_text().splitlines()
    measured_s = float(tsv[1].split("\t")[0])
    assert digits.hours("cpu") * 3600 == pytest.approx(measured_s, rel=0.25)


def test_plan_prices_the_svhn_target_from_its_dry_run(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ali_bench", "plan", "results/svhn_table.csv"],
        cwd=fresh_checkout(tmp_path),
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("image_train ")}
    assert set(rows) == {"dataset=svhn"} and "531,100" in rows["dataset=svhn"]
    assert "GiB" in rows["dataset=svhn"] and "estimate" in result.stdout and "prepare_data ×3" in result.stdout
    if not torch.cuda.is_available():
        assert "137 h" in rows["dataset=svhn"] and "(refused)" in rows["dataset=svhn"]


def test_plan_passes_snakemake_options_through_as_typed(tmp_path):
    """--configfile reaches the dry run (the quick config's short digits run), and a dry run that fails
    is one line. In a fresh checkout: in one where the README's first command has run, nothing is
    left to price."""
    checkout = fresh_checkout(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ali_bench", "plan", "--configfile", "config/quick.yaml"],
        cwd=checkout,
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    digits = next(line for line in result.stdout.splitlines() if line.startswith("image_train dataset=digits"))
    steps = load_config(REPO / "config" / "quick.yaml").images.digits
    assert f"{steps.epochs * (1297 // steps.batch_size):,}" in digits.split()
    failed = subprocess.run(
        [sys.executable, "-m", "ali_bench", "plan", "results/no_such_table.csv"],
        cwd=checkout,
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=300,
    )
    assert (
        failed.returncode == 2
        and failed.stderr.startswith("error: the dry run")
        and len(failed.stderr.splitlines()) == 1
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="device auto picks this machine's GPU: nothing to refuse")
def test_a_paper_scale_toy_set_under_device_auto_on_a_cpu_is_refused(tmp_path):
    """20 runs of 200,000 steps: 13 h on the reference CPU (the measured step, benchmarks/RESULTS.md)."""
    result = run_cli(
        "toy-train",
        "--config",
        str(REPO / "config" / "config.yaml"),
        "--hyperparameters",
        "released",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
        "--no-progress",
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert (
        "toy-train --hyperparameters released: 200,000 steps of 20 runs on the CPU would take about 13.2 h" in lines[0]
    )
    assert "'device: cpu'" in lines[0] and not (tmp_path / "m.pt").exists()
    steps, hours = cost.toy_training_hours(load_config(REPO / "config" / "quick.yaml").toy, 2)
    assert steps == 16000 and hours < 0.1  # the quick toy set: minutes, never refused
