"""The image stage's commands (``workflow/rules/images.smk``): train ALI on one dataset (also the conditional
model, for ``workflow/rules/conditional.smk``), and draw a trained model's figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ali_bench import sidecar_digest
from ali_bench.command_line import (
    add_config,
    add_data_manifests,
    add_data_options,
    add_training_options,
    checkpoint_seconds,
    config_from,
    data_location,
    environment,
    non_negative_int,
    training_device,
)
from ali_bench.config import Config, ConfigError
from ali_bench.data.registry import DATASETS
from ali_bench.trained_with import CONDITIONAL_DATASETS, IMAGE_DATASETS

SAMPLE_GRID_VARIABLE = "ALI_BENCH_SAMPLE_GRID_EVERY"


def _sample_grid_every(cfg: Config, args: argparse.Namespace) -> int:
    """Epochs between sample grids: option, then environment (how the workflow passes it: watching
    a training must not be a training setting, or switching it would retrain), then config."""
    if args.sample_grid_every is not None:
        return args.sample_grid_every
    from_environment = environment(SAMPLE_GRID_VARIABLE, non_negative_int)
    return cfg.images.figures.sample_grid_every if from_environment is None else from_environment


def cmd_image_train(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.data.prepare import check_manifests, data_provenance
    from ali_bench.device import device_name
    from ali_bench.images.train import train_images

    cfg = config_from(args)
    device = training_device(cfg, args)
    conditioning = None
    if args.conditional:
        from ali_bench.images.train import Conditioning

        if args.dataset not in CONDITIONAL_DATASETS:
            raise ConfigError(
                f"no conditional model for {args.dataset!r}; expected {' or '.join(CONDITIONAL_DATASETS)}"
            )
        conditioning = Conditioning(cfg.conditional.run(args.dataset), cfg.conditional.embedding)
    run = conditioning.run if conditioning else cfg.images.run(args.dataset)
    train = load_split(args.dataset, run.train_split, **data_location(cfg, args))
    check_manifests(args.data_manifest, {(args.dataset, run.train_split): train})
    from ali_bench import cost

    cost.refuse_unasked_cpu(
        f"image-train --dataset {args.dataset}",
        lambda: cost.image_training_cost(
            args.dataset, cfg.images, len(train), epochs=run.epochs, batch=run.batch_size, width=run.width
        ),
        cfg.device,
        device.type,
    )
    payload = train_images(
        args.dataset,
        cfg.images,
        train,
        args.out,
        args.log,
        args.out.with_name(args.out.stem + ".checkpoint.pt"),
        device,
        device_name(device),
        cuda_graphs=cfg.cuda_graphs,
        progress=not args.no_progress,
        conditioning=conditioning,
        bn=cfg.batchnorm,
        sample_grid_every=_sample_grid_every(cfg, args),
        checkpoint_seconds=checkpoint_seconds(cfg),
    )
    from ali_bench import provenance
    from ali_bench.config import config_hash

    provenance.write(
        args.out,
        provenance.build(
            config=payload["config"],
            config_hash=config_hash(payload["config"]),
            seeds=[cfg.images.seed],
            device=payload["device"],
            wall_time_s=payload["wall_time_s"],
            epochs=payload["epochs"],
            steps_per_epoch=payload["steps_per_epoch"],
            train_images=len(train),
            **data_provenance(args.data_manifest),
        ),
    )


def cmd_image_figures(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.data.prepare import check_manifests
    from ali_bench.figures import image_grid
    from ali_bench.images import figures
    from ali_bench.images.train import check_trained_with, load_model

    cfg = config_from(args)
    payload, model = load_model(args.models, statistics=cfg.batchnorm.statistics)
    check_trained_with(args.models, payload, cfg.images, cfg.batchnorm, cfg.conditional)
    dataset, seed = payload["dataset"], cfg.images.seed
    location = data_location(cfg, args)
    valid_split = cfg.images.run(dataset).valid_split
    valid = load_split(dataset, valid_split, **location)
    # the label judge of reconstructions (where the record has one) is fit on its training split
    train = load_split(dataset, "train", **location) if args.out_metrics and DATASETS[dataset].label_judge else None
    check_manifests(
        args.data_manifest,
        {(dataset, valid_split): valid, **({(dataset, "train"): train} if train is not None else {})},
    )
    after = f"{dataset}, after {payload['epochs']} epochs, BN statistics {cfg.batchnorm.statistics}"
    image_grid(figures.samples(model, seed), 10, args.out_samples, f"Samples x ~ p(x|z), z ~ N(0, I) ({after})")
    image_grid(
        figures.reconstructions(model, valid, seed),
        20,
        args.out_reconstructions,
        f"Reconstructions: odd columns validation data x, even columns G_x(G_z(x)) ({after})",
    )
    pairs, steps = cfg.images.figures.interpolation_pairs, cfg.images.figures.interpolation_steps
    image_grid(
        figures.interpolations(model, valid, seed, pairs, steps),
        steps + 3,
        args.out_interpolations,
        f"Latent interpolations: x1, G_x(z1 + a (z2 - z1)) for a = 0..1, x2 ({after})",
    )
    if args.out_metrics:
        from ali_bench.atomic import write_text

        metrics = {
            "dataset": dataset,
            "epochs": payload["epochs"],
            "steps": payload["epochs"] * payload["steps_per_epoch"],
            "batchnorm_statistics": cfg.batchnorm.statistics,
            **figures.reconstruction_metrics(model, valid, seed, train),
        }
        write_text(args.out_metrics, json.dumps(metrics, indent=2) + "\n")
        sidecar_digest.record(args.out_metrics)  # quick-summary checks it


def register(sub) -> None:
    """Add the image stage's subcommands to ``sub``."""
    p = sub.add_parser("image-train", help="train ALI on one image dataset (resumable)")
    add_config(p)
    add_data_options(p)
    add_data_manifests(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument(
        "--conditional", action="store_true", help="the conditional model (digits, celeba; config 'conditional')"
    )
    p.add_argument(
        "--sample-grid-every",
        type=non_negative_int,
        help=f"epochs between sample grids (0: none); overrides "
        f"${SAMPLE_GRID_VARIABLE} and config key images.figures.sample_grid_every",
    )
    p.add_argument("--out", type=Path, required=True, help="models file (.pt)")
    p.add_argument("--log", type=Path, required=True, help="per-epoch training log (.csv)")
    add_training_options(p)
    p.set_defaults(func=cmd_image_train)

    p = sub.add_parser("image-figures", help="samples, reconstructions and interpolations of a trained model")
    add_config(p)
    add_data_options(p)
    add_data_manifests(p)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--out-samples", type=Path, required=True)
    p.add_argument("--out-reconstructions", type=Path, required=True)
    p.add_argument("--out-interpolations", type=Path, required=True)
    p.add_argument("--out-metrics", type=Path, help="reconstruction metrics (.json)")
    p.set_defaults(func=cmd_image_figures)
