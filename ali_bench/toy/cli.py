"""The toy stage's commands (``workflow/rules/toy.smk``): train, evaluate, tabulate and draw the 25-mode comparison."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ali_bench import sidecar_digest, trained_with
from ali_bench.command_line import (
    add_config,
    add_training_options,
    checkpoint_seconds,
    config_from,
    non_negative_int,
    training_device,
)


def cmd_toy_train(args: argparse.Namespace) -> None:
    import torch

    from ali_bench.device import device_name
    from ali_bench.toy.train import train_toy

    cfg = config_from(args)
    device = training_device(cfg, args)
    from ali_bench import cost
    from ali_bench.toy.runs import plan_runs

    runs = plan_runs(cfg.toy, args.hyperparameters, tuple(args.seeds) if args.seeds else None)
    cost.refuse_unasked_cpu_toy(
        f"toy-train --hyperparameters {args.hyperparameters}", cfg.toy, len(runs), cfg.device, device.type
    )
    checkpoint_path = args.checkpoint or args.out.with_name(args.out.stem + ".checkpoint.pt")
    train_toy(
        cfg.toy,
        args.hyperparameters,
        args.out,
        args.log,
        checkpoint_path,
        device,
        device_name(device),
        cfg.batchnorm,
        seeds=tuple(args.seeds) if args.seeds else None,
        dtype=getattr(torch, args.dtype),
        cuda_graphs=cfg.cuda_graphs,
        progress=not args.no_progress,
        checkpoint_seconds=checkpoint_seconds(cfg),
    )


def cmd_toy_evaluate(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench import provenance
    from ali_bench.atomic import atomic_path
    from ali_bench.config import as_dict, config_hash
    from ali_bench.data.mixture import GridMixture
    from ali_bench.tables import write_csv
    from ali_bench.toy.evaluate import coverage_rows, generate, sample_archive, stream_seeds
    from ali_bench.toy.runs import PACGAN_EVALUATION
    from ali_bench.toy.train import load_models

    cfg = config_from(args)
    started = time.perf_counter()
    mixture = GridMixture.from_config(cfg.toy.mixture)
    rows, paper_archive, pacgan_archive, trainings = [], {}, {}, []  # archives: samples and seeds per run
    trained_config = {}  # what each models file says its runs were trained with (checked against this config)
    for path in args.models:
        payload, models = load_models(path, cfg.batchnorm.statistics, toy=cfg.toy, bn=cfg.batchnorm)
        trained_config[payload["hyperparameter_set"]] = trained_with.toy_training(
            payload["config"], payload["hyperparameter_set"]
        )
        samples = generate(models, payload, cfg.toy.coverage.n_samples, cfg.toy.network.latent_dim)
        pacgan = generate(
            models, payload, cfg.toy.coverage.pacgan_n_samples, cfg.toy.network.latent_dim, PACGAN_EVALUATION
        )
        rows += coverage_rows(payload, samples, pacgan, mixture, cfg.toy.coverage.high_quality_stds)
        paper_archive.update(sample_archive(samples, stream_seeds(payload)))
        pacgan_archive.update(sample_archive(pacgan, stream_seeds(payload, PACGAN_EVALUATION)))
        trainings.append(
            {
                "models": str(path),
                "hyperparameter_set": payload["hyperparameter_set"],
                "device": payload["device"],
                "wall_time_s": round(payload["wall_time_s"], 3),
                "config_hash": payload["config_hash"],
            }
        )
    coverage = pd.DataFrame(rows)
    write_csv(coverage, args.out_coverage)
    # every scored stream is kept, with the seed of each run's draw (docs/toy-coverage.md: recounting a column)
    pacgan_samples = args.out_pacgan_samples or args.out_samples.with_name("pacgan_samples.npz")
    for path, archive in ((args.out_samples, paper_archive), (pacgan_samples, pacgan_archive)):
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **archive)
        sidecar_digest.record(path)  # toy-figure checks the samples (and anyone recounting a column can)
    evaluation_s = time.perf_counter() - started
    config = {"trained": trained_config, "coverage": as_dict(cfg.toy.coverage)}
    provenance.write(
        args.out_coverage,
        provenance.build(
            config=config,
            config_hash=config_hash(config),
            seeds=coverage["seed"],
            device=", ".join(sorted({t["device"] for t in trainings})),
            wall_time_s=sum(t["wall_time_s"] for t in trainings) + evaluation_s,
            stages={"training": trainings, "evaluation_s": round(evaluation_s, 3)},
            batchnorm_statistics=cfg.batchnorm.statistics,
        ),
    )


def cmd_toy_table(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.table_inputs import read_csv
    from ali_bench.tables import write_csv, write_markdown
    from ali_bench.toy.table import coverage_spec, mixture_modes, toy_table, toy_table_notes, toy_table_title

    if not args.coverage.is_file():
        raise FileNotFoundError(f"toy coverage table '{args.coverage}' does not exist; run the toy_evaluate rule first")
    upstream = provenance.require(
        provenance.read(args.coverage), args.coverage, ("config", "config_hash", "seeds", "device", "wall_time_s")
    )
    n_modes = mixture_modes(upstream["config"])
    coverage = read_csv(args.coverage, coverage_spec(n_modes))
    table = toy_table(coverage)
    write_csv(table, args.out)
    write_markdown(
        table,
        args.out.with_suffix(".md"),
        toy_table_title(n_modes),
        toy_table_notes(upstream["config"].get("coverage", {}), n_modes),
    )
    record = dict(upstream)
    record.update(
        {
            key: value
            for key, value in provenance.build(
                config=upstream["config"],
                config_hash=upstream["config_hash"],
                seeds=upstream["seeds"],
                device=upstream["device"],
                wall_time_s=upstream["wall_time_s"],
            ).items()
            if key in ("created_utc", "command", "git", "versions", "machine")
        }
    )
    record["inputs"] = provenance.checksums([args.coverage, provenance.sidecar_path(args.coverage)])
    provenance.write(args.out, record)


def cmd_toy_figure(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench import provenance
    from ali_bench.data.mixture import GridMixture
    from ali_bench.toy.evaluate import archive_samples
    from ali_bench.toy.figures import toy_samples

    cfg = config_from(args)
    provenance.check_table(args.coverage, sidecar_digest.rerun_writer(args.coverage))
    sidecar_digest.verify(args.samples)
    with np.load(args.samples) as archive:
        samples = archive_samples(archive)
    toy_samples(pd.read_csv(args.coverage), samples, GridMixture.from_config(cfg.toy.mixture), args.out)


def register(sub) -> None:
    """Add the toy stage's subcommands to ``sub``."""
    p = sub.add_parser("toy-train", help="train every toy run of one hyperparameter set, batched")
    add_config(p)
    p.add_argument("--hyperparameters", choices=["random", "released"], required=True)
    p.add_argument("--out", type=Path, required=True, help="models file (.pt)")
    p.add_argument("--log", type=Path, required=True, help="per-epoch, per-run training log (.csv)")
    p.add_argument("--checkpoint", type=Path, help="in-progress checkpoint (default: beside --out)")
    p.add_argument("--seeds", type=non_negative_int, nargs="+", help="train only these seeds (default: the config's)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    add_training_options(p)
    p.set_defaults(func=cmd_toy_train)

    p = sub.add_parser("toy-evaluate", help="sample every trained run and measure its mode coverage")
    add_config(p)
    p.add_argument("--models", type=Path, nargs="+", required=True)
    p.add_argument("--out-coverage", type=Path, required=True)
    p.add_argument("--out-samples", type=Path, required=True, help="the ALI paper's samples per run (.npz)")
    p.add_argument(
        "--out-pacgan-samples", type=Path, help="PacGAN's samples per run (.npz; default: pacgan_samples.npz beside)"
    )
    p.set_defaults(func=cmd_toy_evaluate)

    p = sub.add_parser("toy-table", help="aggregate coverage per model, beside the reported numbers")
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_toy_table)

    p = sub.add_parser("toy-figure", help="draw every run's samples over the mixture")
    add_config(p)
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--samples", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_toy_figure)
