"""The guard in conftest.py that fails a run which changed the checkout: it sees what git shows and
the user's ignored folders (a finished quick run under results/)."""

from __future__ import annotations

import subprocess

from conftest import changed_paths, checkout_state


def _repo(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("/results/*\n!/results/reference/\n")
    (tmp_path / "tracked.txt").write_text("a\n")
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], check=True
    )
    (tmp_path / "results" / "quick").mkdir(parents=True)
    (tmp_path / "results" / "quick" / "verdict.md").write_text("finished\n")
    return tmp_path


def test_an_untouched_checkout_shows_no_change(tmp_path):
    root = _repo(tmp_path)
    assert changed_paths(checkout_state(root), checkout_state(root)) == []


def test_the_guard_sees_edits_new_files_and_the_users_ignored_results(tmp_path):
    root = _repo(tmp_path)
    before = checkout_state(root)
    (root / "tracked.txt").write_text("b\n")
    (root / "new.txt").write_text("new\n")
    (root / "results" / "quick" / "verdict.md").write_text("rewritten by a test\n")
    (root / "results" / "quick" / "toy_table.csv").write_text("x\n")
    (root / ".snakemake").mkdir()
    (root / ".snakemake" / "lock").write_text("")
    assert changed_paths(before, checkout_state(root)) == [
        ".snakemake/lock",
        "new.txt",
        "results/quick/toy_table.csv",
        "results/quick/verdict.md",
        "tracked.txt",
    ]


def test_outside_a_git_checkout_there_is_nothing_to_guard(tmp_path):
    assert checkout_state(tmp_path) is None
