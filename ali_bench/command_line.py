"""What every stage's commands share: the config options, the data location, the training device,
provenance of the data read, and argparse types.

Each stage registers its own subcommands (``ali_bench/<stage>/cli.py``) from these pieces, so every
command reads its config, its data and its device the same way; ``ali_bench/cli.py`` collects them.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ali_bench.config import Config, ConfigError, load_config

DATA_ROOT_VARIABLE, DOWNLOAD_VARIABLE = "ALI_BENCH_DATA_ROOT", "ALI_BENCH_DOWNLOAD"
VERIFY_VARIABLE = "ALI_BENCH_VERIFY_CHECKSUMS"
PREPARED_ONLY_VARIABLE = "ALI_BENCH_PREPARED_ONLY"
CHECKPOINT_SECONDS_VARIABLE = "ALI_BENCH_CHECKPOINT_SECONDS"


EMPTY_CONFIG_COMMANDS = ("prepare-data",)


def config_from(args: argparse.Namespace) -> Config:
    """The command's config: ``--config-json`` (what the workflow passes) or the ``--config`` file.

    An empty ``--config-json`` mapping is refused, as an empty config file is: filled with every
    default it would start a paper-scale training. The commands in ``EMPTY_CONFIG_COMMANDS`` take
    one: they read no setting but where the data lives, which the workflow passes them through
    the environment (workflow/rules/data.smk gives them ``{}``)."""
    if args.config_json is not None:
        try:
            data = json.loads(args.config_json)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--config-json is not valid JSON: {error}") from None
        if (data is None or data == {}) and getattr(args, "command", None) not in EMPTY_CONFIG_COMMANDS:
            raise ConfigError(
                f"--config-json {args.config_json.strip()} is an empty config, which would run every default (paper scale); pass the "
                "config sections the command reads (as the workflow does) or a file with --config"
            )
        return load_config(data)
    return load_config(args.config)


def add_config(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", type=Path, default=Path("config/config.yaml"), help="YAML/JSON config file")
    group.add_argument("--config-json", help="the config as one JSON string (what the workflow passes)")


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """Where the data lives, for commands that read a dataset. The workflow sets it through the
    environment (workflow/rules/common.smk), not in a training job's params, so that moving the data
    never retrains (ali_bench/trained_with.py). Precedence: option, then environment, then config."""
    parser.add_argument("--data-root", help=f"overrides ${DATA_ROOT_VARIABLE} and config key images.data_root")
    parser.add_argument(
        "--download",
        type=download_choice,
        help=f"auto, true or false; overrides ${DOWNLOAD_VARIABLE} and config key images.download",
    )


def add_data_manifests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-manifest",
        type=Path,
        nargs="+",
        help="manifests of the splits it reads (prepare-data), copied into its provenance",
    )


def data_location(cfg: Config, args: argparse.Namespace) -> dict:
    """``load_split``'s keyword arguments for this command: root, download, prepared_only and verify.

    With ${PREPARED_ONLY_VARIABLE}=true (what the workflow sets for every job but prepare-data) a
    command reads only what prepare-data made: it never downloads and never converts images."""
    root = args.data_root or environment(DATA_ROOT_VARIABLE, str) or cfg.images.data_root
    download = args.download if args.download is not None else environment(DOWNLOAD_VARIABLE, download_choice)
    prepared_only = bool(environment(PREPARED_ONLY_VARIABLE, boolean))
    verify = environment(VERIFY_VARIABLE, boolean)
    return {
        "root": root,
        "download": cfg.images.download if download is None else download,
        "prepared_only": prepared_only,
        "verify": cfg.images.verify_checksums if verify is None else verify,
    }


def environment(name: str, parse):
    """Environment variable ``name`` through ``parse`` (an argparse type), or None when it is unset
    or empty; a value ``parse`` refuses is one line naming the variable."""
    if not os.environ.get(name):
        return None
    try:
        return parse(os.environ[name])
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"environment variable {name}: {error}") from None


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options every training command takes: its CPU threads (read by ``training_device``) and
    whether to show progress bars."""
    parser.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--no-progress", action="store_true")


def checkpoint_seconds(cfg: Config) -> float:
    """At most how often a training checkpoints: ${CHECKPOINT_SECONDS_VARIABLE} (what the workflow sets, so
    that changing it never retrains) over config key checkpoint_seconds."""
    value = environment(CHECKPOINT_SECONDS_VARIABLE, non_negative_float)
    return cfg.checkpoint_seconds if value is None else value


def training_device(cfg: Config, args: argparse.Namespace):
    """A training command's device, with its CPU threads and GPU algorithm choice (config key
    ``deterministic``) set before the first kernel runs."""
    import torch

    from ali_bench import determinism
    from ali_bench.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(cfg.device)
    determinism.configure(cfg.deterministic, device)
    return device


def boolean(text: str) -> bool:
    """An argparse type: true or false (any case), as YAML and Python print them."""
    value = {"true": True, "false": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def download_choice(text: str) -> bool | str:
    """An argparse type: ``auto`` (fetch what has a checksummed, stable download), true or false."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return boolean(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto, true or false, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (threads, label counts)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number >= 0 (seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (seeds)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value
