"""The documentation holds: every link resolves inside the repository, nothing points outside it or
names an issue, dated measurements stay in the lab notebook, and every `snakemake` command a page
shows is one Snakemake accepts (dry run)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, fresh_checkout, snakemake_env

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]
NOTEBOOKS = [REPO / "benchmarks" / "RESULTS.md", *sorted((REPO / "results" / "reference").glob("*/README.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # no headings inside code blocks
    return {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_slug_is_githubs():
    assert slug("## The cost model behind `plan`, measured, 2026-12-02".lstrip("#")) == (
        "the-cost-model-behind-plan-measured-2026-12-02"
    )


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert broken == []


def test_a_broken_link_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[a](missing.md) [b](#title) [c](#nowhere)\n")
    found = [t for t in LINK.findall(page.read_text())]
    assert found == ["missing.md", "#title", "#nowhere"] and "title" in anchors(page) and "nowhere" not in anchors(page)


def test_no_document_points_outside_the_repository_or_names_an_issue():
    documents = [
        *PAGES,
        *NOTEBOOKS,
        *sorted((REPO / "config").glob("*.yaml")),
        REPO / "ali_bench" / "config.schema.yaml",
    ]
    found = []
    for path in documents:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if "../shared" in line or re.search(r"\bissues? \d+|\(issue\b", line, re.I):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:80]}")
    assert found == []


def test_dated_measurements_stay_in_the_lab_notebook():
    """A date of this project's era (2024 on) in a user page is a measurement's date: it belongs in
    benchmarks/RESULTS.md. Source dates (the released code's 2016-2018 commits) are allowed."""
    found = [
        f"{page.relative_to(REPO)}: {match}"
        for page in PAGES
        for match in re.findall(r"\b20(?:2[4-9]|[3-9]\d)-\d\d-\d\d\b", re.sub(r"\]\([^)]*\)", "", page.read_text()))
    ]
    assert found == []


def documented_snakemake_commands() -> list[tuple[str, str]]:
    """(page, command) for every line of a fenced block that runs snakemake, comments dropped."""
    commands = []
    for page in PAGES:
        for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), re.S):
            for line in block.splitlines():
                line = line.split(" #")[0].split(" | ")[0].strip()  # a comment or a pipe after the command
                if "snakemake" in line.split("&&")[-1].split()[:1]:
                    commands.append((str(page.relative_to(REPO)), line.split("&&")[-1].strip()))
    return commands


COMMANDS = documented_snakemake_commands()


def dry_run_groups(commands: list[tuple[str, str]]) -> dict[tuple[str, ...], list[tuple[str, list[str]]]]:
    """Commands grouped so that one dry run checks several: those whose words after ``--cores N``
    are targets followed by the same options share one run with all their targets (plain targets
    combine soundly); a command with an option before its targets runs alone, as typed."""
    groups: dict[tuple[str, ...], list[tuple[str, list[str]]]] = {}
    for page, command in commands:
        argv = shlex.split(command)[1:]
        if argv[:1] in (["--cores"], ["-c"]):
            argv = argv[2:]
        split = next((i for i, word in enumerate(argv) if word.startswith("-")), len(argv))
        targets, options = argv[:split] or (["all"] if split == len(argv) else []), tuple(argv[split:])
        key = options if targets or not options else ("alone", command)
        groups.setdefault(key, []).append((f"{page}: {command}", targets))
    return groups


GROUPS = dry_run_groups(COMMANDS)


def test_the_pages_show_snakemake_commands():
    assert len(COMMANDS) >= 20 and any(page == "README.md" for page, _ in COMMANDS)
    assert sum(len(members) for members in GROUPS.values()) == len(COMMANDS) and len(GROUPS) < len(COMMANDS)


@pytest.fixture(scope="module")
def docs_checkout(tmp_path_factory) -> Path:
    """The commands dry-run as typed in a fresh copy of the checkout: in this one, a finished quick run
    would leave nothing to plan, and a user's Snakemake would hold the results folder's lock."""
    return fresh_checkout(tmp_path_factory.mktemp("docs"))


@pytest.mark.slow
@pytest.mark.parametrize("key", list(GROUPS), ids=[" ".join(key)[:60] or "targets only" for key in GROUPS])
def test_every_documented_snakemake_command_dry_runs(key, docs_checkout):
    members = GROUPS[key]
    options = list(key[1:]) if key[:1] == ("alone",) else list(key)
    if key[:1] == ("alone",):
        argv = shlex.split(key[1])[1:]
    else:
        argv = [*dict.fromkeys(t for _, targets in members for t in targets), *options]
    files = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in ("--configfile", "--configfiles")]
    missing = [name for name in files if not (REPO / name).is_file()]
    if missing:
        pytest.skip(f"needs your own config file {missing[0]} (an example name)")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", *argv, "-n", "--quiet", "rules"],
        cwd=docs_checkout,
        capture_output=True,
        text=True,
        env=snakemake_env(),
        timeout=300,
    )
    shown = "\n".join(name for name, _ in members)
    assert result.returncode == 0, f"{shown}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"


def _ci_readme():
    """.ci/readme.py, which CI uses to run the README's commands and check the quick run's outputs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_readme", REPO / ".ci" / "readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ci_runs_the_readmes_two_commands_in_order():
    ci = _ci_readme()
    first, second = ci.commands((REPO / "README.md").read_text())
    assert first.endswith("snakemake --cores 2 --configfile config/quick.yaml") and second.endswith("pytest")
    run = (REPO / ".ci" / "run").read_text()
    assert run.index("run_readme_command 1") < run.index("readme.py outputs") < run.index("run_readme_command 2")


def test_ci_checks_every_output_the_quick_table_names(tmp_path, capsys):
    ci = _ci_readme()
    names = ci.quick_outputs((REPO / "README.md").read_text())
    assert "verdict.md" in names and "semisup_table.csv" in names and "figures/digits_conditional.png" in names
    assert ci.main(["outputs", str(tmp_path)]) == 1
    assert f"missing: {tmp_path / 'verdict.md'}" in capsys.readouterr().err
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    assert ci.main(["outputs", str(tmp_path)]) == 0


def test_ci_checks_style_and_lint_before_anything_runs():
    run = (REPO / ".ci" / "run").read_text()
    checks = ["ruff check .", "ruff format --check .", "snakefmt --check Snakefile workflow/", "snakemake --lint"]
    assert all(check in run for check in checks)
    assert max(run.index(check) for check in checks) < run.index("run_readme_command 1")


def test_blocks_adam_convention_is_explained_in_one_place():
    """Why a 2016 Blocks beta1 is one minus PyTorch's is explained in docs/paper-vs-code.md only; the
    package, configs and other pages point there (each explanation names the Blocks commit that
    changed the convention, so a second copy shows as a second mention of it)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    places = [
        name
        for name in tracked
        if not name.startswith(("tests/", "results/", "benchmarks/RESULTS.md"))
        and name.endswith((".py", ".md", ".yaml", ".smk", ".rst"))
        and "aa064519" in (REPO / name).read_text(errors="replace")
    ]
    assert places == ["docs/paper-vs-code.md"], places
