"""The README's quick table is the committed quick run's, computed, never typed.

``results/reference/quick/`` is one run of the README's first command on a fresh clone
(``benchmarks/first_command.py --reference``); ``python -m ali_bench quick-summary`` reads its tables
and metrics. The README must print exactly that table, and the run must have been made with today's
``config/quick.yaml``: a changed quick config without a rerun fails here, naming what to do.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ali_bench import provenance, quick_summary, sidecar_digest
from ali_bench.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "results" / "reference" / "quick"
RERUN = "rerun it: python benchmarks/first_command.py --reference, then paste quick-summary's table into the README"


def readme_table() -> str:
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index(quick_summary.HEADER)
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end]) + "\n"


def test_the_readme_prints_the_committed_quick_runs_table():
    assert readme_table() == quick_summary.table(REFERENCE), f"README.md's quick table is not the reference's: {RERUN}"


def test_the_committed_quick_run_was_made_with_todays_quick_config():
    ran = (REFERENCE / "config.yaml").read_text()
    assert ran == (REPO / "config" / "quick.yaml").read_text(), (
        f"config/quick.yaml changed since the quick run: {RERUN}"
    )


def test_the_readme_states_the_measured_budget_of_the_first_command():
    """The one place the budget is said: the README's minutes are the recorded wall time, rounded up."""
    wall = json.loads((REFERENCE / "first_command.json").read_text())["wall_time_s"]
    said = re.search(r"The first takes about (\d+) minutes", (REPO / "README.md").read_text())
    assert said, "README.md no longer says 'The first takes about N minutes'"
    assert int(said.group(1)) == -(-int(wall) // 60), (said.group(0), wall)
    assert wall <= 600, f"the first command took {wall:.0f} s, over its 10-minute budget"


def test_config_comments_and_docs_quote_no_quick_number_by_hand():
    """Numbers measured by the quick run live in the README's table only; the budget in the README only."""
    quick_yaml = (REPO / "config" / "quick.yaml").read_text()
    assert not re.search(r"\d+(\.\d+)? ?%", quick_yaml), "config/quick.yaml's comments quote a measured share"
    assert not re.search(r"\d+-minute|\d+ minutes", quick_yaml), "config/quick.yaml's comments state a budget"
    for page in sorted((REPO / "docs").glob("*.md")):
        for line in page.read_text().splitlines():
            if "quick" in line.lower():
                assert not re.search(r"\d+ minutes|\d+(\.\d+)? ?%", line), f"{page.name} quotes the quick run: {line}"


def copy_of_reference(tmp_path: Path) -> Path:
    folder = tmp_path / "quick"
    shutil.copytree(REFERENCE, folder)
    return folder


def test_a_changed_number_changes_the_table_and_its_reading(tmp_path):
    folder = copy_of_reference(tmp_path)
    path = folder / "images" / "digits_conditional" / "conditional_metrics.json"
    metrics = json.loads(path.read_text())
    metrics["label_agreement"] = 0.099
    path.write_text(json.dumps(metrics))
    sidecar_digest.record(path)  # as a rerun that measured this would write it
    row = quick_summary.conditional_row(folder)
    assert "label agreement 9.9 %" in row.number
    assert row.shows == "the class does not show yet"


def test_an_output_edited_after_the_run_wrote_it_is_refused(tmp_path):
    """A metrics file or table changed after its job wrote it (its .sha256, or the table's provenance,
    records another hash) is not summarised as if the run had measured it."""
    folder = copy_of_reference(tmp_path)
    path = folder / "images" / "digits_conditional" / "conditional_metrics.json"
    quick_summary.conditional_row(folder)  # as written: read
    path.write_text(path.read_text().replace('"label_agreement": 0.', '"label_agreement": 0.9'))
    with pytest.raises(sidecar_digest.DigestMismatch, match="conditional_metrics.json' changed after it was written"):
        quick_summary.conditional_row(folder)
    sidecar_digest.record(path)  # the metrics as a rerun would leave them; now a table edited
    table = folder / "semisup_table.csv"
    record = json.loads(provenance.sidecar_path(table).read_text())
    provenance.sidecar_path(table).write_text(json.dumps({**record, provenance.TABLE_DIGEST: provenance.sha256(table)}))
    lines = table.read_text().splitlines()
    column, fields = lines[0].split(",").index("test_error_mean_pct"), lines[1].split(",")
    fields[column] = f"{float(fields[column]) / 2:.1f}"  # the first row's error halved: still plausible
    table.write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    with pytest.raises(ValueError, match="semisup_table.csv' changed after it was written"):
        quick_summary.table(folder)
    provenance.sidecar_path(table).unlink()  # nothing left to vouch for the table, nor the metrics below
    with pytest.raises(ValueError, match="semisup_table.csv' has no provenance file"):
        quick_summary.table(folder)
    sidecar_digest.sidecar(path).unlink()
    with pytest.raises(sidecar_digest.DigestMismatch, match="conditional_metrics.json' has no recorded hash"):
        quick_summary.conditional_row(folder)


def test_a_missing_output_is_one_line_naming_the_file(tmp_path):
    folder = copy_of_reference(tmp_path)
    (folder / "semisup_table.csv").unlink()
    with pytest.raises(ConfigError, match=r"semisup_table.csv' is missing"):
        quick_summary.table(folder)
    done = subprocess.run(
        [sys.executable, "-m", "ali_bench", "quick-summary", str(folder)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "semisup_table.csv" in done.stderr
