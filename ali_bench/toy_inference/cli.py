"""The toy inference stage's commands (``workflow/rules/toy_inference.smk``): select the runs, train the
methods, evaluate, draw."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ali_bench import sidecar_digest
from ali_bench.command_line import add_config, add_training_options, checkpoint_seconds, config_from, training_device


def cmd_toy_select(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.table_inputs import read_csv
    from ali_bench.toy.table import coverage_spec, mixture_modes
    from ali_bench.toy_inference.select import select_best, write_selection

    cfg = config_from(args)
    modes = mixture_modes(provenance.read(args.coverage).get("config", {}))
    write_selection(args.out, select_best(read_csv(args.coverage, coverage_spec(modes)), cfg.toy_inference.select_from))


def cmd_toy_infer(args: argparse.Namespace) -> None:
    from ali_bench.device import device_name
    from ali_bench.table_inputs import read_json
    from ali_bench.toy_inference.table import SELECTION_SPEC
    from ali_bench.toy_inference.train import train_method

    cfg = config_from(args)
    device = training_device(cfg, args)
    selection = read_json([args.selection], SELECTION_SPEC)[0]
    train_method(
        args.method,
        cfg.toy,
        cfg.toy_inference,
        selection,
        args.gan_models,
        args.out,
        args.log,
        args.out.with_name(args.out.stem + ".checkpoint.pt"),
        device,
        device_name(device),
        cfg.batchnorm,
        progress=not args.no_progress,
        checkpoint_seconds=checkpoint_seconds(cfg),
    )


def cmd_toy_inference_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench import provenance
    from ali_bench.atomic import atomic_path
    from ali_bench.config import as_dict, config_hash
    from ali_bench.table_inputs import read_json
    from ali_bench.tables import write_csv, write_markdown
    from ali_bench.toy_inference.evaluate import evaluate
    from ali_bench.toy_inference.table import SELECTION_SPEC, toy_inference_table

    cfg = config_from(args)
    started = time.perf_counter()
    selection = read_json([args.selection], SELECTION_SPEC)[0]
    method_paths = dict(item.split("=", 1) for item in args.methods)
    metrics, arrays, trainings = evaluate(
        cfg.toy, cfg.toy_inference, selection, args.ali_models, args.gan_models, method_paths, cfg.batchnorm
    )
    table = toy_inference_table(metrics, selection)
    write_csv(table, args.out)
    write_markdown(
        table,
        args.out.with_suffix(".md"),
        "Toy inference comparison (paper Fig. 8, in numbers)",
        [
            f"Best runs of the {cfg.toy_inference.select_from!r} hyperparameter set: {selection['rule']}.",
            "modes: modes reached by the method's generator samples (paper's count); inverse and posthoc share the GAN's generator.",
            f"reconstruction_mse: mean |x - G_x(G_z(x))|^2 over the {len(arrays['x']):,} held-out samples; "
            "same_mode_share: reconstructions assigned to the input's component.",
            f"qz_mmd2: unbiased MMD^2 between {cfg.toy_inference.mmd_samples:,} encoded held-out points and N(0, I) draws, "
            f"RBF kernel, bandwidth {cfg.toy_inference.mmd_bandwidth}; qz_ks_max: largest per-dimension KS statistic against N(0, 1).",
            "paper_claim is the paper's qualitative reading of Fig. 8; the paper reports no numbers for it.",
        ],
    )
    with atomic_path(args.out_arrays) as tmp:
        np.savez_compressed(tmp, **arrays)
    sidecar_digest.record(args.out_arrays)  # toy-inference-figure checks it
    upstream = provenance.read(args.coverage) if args.coverage else {}
    evaluation_s = time.perf_counter() - started
    sections = {"toy": as_dict(cfg.toy), "toy_inference": as_dict(cfg.toy_inference)}
    provenance.write(
        args.out,
        provenance.build(
            config=sections,
            config_hash=config_hash(sections),
            seeds=[selection["ali"]["seed"], selection["gan"]["seed"], cfg.toy_inference.seed],
            device=", ".join(sorted({t["device"] for t in trainings} | {upstream.get("device", "")} - {""})),
            wall_time_s=upstream.get("wall_time_s", 0.0) + sum(t["wall_time_s"] for t in trainings) + evaluation_s,
            selection=selection,
            stages={
                "toy": upstream.get("stages"),
                "inference_training": trainings,
                "evaluation_s": round(evaluation_s, 3),
            },
            inputs=dict.fromkeys(
                [
                    args.selection,
                    args.ali_models,
                    args.gan_models,
                    *map(Path, method_paths.values()),
                    *([provenance.sidecar_path(args.coverage)] if args.coverage else []),
                ]
            ),
            batchnorm_statistics=cfg.batchnorm.statistics,
        ),
    )


def cmd_toy_inference_figure(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench.figures import loss_curves
    from ali_bench.toy_inference.figures import toy_inference
    from ali_bench.toy_inference.methods import METHOD_TITLES, METHODS

    for path in [args.arrays, *args.logs]:
        sidecar_digest.verify(path)
    with np.load(args.arrays) as archive:
        arrays = {name: archive[name] for name in archive.files}
    methods = [m for m in METHODS if f"{m}/z_hat" in arrays]
    toy_inference(arrays, methods, METHOD_TITLES, args.out)
    if args.logs:
        logs = pd.concat([pd.read_csv(path) for path in args.logs])
        loss_curves(logs, args.out_losses, "method", "Toy inference training: loss per epoch (flat = trained)")


def register(sub) -> None:
    """Add the toy inference stage's subcommands to ``sub``."""
    p = sub.add_parser("toy-select", help="pick the best-covering ALI and GAN runs")
    add_config(p)
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="selection (.json)")
    p.set_defaults(func=cmd_toy_select)

    p = sub.add_parser("toy-infer", help="train GAN + inverse mapping, GAN + post-hoc inference, or the VAE")
    add_config(p)
    p.add_argument("--method", choices=["inverse", "posthoc", "vae"], required=True)
    p.add_argument("--selection", type=Path, required=True)
    p.add_argument("--gan-models", type=Path, required=True, help="models file holding the selected GAN run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--log", type=Path, required=True)
    add_training_options(p)
    p.set_defaults(func=cmd_toy_infer)

    p = sub.add_parser("toy-inference-evaluate", help="reconstruct held-out data with every method; the table")
    add_config(p)
    p.add_argument("--selection", type=Path, required=True)
    p.add_argument("--ali-models", type=Path, required=True)
    p.add_argument("--gan-models", type=Path, required=True)
    p.add_argument("--methods", nargs="*", default=[], metavar="METHOD=PATH", help="trained inverse/posthoc/vae files")
    p.add_argument("--coverage", type=Path, help="the toy coverage table, for provenance")
    p.add_argument("--out", type=Path, required=True, help="table (.csv)")
    p.add_argument("--out-arrays", type=Path, required=True, help="every method's points (.npz), for the figure")
    p.set_defaults(func=cmd_toy_inference_evaluate)

    p = sub.add_parser("toy-inference-figure", help="the paper's Fig. 8 layout, and the loss curves")
    p.add_argument("--arrays", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--logs", type=Path, nargs="*", default=[])
    p.add_argument("--out-losses", type=Path)
    p.set_defaults(func=cmd_toy_inference_figure)
