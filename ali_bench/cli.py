"""``python -m ali_bench <command>``: one subcommand per workflow step, explicit input and output paths.

Every Snakemake rule calls exactly one of these, so every job can also be run, tested and profiled
by hand. Expected failures (bad config, missing or corrupt data, a failed download, corrupt checkpoint, an output
that cannot be written for want of space or permission) print one line to stderr
and exit with status 2; anything else is a bug and keeps its traceback.

Each stage registers its own subcommands (``ali_bench/<stage>/cli.py``, one package per workflow
rule file); this module only collects them, checks what argparse cannot, and turns an expected
failure into one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ali_bench import plan, quick_summary
from ali_bench.atomic import WriteFailed
from ali_bench.checkpoint import CheckpointError
from ali_bench.command_line import add_config, config_from
from ali_bench.conditional import cli as conditional_cli
from ali_bench.config import ConfigError
from ali_bench.data import cli as data_cli
from ali_bench.data.images import DatasetCorrupt, DownloadFailed
from ali_bench.images import cli as images_cli
from ali_bench.semisup import cli as semisup_cli
from ali_bench.sidecar_digest import DigestMismatch
from ali_bench.svm import cli as svm_cli
from ali_bench.svm.fit import FeatureFileError
from ali_bench.toy import cli as toy_cli
from ali_bench.toy_inference import cli as toy_inference_cli
from ali_bench.training import TrainingDiverged
from ali_bench.verdict import cli as verdict_cli

EXPECTED_ERRORS = (
    ConfigError,
    CheckpointError,
    FileNotFoundError,
    TrainingDiverged,
    FeatureFileError,
    DatasetCorrupt,
    DownloadFailed,
    WriteFailed,
    DigestMismatch,
)
STAGE_COMMANDS = (
    data_cli,
    toy_cli,
    toy_inference_cli,
    images_cli,
    conditional_cli,
    svm_cli,
    semisup_cli,
    verdict_cli,
    quick_summary,
    plan,
)  # --help's order


def cmd_show_config(args: argparse.Namespace) -> None:
    """What a run with this config file really uses: every default filled in, every check passed."""
    import yaml

    from ali_bench.config import as_dict

    print(yaml.safe_dump(as_dict(config_from(args)), sort_keys=False), end="")


OUTPUT_OPTIONS = ("out", "log", "checkpoint")
CLASSES = 10  # every semi-supervised dataset (digits, SVHN, CIFAR-10) has ten classes


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output path that can never be written: a directory, or under a file."""
    for name, value in vars(args).items():
        if not (name in OUTPUT_OPTIONS or name.startswith("out_")) or not isinstance(value, Path):
            continue
        option = "--" + name.replace("_", "-")
        if value.is_dir():
            raise ConfigError(f"{option} '{value}' is an existing directory; expected a file path")
        for parent in value.parents:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"{option} '{value}': '{parent}' is a file, not a directory")


def check_arguments(args: argparse.Namespace) -> None:
    """Cross-argument checks argparse cannot express; each refusal is one line."""
    seeds = getattr(args, "seeds", None) or []
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ConfigError(f"--seeds lists seed {repeated[0]} more than once; expected distinct seeds")
    labels = getattr(args, "labels", None)
    if labels is not None and labels % CLASSES:
        raise ConfigError(
            f"--labels {labels} does not split evenly over the {CLASSES} classes; expected a multiple of {CLASSES}"
        )
    splits, dataset = getattr(args, "split", None), getattr(args, "dataset", None)
    if splits is not None and dataset is not None:
        from ali_bench.data.images import SPLITS

        for split in [splits] if isinstance(splits, str) else splits:
            if split not in SPLITS[dataset]:
                raise ConfigError(f"--split {split!r}: dataset {dataset} has the splits {', '.join(SPLITS[dataset])}")
    check_outputs(args)


def build_parser() -> argparse.ArgumentParser:
    from ali_bench import __version__

    parser = argparse.ArgumentParser(prog="python -m ali_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ali-bench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("show-config", help="print the effective config (schema defaults filled, checked) as YAML")
    add_config(p)
    p.set_defaults(func=cmd_show_config)

    for stage in STAGE_COMMANDS:
        stage.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"
    )
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["plan"] and argv[1:] not in (["-h"], ["--help"]):
        args = argparse.Namespace(func=plan.cmd_plan, snakemake=argv[1:])  # snakemake's options pass through untouched
    else:
        args = build_parser().parse_args(argv)
    try:
        with logging_redirect_tqdm():  # log lines go above a running progress bar, never through it
            check_arguments(args)
            args.func(args)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
