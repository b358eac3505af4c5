"""``prepare-data``: the data stage's command (``workflow/rules/data.smk``)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ali_bench.command_line import add_config, add_data_options, config_from, data_location, positive_int
from ali_bench.config import ConfigError
from ali_bench.trained_with import IMAGE_DATASETS

log = logging.getLogger(__name__)


def cmd_prepare_data(args: argparse.Namespace) -> None:
    """Download (if asked), check, convert and hash one split; write its manifest."""
    from ali_bench.atomic import write_text
    from ali_bench.data.prepare import prepare_split

    cfg = config_from(args)
    location = data_location(cfg, args)  # prepared_only does not apply: this is the command that prepares
    if len(args.split) != len(args.out):
        raise ConfigError(f"prepare-data got {len(args.split)} --split values and {len(args.out)} --out files; expected one each")
    for split, out in zip(args.split, args.out):
        manifest = prepare_split(args.dataset, split, location["root"], location["download"], workers=args.workers,
                                 verify=location["verify"])
        write_text(out, json.dumps(manifest, indent=2) + "\n")
        log.info("%s %s: %d examples, %d file(s) checked; manifest %s", args.dataset, split, manifest["examples"],
                 len(manifest["files"]), out)


def register(sub) -> None:
    """Add the data stage's subcommand to ``sub``."""
    p = sub.add_parser("prepare-data", help="download (if asked), check checksums, convert and hash one dataset split")
    add_config(p)
    add_data_options(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--split", nargs="+", required=True)
    p.add_argument("--workers", type=positive_int, default=1, help="processes that convert images (CelebA, Tiny ImageNet)")
    p.add_argument("--out", type=Path, nargs="+", required=True, help="each split's manifest (.json): file checksums, array hashes")
    p.set_defaults(func=cmd_prepare_data)
