"""Shared fixtures: tiny configs and a way to run the workflow exactly as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ali_bench.config import load_config

REPO = Path(__file__).resolve().parents[1]

# A toy config small enough for a unit test: same code paths, seconds on two cores.
TINY_TOY = {
    "seeds": [0, 1],
    "mixture": {"n_train": 1000, "n_test": 200},
    "network": {"encoder_hidden": [32, 32], "decoder_hidden": [32, 32], "discriminator_units": 16},
    "training": {"epochs": 3, "checkpoint_every": 1},
    "coverage": {"n_samples": 500},
}
TINY_INFERENCE = {"epochs": 3, "mmd_samples": 100}


@pytest.fixture
def tiny_config():
    return load_config({"device": "cpu", "toy": TINY_TOY, "toy_inference": TINY_INFERENCE})


def run_cli(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """``python -m ali_bench ...`` in a subprocess, as the workflow runs it."""
    result = subprocess.run([sys.executable, "-m", "ali_bench", *args], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"ali_bench {' '.join(args)} failed:\n{result.stderr}")
    return result


def kill_at_first_checkpoint(argv: list[str], checkpoint: Path, env: dict | None = None, timeout: float = 300) -> None:
    """Start ``argv``, SIGKILL it (and its process group) as soon as ``checkpoint`` appears: a real kill
    mid-training. Fails if the run ended before writing a checkpoint."""
    import os
    import signal
    import time

    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + timeout
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), f"the run finished or failed before writing '{checkpoint}'"


def straight_and_resumed_runs(train_args, tmp_path: Path) -> tuple[Path, Path]:
    """Run the CLI command ``train_args(out_dir)`` once straight through, and once killed at its first
    checkpoint and rerun; return both output folders for the caller to compare. The resumed run
    must say it resumed and leave no checkpoint behind."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run_cli(*train_args(straight))
    checkpoint = killed / "models.checkpoint.pt"
    kill_at_first_checkpoint([sys.executable, "-m", "ali_bench", *train_args(killed)], checkpoint)
    assert not (killed / "models.pt").exists()
    rerun = run_cli(*train_args(killed))
    assert "resuming" in rerun.stderr
    assert not checkpoint.exists()  # cleaned up once the final models file is written
    return straight, killed


def snakemake_env() -> dict:
    """The environment for a Snakemake subprocess: its job shells find this environment's python first."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def snakemake(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake from this environment; job shells find this environment's python first."""
    env = snakemake_env()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd, capture_output=True, text=True, env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
