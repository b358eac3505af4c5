"""The verdict stage's command (``workflow/rules/verdict.smk``): judge every reported number in the
given result tables and write ``verdict.csv`` and ``verdict.md``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ali_bench.command_line import add_config, config_from
from ali_bench.config import ConfigError


def table_kind(path: Path) -> str:
    """What a table is, from its file name (``toy_table.csv`` -> ``toy_table``); one line if unknown."""
    from ali_bench.verdict import JUDGED_TABLES

    if path.suffix != ".csv" or path.stem not in JUDGED_TABLES:
        raise ConfigError(
            f"--tables '{path}': not a table the verdict judges; expected one of "
            f"{', '.join(t + '.csv' for t in JUDGED_TABLES)}"
        )
    return path.stem


def cmd_verdict(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.atomic import write_text
    from ali_bench.config import as_dict, config_hash
    from ali_bench.table_inputs import read_csv
    from ali_bench.tables import write_csv
    from ali_bench.verdict.comparisons import table_comparisons
    from ali_bench.verdict.decide import judge
    from ali_bench.verdict.inputs import SPECS
    from ali_bench.verdict.table import verdict_frame, verdict_markdown

    cfg = config_from(args)
    thresholds = cfg.verdict
    judged, inputs, upstream = [], [], []
    seen: dict[str, Path] = {}
    for path in args.tables:
        kind = table_kind(path)
        if kind in seen:  # the same table twice (or two runs' tables of one kind) would judge each number twice
            raise ConfigError(
                f"--tables names two {kind}.csv ('{seen[kind]}' and '{path}'); the verdict judges each reported "
                "number once: give one table of each kind"
            )
        seen[kind] = path
        if not path.is_file():
            raise FileNotFoundError(f"table '{path}' does not exist; build it first (snakemake {path})")
        record = provenance.read(path)
        table = read_csv(path, SPECS[kind])
        judged += [(c, judge(c, thresholds)) for c in table_comparisons(kind, table, record)]
        inputs += [path, provenance.sidecar_path(path)]
        upstream.append(
            {
                "table": str(path),
                "git": record.get("git"),
                "config_hash": record.get("config_hash"),
                "device": record.get("device"),
            }
        )
    frame = verdict_frame(judged)
    write_csv(frame, args.out)
    write_text(args.out.with_suffix(".md"), verdict_markdown(frame, thresholds, [str(p) for p in args.tables]))
    section = {"verdict": as_dict(cfg.verdict)}
    provenance.write(
        args.out,
        provenance.build(
            config=section,
            config_hash=config_hash(section),
            seeds=[],
            device="cpu",
            wall_time_s=0.0,
            inputs=inputs,
            upstream=upstream,
        ),
    )


def register(sub) -> None:
    """Add the verdict stage's subcommand to ``sub``."""
    p = sub.add_parser("verdict", help="judge every reported number in the given tables: verdict.csv and .md")
    add_config(p)
    p.add_argument(
        "--tables",
        type=Path,
        nargs="*",
        default=[],
        help="result tables (toy_table.csv, svhn_table.csv, <dataset>_svm_table.csv, semisup_table.csv), "
        "each with its .provenance.json",
    )
    p.add_argument("--out", type=Path, required=True, help="verdict.csv (verdict.md and its provenance beside it)")
    p.set_defaults(func=cmd_verdict)
