"""``python -m ali_bench plan [snakemake targets and options]``: what a run would cost, before it starts.

Why from Snakemake's own dry run: the jobs listed are exactly the ones the same command would run
(what is already made is not), and each job's printed shell command carries the config it would
train with (``--config-json``), so every estimate uses the settings that would run, whatever
config files and ``--config`` options were given. The costs come from ali_bench/cost.py (counted
FLOPs; a measured CPU rate; an assumed GPU rate, labelled so).
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

from ali_bench import cost
from ali_bench.config import ConfigError

# Examples per training split, without reading the data (it may not be downloaded yet): the
# published sizes (data/checksums.py), the digits split (data/digits.py), ImageNet's for Tiny ImageNet.
TINY_IMAGENET_SIZES = {("tiny_imagenet", "train"): 1_281_167, ("tiny_imagenet", "valid"): 50_000}
MODELLED = ("image-train", "semisup-train")


@dataclass(frozen=True)
class Job:
    rule: str
    wildcards: str
    command: str  # the shell command, as the dry run prints it


def dry_run(snakemake_args: list[str]) -> str:
    """Snakemake's dry run of the same command, with shell commands printed."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--nocolor", *snakemake_args],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = next((line for line in reversed((result.stdout + result.stderr).splitlines()) if line.strip()), "")
        raise ConfigError(f"the dry run 'snakemake {shlex.join(snakemake_args)}' failed: {last.strip()}")
    return result.stdout + result.stderr


def parse_jobs(text: str) -> list[Job]:
    """The jobs of a dry run's output, in its order."""
    jobs, rule, wildcards = [], None, ""
    for line in text.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):$", line.strip()):
            rule, wildcards = match.group(1), ""
        elif rule and line.strip().startswith("wildcards:"):
            wildcards = line.split(":", 1)[1].strip()
        elif rule and line.startswith("Shell command:"):
            jobs.append(Job(rule, wildcards, line.split(":", 1)[1].strip()))
            rule = None
    return jobs


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def job_cost(job: Job) -> tuple[cost.TrainingCost, str] | None:
    """A training job's cost and its device choice from the config it would run with; None for a
    job the cost model does not cover."""
    from ali_bench.config import load_config

    argv = shlex.split(job.command.split(">")[0])
    command = next((word for word in argv if word in MODELLED), None)
    if command is None:
        return None
    cfg = load_config(json.loads(_option(argv, "--config-json") or "{}"))
    dataset = _option(argv, "--dataset")
    if command == "image-train":
        run = cfg.conditional.run(dataset) if "--conditional" in argv else cfg.images.run(dataset)
        key = (command, dataset, cfg.images, _examples(dataset, run.train_split), run.epochs, run.batch_size, run.width)
    else:
        run = cfg.semisup.run(dataset)
        key = (
            command,
            dataset,
            cfg.images,
            _examples(dataset, run.unlabelled_split),
            run.epochs,
            cfg.semisup.batch_size,
            run.width,
            run.gan_fm_nets if _option(argv, "--model") == "gan-fm" else "",
        )
    return _priced(*key), cfg.device


@functools.cache
def _priced(
    command: str, dataset: str, images_cfg, examples: int, epochs: int, batch: int, width: float, gan_fm_nets: str = ""
) -> cost.TrainingCost:
    """One cost per distinct setting: a plan of 100 seeds counts the FLOPs once (the config is frozen, hashable).
    ``gan_fm_nets``: a GAN-FM run's networks ("" for the other models, priced as a K+1 run)."""
    shape = dict(epochs=epochs, batch=batch, width=width)
    if command == "image-train":
        return cost.image_training_cost(dataset, images_cfg, examples, **shape)
    return cost.semisup_run_cost(dataset, images_cfg, examples, gan_fm_nets=gan_fm_nets, **shape)


def _examples(dataset: str, split: str) -> int:
    from ali_bench.data.checksums import PUBLISHED_SIZES
    from ali_bench.data.digits import BOUNDS as DIGITS_BOUNDS

    digits = {("digits", name): stop - start for name, (start, stop) in DIGITS_BOUNDS.items()}
    return {**PUBLISHED_SIZES, **digits, **TINY_IMAGENET_SIZES}[(dataset, split)]


def report(jobs: list[Job], cuda_here: bool) -> list[str]:
    """The plan's lines: one per training job, the other jobs counted, the totals and the sources."""
    here = "cuda" if cuda_here else "cpu"
    header = ("job", "steps", "time here", "time on a GPU*", "memory", "disk")
    rows, others = [], {}
    hours_here = hours_gpu = 0.0
    memory = disk = 0
    refusals = False
    for job in sorted(jobs, key=lambda j: (j.rule, j.wildcards)):
        priced = job_cost(job)
        if priced is None:
            others[job.rule] = others.get(job.rule, 0) + 1
            continue
        training, device_choice = priced
        device = here if device_choice == "auto" else device_choice
        time_here = training.hours(device)
        refused = device_choice == "auto" and device == "cpu" and time_here > cost.UNASKED_CPU_LIMIT_H
        refusals |= refused
        hours_here, hours_gpu = hours_here + time_here, hours_gpu + training.hours("cuda")
        memory, disk = max(memory, training.memory_bytes), disk + training.disk_bytes
        shown = cost.human_hours(time_here) + (" (refused)" if refused else "") + ("" if device == "cpu" else "*")
        rows.append(
            (
                f"{job.rule} {job.wildcards}",
                f"{training.steps:,}",
                shown,
                cost.human_hours(training.hours("cuda")),
                cost.human_bytes(training.memory_bytes),
                cost.human_bytes(training.disk_bytes),
            )
        )
    rows.append(
        (
            "total (training jobs)",
            "",
            cost.human_hours(hours_here),
            cost.human_hours(hours_gpu),
            cost.human_bytes(memory) + " peak",
            cost.human_bytes(disk),
        )
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"{len(jobs)} jobs would run; this machine: {'a CUDA GPU' if cuda_here else 'no CUDA GPU (CPU only)'}"]
    for row in [header, *rows]:
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    if others:
        lines.append(
            "not modelled (toy trainings: their CPU step times are in benchmarks/RESULTS.md; evaluation, "
            "features, SVMs, tables, figures: minutes): " + ", ".join(f"{rule} ×{n}" for rule, n in others.items())
        )
    lines.append(f"CPU times: counted FLOPs, {cost.CPU_RATE_SOURCE}.")
    lines.append(
        f"* GPU times: {cost.GPU_RATE_SOURCE}. Memory: one job's data, weights, Adam state and "
        "activations; disk: models and checkpoints. ali_bench/cost.py says how each is made."
    )
    if refusals:
        lines.append(
            f"(refused): with device auto and no CUDA GPU, a training longer than {cost.UNASKED_CPU_LIMIT_H:g} h "
            "on the CPU is refused; --config device=cpu runs it anyway."
        )
    return lines


def cmd_plan(args) -> None:
    import torch

    for line in report(parse_jobs(dry_run(args.snakemake)), torch.cuda.is_available()):
        print(line)


def register(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="the jobs a snakemake command would run, with each training's expected time, "
        "memory and disk (from its dry run)",
    )
    p.add_argument(
        "snakemake",
        nargs="*",
        metavar="SNAKEMAKE_ARGUMENT",
        help="snakemake targets and options, as you would type them (e.g. results/svhn_table.csv "
        "--configfile f.yaml); everything after 'plan' goes to the dry run unchanged",
    )
    p.set_defaults(func=cmd_plan)
