"""How the suite spreads over worker processes: a module fixture runs once, the longest files first."""

import subprocess
import sys
import tomllib

from conftest import LONGEST_FIRST, REPO, TESTS

MODULE = """
import os
import pytest

@pytest.fixture(scope="module")
def trained():
    with open({log!r}, "a") as log:
        log.write(f"{{os.getpid()}}\\n")

@pytest.mark.parametrize("i", range(6))
def test_uses_the_fixture(trained, i):
    pass
"""


def test_a_module_fixture_runs_once_with_the_suites_worker_options(tmp_path):
    """Under the project's addopts on two workers, a file's tests share one worker, so a module
    fixture that trains once for them all runs once (with --dist loadgroup under pytest 9.2 it ran
    once per worker)."""
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    log = tmp_path / "setups.log"
    (tmp_path / "test_one.py").write_text(MODULE.format(log=str(log)))
    (tmp_path / "test_two.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('i', range(6))\ndef test_other(i):\n    pass\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            f"addopts={addopts}",
            "-n",
            "2",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 workers" in result.stdout and "12 passed" in result.stdout
    assert len(log.read_text().splitlines()) == 1, log.read_text()


def test_every_file_named_longest_first_exists():
    missing = [name for name in LONGEST_FIRST if not (TESTS / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names files that are gone: {missing}"


ORDERING_CONFTEST = """
def pytest_collection_modifyitems(items):  # as tests/conftest.py does with LONGEST_FIRST
    items.sort(key=lambda item: item.path.name != "test_long.py")
"""


def test_files_are_handed_out_in_the_order_the_conftest_sorts_them(tmp_path):
    """Under the project's addopts, a file the conftest puts first runs first, although it holds
    fewer tests: pytest-xdist's default (--loadscope-reorder) hands out the files with the most tests
    first, which left the 9-minute SLURM file (5 tests) to start 13 minutes into CI."""
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    log = tmp_path / "order.log"
    (tmp_path / "conftest.py").write_text(ORDERING_CONFTEST)
    test = "import pytest\n\n@pytest.mark.parametrize('i', range({n}))\ndef test_it(i):\n    open({log!r}, 'a').write('{name}\\n')\n"
    (tmp_path / "test_long.py").write_text(test.format(n=1, log=str(log), name="long"))
    (tmp_path / "test_many.py").write_text(test.format(n=8, log=str(log), name="many"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", f"addopts={addopts}", "-n", "1"]
        + ["--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().split()[0] == "long", log.read_text()
