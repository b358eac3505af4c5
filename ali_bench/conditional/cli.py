"""The conditional stage's command (``workflow/rules/conditional.smk``): the grid of one z under the paper's
conditions. Its model is trained by ``image-train --conditional`` (``ali_bench/images/``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ali_bench import sidecar_digest
from ali_bench.command_line import add_config, add_data_manifests, add_data_options, config_from


def cmd_conditional_figure(args: argparse.Namespace) -> None:
    import json

    from ali_bench.atomic import write_text
    from ali_bench.command_line import data_location
    from ali_bench.conditional import figures as cf
    from ali_bench.conditional import metrics as cm
    from ali_bench.data.images import load_split
    from ali_bench.data.prepare import check_manifests
    from ali_bench.data.registry import DATASETS
    from ali_bench.figures import labelled_grid
    from ali_bench.images.train import check_trained_with, load_model

    cfg = config_from(args)
    payload, model = load_model(args.models, statistics=cfg.batchnorm.statistics, conditional=True)
    check_trained_with(args.models, payload, cfg.images, cfg.batchnorm, cfg.conditional)
    seed, dataset = cfg.conditional.figure_seed, payload["dataset"]
    measured = None
    if args.out_metrics:
        run, location = cfg.conditional.run(dataset), data_location(cfg, args)
        train, valid = (
            load_split(dataset, run.train_split, **location),
            load_split(dataset, run.valid_split, **location),
        )
        check_manifests(args.data_manifest, {(dataset, run.train_split): train, (dataset, run.valid_split): valid})
        if DATASETS[dataset].labels == "classes":
            measured = cm.class_conditioning(model, train, valid, seed, dataset=dataset)
        else:
            measured = cm.celeba_conditioning(model, train, valid, seed)
        write_text(
            args.out_metrics,
            json.dumps(
                {
                    "epochs": payload["epochs"],
                    "steps": payload["epochs"] * payload["steps_per_epoch"],
                    "embedding": payload["embedding"],
                    "batchnorm_statistics": cfg.batchnorm.statistics,
                    **measured,
                },
                indent=2,
            )
            + "\n",
        )
        sidecar_digest.record(args.out_metrics)  # quick-summary checks it
    after = (
        f"after {payload['epochs']} epochs, embedding {payload['embedding']}, BN statistics {cfg.batchnorm.statistics}"
    )
    agreement = (
        ""
        if measured is None
        else (
            f"\nlabel agreement {100 * measured['label_agreement']:.1f} % (chance {100 * measured['chance']:.0f} %), "
            f"change across conditions / across z {measured['conditions_to_z_ratio']:.2f}"
        )
    )
    if dataset == "celeba":
        labelled_grid(
            cf.celeba_grid(model, seed),
            [f"{n}: {label}" for n, label, _ in cf.CELEBA_ROWS],
            [f"({c}) {label}" for c, label, _ in cf.CELEBA_COLUMNS],
            args.out,
            f"Conditional generation, one fixed z (paper Fig. 7 layout; {after}){agreement}",
        )
    else:
        rows = 8
        labelled_grid(
            cf.class_grid(model, seed, rows),
            [f"z{i + 1}" for i in range(rows)],
            [str(d) for d in range(10)],
            args.out,
            f"Conditional {dataset}: one z per row, the class across ({after}){agreement}",
        )


def register(sub) -> None:
    """Add the conditional stage's subcommand to ``sub``."""
    p = sub.add_parser("conditional-figure", help="one z decoded under the paper's grid of conditions")
    add_config(p)
    add_data_options(p)
    add_data_manifests(p)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--out-metrics",
        type=Path,
        help="how much the condition controls the sample (.json; "
        "ali_bench/conditional/metrics.py): reads the training and validation splits",
    )
    p.set_defaults(func=cmd_conditional_figure)
