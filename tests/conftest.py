"""Shared fixtures: tiny configs and a way to run the workflow exactly as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ali_bench.config import load_config

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# The files that take a minute or more, longest first (measured on 2 CPU cores, 2026-12-01;
# benchmarks/RESULTS.md). pytest-xdist's --dist loadfile hands files to its workers in collection
# order; handing these out first keeps both CI workers busy to the end, instead of leaving one to
# run workflow/test_workflow.py (last by name) alone. Files not listed follow in their usual order.
# Paths are relative to tests/.
LONGEST_FIRST = (
    "workflow/test_slurm_cluster.py",  # about 9 minutes of one worker with a cluster (seconds without: skipped)
    "workflow/test_workflow.py",
    "conditional/test_learning_conditional.py",
    "images/test_image_training.py",
    "images/test_learning_images.py",
    "toy/test_toy_batched.py",
    "toy/test_toy_cli.py",
    "toy/test_learning_toy.py",
    "core/test_trained_with.py",
    "conditional/test_conditional.py",
    "semisup/test_learning_semisup.py",
    "images/test_batchnorm_images.py",
)


# Folders git ignores that belong to the user of this checkout: a finished quick run, data, logs,
# Snakemake's state. The suite must leave them as it found them, as it must every file git shows.
USER_FOLDERS = ("results", "data", "logs", ".snakemake")
_CHECKOUT = pytest.StashKey[dict]()  # the controller's state of the checkout at the start


def checkout_state(root: Path) -> dict[str, tuple[int, int]] | None:
    """Every path `git status` shows in ``root``, and every file under its USER_FOLDERS, each with its
    size and mtime; None outside a git checkout (an unpacked sdist has nothing to guard)."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "-z"], cwd=root, capture_output=True, text=True
    )
    if status.returncode != 0:
        return None
    paths = [root / entry[3:] for entry in status.stdout.split("\0") if len(entry) > 3]
    paths += [path for folder in USER_FOLDERS for path in (root / folder).rglob("*") if path.is_file()]
    state = {}
    for path in paths:
        stat = path.stat() if path.exists() else None
        state[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns) if stat else (-1, -1)
    return state


def changed_paths(before: dict, after: dict) -> list[str]:
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without workers) guards
        session.config.stash[_CHECKOUT] = checkout_state(REPO)


def pytest_sessionfinish(session):
    """Fail the run when the suite changed the checkout: a test that runs in it depends on what the
    user did before (the README's first command) and destroys what it finds."""
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None:
        return
    changed = changed_paths(before, checkout_state(REPO) or {})
    if changed:
        shown = "\n  ".join(changed[:20]) + ("\n  ..." if len(changed) > 20 else "")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (
            f"the suite changed this checkout (tests run in tmp_path, never in {REPO}; or it was edited while "
            f"the suite ran):\n  {shown}"
        )
        if reporter:
            reporter.ensure_newline()
            reporter.write_sep("=", "checkout changed", red=True)
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def name(path: Path) -> str:
        return path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else str(path)

    items.sort(key=lambda item: rank.get(name(item.path), len(rank)))  # stable: a file's tests keep their order


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
def one_thread():
    """Learning tests run torch on one thread (a multi-threaded CPU run of a seed is not bit-identical
    from run to run), and give the rest of the suite its threads back afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config():
    return load_config({"device": "cpu", "toy": TINY_TOY, "toy_inference": TINY_INFERENCE})


# the header of the official list_attr_celeba.txt, written out here independently of the package's copy
CELEBA_ATTRIBUTE_NAMES = """
    5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose
    Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee
    Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard
    Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair
    Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young
""".split()


def write_celeba_folder(
    root: Path, partition: tuple[int, ...] = (0, 0, 0, 1, 2, 2)
) -> tuple[np.ndarray, tuple[int, ...]]:
    """A CelebA folder in the official layout (aligned JPEGs, attribute and partition lists), random
    pixels and ±1 attributes; ``partition`` gives each image's split (0 train, 1 valid, 2 test)."""
    n = len(partition)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    attrs = rng.choice([-1, 1], size=(n, 40))
    lines = [str(n), " ".join(CELEBA_ATTRIBUTE_NAMES)]
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            folder / "img_align_celeba" / name, quality=95
        )
        lines.append(name + " " + " ".join(f"{v:2d}" for v in attrs[i]))
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{i + 1:06d}.jpg {p}\n" for i, p in enumerate(partition)))
    return attrs, partition


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

    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
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
    must say it resumed and end with the same final checkpoint as the straight run."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run_cli(*train_args(straight))
    checkpoint = killed / "models.checkpoint.pt"
    kill_at_first_checkpoint([sys.executable, "-m", "ali_bench", *train_args(killed)], checkpoint)
    assert not (killed / "models.pt").exists()
    rerun = run_cli(*train_args(killed))
    assert "resuming" in rerun.stderr
    # the final checkpoint stays (a rerun after an interrupted Snakemake reuses it; ali_bench/resumable.py)
    assert (
        torch.load(checkpoint, weights_only=True)["epoch"]
        == torch.load(straight / checkpoint.name, weights_only=True)["epoch"]
    )
    return straight, killed


def snakemake_env() -> dict:
    """The environment for a Snakemake subprocess: its job shells find this environment's python first."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


def fresh_checkout(folder: Path) -> Path:
    """What a clone holds (the workflow, the package, the configs and profiles), copied under ``folder``
    without results, data or Snakemake's state: a test that runs Snakemake or `plan` as a user types
    them (relative paths, default results folder) runs there, never in this checkout, whose
    `results/` may hold a finished quick run (README, "Two commands")."""
    checkout = folder / "ali-bench"
    checkout.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake")
    for name in ("Snakefile", "environment.yml", "pyproject.toml"):
        shutil.copy2(REPO / name, checkout / name)
    for name in ("workflow", "ali_bench", "config", "profiles"):
        shutil.copytree(REPO / name, checkout / name, ignore=ignore, symlinks=True)
    return checkout


def snakemake(
    *args: str, cwd: Path | None = None, check: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run Snakemake from this environment; job shells find this environment's python first. It runs
    in ``cwd`` or the ``--directory`` it is given, never in this checkout (whose results and
    .snakemake/ belong to the user). ``timeout``: seconds, then ``subprocess.TimeoutExpired``."""
    working = Path(args[args.index("--directory") + 1]) if "--directory" in args else cwd
    if working is None or working.resolve() == REPO:
        raise AssertionError("a test runs Snakemake in a temporary folder: pass --directory or cwd under tmp_path")
    env = snakemake_env()
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result
