"""What a run of the embedded targets showed, in one table: the README's quick table is this command's
output on the committed quick run (``results/reference/quick/``), so the README never quotes a
number by hand; run it on your own ``results/quick/`` to read yours the same way.

    python -m ali_bench quick-summary results/quick

Every number is read from the run's own tables and metrics files; the "what it shows" column is
chosen by fixed rules on those numbers (``_shows_*``), so a run that learned less says so.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ali_bench import provenance, sidecar_digest
from ali_bench.config import ConfigError

HEADER = "| output (files under `results/quick/`) | quick number | what it shows |"


@dataclass(frozen=True)
class Row:
    output: str
    number: str
    shows: str

    def markdown(self) -> str:
        return f"| {self.output} | {self.number} | {self.shows} |"


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %"


def _existing(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"'{path}' is missing: quick-summary reads a finished run of the embedded targets")
    return path


# What a refusal of an edited table or metrics file tells to do
REBUILD = "run the quick run again (snakemake --cores 2 --configfile config/quick.yaml)"


def _read_csv(folder: Path, name: str) -> list[dict]:
    """A table of the run, refused if it no longer hashes to what its provenance recorded."""
    path = _existing(folder, name)
    provenance.check_table(path, REBUILD)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _read_json(folder: Path, name: str) -> dict:
    """A metrics file of the run, refused if it no longer hashes to what its .sha256 recorded."""
    path = _existing(folder, name)
    sidecar_digest.verify(path, REBUILD)
    return json.loads(path.read_text())


def _seeds(count: str) -> str:
    return f"{count} seed{'s' if count != '1' else ''}"


def _one(rows: list[dict], where: str, **match: str) -> dict:
    found = [row for row in rows if all(row[k] == v for k, v in match.items())]
    if len(found) != 1:
        raise ConfigError(f"'{where}': expected one row with {match}, found {len(found)}")
    return found[0]


def toy_row(folder: Path) -> Row:
    """PacGAN's rule (2,500 samples of each run): the share within 3 std of a mode, and modes reached."""
    table = _read_csv(folder, "toy_table.csv")
    ali, gan = (_one(table, "toy_table.csv", model=m, hyperparameter_set="released") for m in ("ALI", "GAN"))
    config = provenance.read(folder / "toy_table.csv")["config"]["trained"]["released"]
    steps = int(ali["epochs"]) * (config["mixture"]["n_train"] // config["training"]["batch_size"])
    share = float(ali["pacgan_high_quality_pct_mean"])
    shows = (
        "ALI's samples gather on the modes (PacGAN's rule: within 3 std of one); the rest still trail between them"
        if share >= 40
        else "samples lie on curves through the modes, not yet gathered on them"
    )
    return Row(
        f"toy, released set ({steps:,} steps, {_seeds(ali['runs'])}): `toy_table.csv`, `figures/toy_samples.png`",
        f"high-quality samples: ALI {share:.1f} % ({float(ali['pacgan_modes_mean']):.0f} modes), "
        f"GAN {float(gan['pacgan_high_quality_pct_mean']):.1f} % ({float(gan['pacgan_modes_mean']):.0f} modes)",
        shows,
    )


def toy_inference_row(folder: Path) -> Row:
    table = {row["method"]: float(row["same_mode_share"]) for row in _read_csv(folder, "toy_inference_table.csv")}
    learned = {k: table[k] for k in ("ali", "inverse", "posthoc")}
    leader = max(learned, key=learned.get)
    names = {"ali": "ALI", "inverse": "the inverse mapping", "posthoc": "post-hoc inference"}
    return Row(
        "toy inference: `toy_inference_table.csv`, `figures/toy_inference.png`",
        f"held-out reconstructions in their input's mode: ALI {_pct(table['ali'])}, GAN + inverse "
        f"{_pct(table['inverse'])}, post-hoc {_pct(table['posthoc'])}, VAE {_pct(table['vae'])}",
        f"the four methods side by side; of the three adversarial ones, {names[leader]} leads",
    )


def digits_row(folder: Path) -> Row:
    metrics = _read_json(folder, "images/digits/reconstruction_metrics.json")
    agreement, chance = metrics["label_agreement"], metrics["chance"]
    shows = (
        "reconstructions keep their input's class more often than chance: the encoder infers it"
        if agreement >= 2.5 * chance
        else "samples are digit-shaped; reconstructions do not keep their input's class yet"
    )
    length = f"{metrics['steps']:,} steps" if "steps" in metrics else f"{metrics['epochs']} epochs"  # older runs
    return Row(
        f"digits ALI ({length}): `figures/digits_samples.png`, "
        "`figures/digits_reconstructions.png`, `figures/digits_interpolations.png`",
        f"reconstructions keep their input's label {_pct(agreement)} (chance {_pct(chance)})",
        shows,
    )


def svm_row(folder: Path) -> Row:
    table = _read_csv(folder, "digits_svm_table.csv")
    error = {row["feature_set"]: float(row["test_error_mean_pct"]) for row in table}
    best_ali = min(error["paper"], error["released-code"])
    shows = (
        "the encoder's features separate the classes better than pixels"
        if best_ali < error["pixels"]
        else "the encoder's features are worse than raw pixels at this length"
    )
    return Row(
        "digits L2-SVM: `digits_svm_table.csv`",
        f"ALI features {error['paper']:.1f} % / {error['released-code']:.1f} % test error, "
        f"raw pixels {error['pixels']:.1f} %",
        shows,
    )


def semisup_row(folder: Path) -> Row:
    """ali and supervised always; gan-fm where the run trained it (``semisup.models``)."""
    table = _read_csv(folder, "semisup_table.csv")
    ali = _one(table, "semisup_table.csv", model="ali")
    supervised = _one(table, "semisup_table.csv", model="supervised")
    gan_fm = [row for row in table if row["model"] == "gan-fm"]
    baseline = float(supervised["test_error_mean_pct"])
    gains = [
        name
        for name, row in (("K+1 ALI", ali), *(("GAN-FM", row) for row in gan_fm))
        if float(row["test_error_mean_pct"]) < baseline
    ]
    rows = (
        f"rows `ali` (K+1 ALI) {float(ali['test_error_mean_pct']):.1f} %, `supervised` (labels alone) {baseline:.1f} %"
    )
    if gan_fm:
        rows += f", `gan-fm` (feature matching) {float(gan_fm[0]['test_error_mean_pct']):.1f} %"
    return Row(
        f"semi-supervised ({int(ali['steps']):,} steps, {_seeds(ali['seeds'])}): `semisup_table.csv`",
        f"{rows} test error",
        f"{' and '.join(gains)} below the supervised baseline at this length"
        if gains
        else "no semi-supervised gain on digits at this length ([docs/semi-supervised.md](docs/semi-supervised.md))",
    )


def conditional_row(folder: Path) -> Row:
    metrics = _read_json(folder, "images/digits_conditional/conditional_metrics.json")
    agreement, chance = metrics["label_agreement"], metrics["chance"]
    shows = (
        "the class controls the digit: each row of one z turns through the ten digits"
        if agreement >= 0.5
        else "the class does not show yet"
    )
    return Row(
        f"conditional digits ({metrics['steps']:,} steps): `figures/digits_conditional.png`",
        f"label agreement {_pct(agreement)} (chance {_pct(chance)}); the class moves the image "
        f"{metrics['conditions_to_z_ratio']:.2f}x as much as z does",
        shows,
    )


def verdict_row(folder: Path) -> Row:
    counts = Counter(row["verdict"] for row in _read_csv(folder, "verdict.csv"))
    return Row(
        "verdict: `verdict.md`, `verdict.csv`",
        ", ".join(f"{n} rows `{verdict}`" for verdict, n in sorted(counts.items())),
        "each row says why: narrow networks, short runs, the digits stand-in",
    )


ROWS = (toy_row, toy_inference_row, digits_row, svm_row, semisup_row, conditional_row, verdict_row)


def table(folder: Path) -> str:
    """The quick table of the run in ``folder``, as markdown (header, rule, one row per result)."""
    lines = [HEADER, "|---|---|---|", *(row(folder).markdown() for row in ROWS)]
    return "\n".join(lines) + "\n"


def cmd_quick_summary(args: argparse.Namespace) -> None:
    print(table(args.folder), end="")


def register(sub) -> None:
    p = sub.add_parser(
        "quick-summary", help="the README's quick table, read from a finished run of the embedded targets"
    )
    p.add_argument("folder", type=Path, help="the run's results folder (results/quick)")
    p.set_defaults(func=cmd_quick_summary)
