"""The offline GPU kit (tools/offline-gpu/device_run.sh) on the CPU: its slices plan the whole reference
run, it packs what a device call brings back, and a copy without .git can be told its commit."""

import re
import subprocess
import tarfile

import pytest

from ali_bench.provenance import git_state

from conftest import REPO, snakemake_env

KIT = REPO / "tools/offline-gpu/device_run.sh"


def _kit(tmp_path, *steps, **env):
    work, out = tmp_path / "work", tmp_path / "out"
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["bash", str(KIT), *steps],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(
            snakemake_env(),
            ALI_BENCH_GPU_WORK=str(work),
            OUT=str(out),
            ALI_BENCH_GPU_WHEELS=str(tmp_path / "no-wheels"),
            **env,
        ),
    )  # this env's snakemake
    return result, work, out


def _planned_jobs(log: str) -> dict[str, int]:
    """Snakemake's dry-run job table: rule -> count."""
    table = log.split("Job stats:")[1].split("total")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


@pytest.mark.slow
def test_the_three_slices_plan_every_job_of_the_reference_run(tmp_path):
    result, _, out = _kit(tmp_path, "start:toy,toy_inference,digits", "wait:200", SNAKEMAKE_ARGS="--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    status = (out / "status.txt").read_text()
    assert "run: finished" in status and "slices: toy,toy_inference,digits" in status
    sliced = _planned_jobs((out / "snakemake.log").read_text())
    everything, _, out_all = _kit(tmp_path / "all", "start:all", "wait:200", SNAKEMAKE_ARGS="--dry-run")
    assert everything.returncode == 0, everything.stdout + everything.stderr
    planned = _planned_jobs((out_all / "snakemake.log").read_text())
    # the slices leave nothing of rule all out; the verdict job aside: a slice's run gets the verdict
    # of the tables that exist from the onsuccess handler when it ends (tests/workflow/test_workflow.py)
    assert planned.pop("all") == 1 and planned.pop("verdict") == 1 and sliced == planned
    assert sliced["toy_train"] == 2 and sliced["semisup_run"] == 30 and sliced["toy_infer"] == 3  # 10 seeds x 3 models


@pytest.mark.slow
def test_the_eager_fallback_of_the_recipe_reaches_every_training(tmp_path):
    """RESULTS.md's fallback when graph capture fails. ``--config`` and ``--resources`` take lists:
    targets after either are read as entries and the run does not start (the kit's first version put
    them after ``--resources``; only the slices test's ``--dry-run`` between them hid it)."""
    result, _, out = _kit(tmp_path, "start:toy", "wait:200", SNAKEMAKE_ARGS="--dry-run -p --config cuda_graphs=False")
    assert result.returncode == 0, result.stdout + result.stderr
    log = (out / "snakemake.log").read_text()
    assert "run: finished" in (out / "status.txt").read_text(), log
    commands = [line for line in log.splitlines() if "ali_bench toy-train" in line]
    assert len(commands) == 2 and all('"cuda_graphs": false' in line for line in commands), log


@pytest.mark.slow
def test_a_later_call_names_the_commit_of_the_run_it_reports_on(tmp_path):
    """RESULTS.md's second call is told no commit: its status named "unknown" on a copy without
    .git, though the run it reports on was started, told, by the first call."""
    first, work, _ = _kit(tmp_path, "start:toy", "wait:200", SNAKEMAKE_ARGS="--dry-run")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (work / "commit").read_text().strip() == git_state(REPO)["commit"]  # what the run stamps
    (work / "commit").write_text("0123abc\n")  # a run started on a copy without .git, told its commit
    later, _, out = _kit(tmp_path, "wait:1")
    assert later.returncode == 0, later.stdout + later.stderr
    assert "commit: 0123abc\n" in (out / "status.txt").read_text()


# A box that never ran `pip install -e .` (a GPU machine with its own torch): the editable install hidden again.
NO_INSTALL = f"""
import os, sys
told = os.environ.get("PYTHONPATH", "").split(os.pathsep)
sys.meta_path[:] = [f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")]
sys.path[:] = [p for p in sys.path if os.path.realpath(p) != {str(REPO)!r} or p in told]
"""


def _box_env(tmp_path, sitecustomize: str) -> dict[str, str]:
    """The environment of a box that ``sitecustomize`` simulates (it runs at every Python start)."""
    (tmp_path / "sitecustomize.py").write_text(sitecustomize)
    return dict(snakemake_env(), PYTHONPATH=str(tmp_path))


def _session_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    """``gpu_session.sh --check`` in ``env``."""
    return subprocess.run(
        ["bash", str(REPO / "tools/offline-gpu/session.sh"), "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_gpu_session_command_starts_where_ali_bench_is_not_installed(tmp_path):
    """The benchmarks ran as `python benchmarks/x.py`, which puts only benchmarks/ on sys.path:
    without the session script's PYTHONPATH each stopped at `import ali_bench` on the box."""
    env = _box_env(tmp_path, NO_INSTALL)
    result = _session_check(env)
    hidden = subprocess.run(["python", "-c", "import ali_bench"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "No module named 'ali_bench'" in hidden.stderr  # the simulation holds
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("\nok ") + result.stdout.startswith("ok ") == 6, result.stdout


# A box whose Python has no torch: every command must be reported as not starting.
NO_TORCH = """
import sys
class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch hidden by the test")
sys.meta_path.insert(0, _NoTorch())
"""


def test_the_check_reports_the_gpu_tests_when_they_cannot_be_collected(tmp_path):
    """The check probed the pytest command with --help (its pattern test stripped the prefix from
    each word alone, never matching), and pytest --help exits 0 even when conftest cannot import:
    the GPU tests were reported ok on a box without torch."""
    result = _session_check(_box_env(tmp_path, NO_TORCH))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "!! gpu_parity_tests does not start" in result.stdout and "--collect-only" in result.stdout, result.stdout
    assert "\nok " not in "\n" + result.stdout, result.stdout


def test_a_call_packs_the_results_without_weights_and_says_how_the_run_stands(tmp_path):
    results = tmp_path / "work/run/results/reference/gpu"
    (results / "toy").mkdir(parents=True)
    (results / "toy_table.csv").write_text("model\nALI\n")
    (results / "toy/models.pt").write_bytes(b"weights")
    (tmp_path / "work/bench").mkdir()
    (tmp_path / "work/bench/toy_throughput.txt").write_text("ratio 60x\n")
    result, _, out = _kit(tmp_path, ALI_BENCH_GIT_COMMIT="0123abc")
    assert result.returncode == 0, result.stdout + result.stderr
    with tarfile.open(out / "reference-gpu.tar.gz") as tar:
        names = set(tar.getnames())
    assert "results/reference/gpu/toy_table.csv" in names
    assert any(re.fullmatch(r"benchmarks/gpu-\d{4}-\d\d-\d\d/toy_throughput.txt", name) for name in names), names
    assert not any(name.endswith(".pt") for name in names)
    status = (out / "status.txt").read_text()
    assert "run: none" in status and "device: " in status and "wall seconds: " in status


def test_an_unknown_step_or_slice_is_named(tmp_path):
    result, _, _ = _kit(tmp_path, "train")
    assert result.returncode == 1 and "unknown step 'train'" in result.stderr
    result, _, _ = _kit(tmp_path, "start:svhn")
    assert result.returncode == 1 and "unknown slice 'svhn'" in result.stderr


def test_a_copy_without_git_records_the_commit_it_was_told(tmp_path, monkeypatch):
    monkeypatch.delenv("ALI_BENCH_GIT_COMMIT", raising=False)
    assert git_state(tmp_path)["commit"] == "unknown (not a git checkout)"
    monkeypatch.setenv("ALI_BENCH_GIT_COMMIT", "0123abc")
    state = git_state(tmp_path)
    assert state["commit"] == "0123abc" and "ALI_BENCH_GIT_COMMIT" in state["source"]
    assert git_state(REPO)["commit"] != "0123abc"  # a real checkout is read, never told


def _wheel(folder, name: str, version: str, *requires: str) -> None:
    import zipfile

    with zipfile.ZipFile(folder / f"{name}-{version}-py3-none-any.whl", "w") as wheel:
        lines = [f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(["Metadata-Version: 2.1", *lines]) + "\n")


def test_only_the_wheels_the_box_lacks_or_needs_newer_are_installed(tmp_path, capsys):
    """A carried copy of a package the box has would shadow the box's own (its pandas imports
    python-dateutil): it is installed only when a needed wheel refuses the box's version."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_wheels_needed", REPO / "tools/offline-gpu/wheels_needed.py")
    needed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(needed)
    _wheel(tmp_path, "alpha", "1.0", "beta>=2", "gamma", "epsilon; python_version < '3'", "zeta>=1")
    _wheel(tmp_path, "beta", "2.5")  # the box has 1.0, which alpha refuses
    _wheel(tmp_path, "gamma", "3.0")  # the box has 2.0, which alpha accepts
    _wheel(tmp_path, "delta", "1.0")  # the box has it and nothing needed asks for it
    _wheel(tmp_path, "eta", "1.0", "theta>=1")
    _wheel(tmp_path, "theta", "1.5")  # the box's 1.2-2ubuntu1 is no PEP 440 version: refused, not a crash
    box = {"beta": "1.0", "gamma": "2.0", "delta": "0.5", "theta": "1.2-2ubuntu1"}
    assert [p.name for p in needed.needed_wheels(tmp_path, box)] == [
        f"{name}-py3-none-any.whl" for name in ("alpha-1.0", "beta-2.5", "eta-1.0", "theta-1.5")
    ]
    warning = capsys.readouterr().err
    assert "alpha requires zeta>=1" in warning and "epsilon" not in warning  # a marker that does not apply is no need
