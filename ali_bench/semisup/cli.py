"""The semi-supervised stage's commands (``workflow/rules/semisup.smk``): one K+1-class run, and the table."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from ali_bench import sidecar_digest, trained_with
from ali_bench.command_line import (
    add_config,
    add_data_manifests,
    add_data_options,
    add_training_options,
    checkpoint_seconds,
    config_from,
    data_location,
    non_negative_int,
    positive_int,
    training_device,
)
from ali_bench.semisup.models import MODELS, NAMES
from ali_bench.trained_with import SEMISUP_DATASETS


def cmd_semisup_train(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.data.prepare import check_manifests, data_provenance
    from ali_bench.semisup.settings import settings_for
    from ali_bench.semisup.train import train_semisup

    cfg = config_from(args)
    run = cfg.semisup.run(args.dataset)
    settings = settings_for(cfg, args.dataset, args.labels, args.seed, args.model)
    load = partial(load_split, args.dataset, **data_location(cfg, args))
    unlabelled = load(run.unlabelled_split)
    labelled = unlabelled if run.labelled_split == run.unlabelled_split else load(run.labelled_split)
    test = load(run.test_split)
    splits = {run.unlabelled_split: unlabelled, run.labelled_split: labelled, run.test_split: test}
    check_manifests(args.data_manifest, {(args.dataset, name): split for name, split in splits.items()})
    device = training_device(cfg, args)
    from ali_bench import cost

    price = partial(
        cost.semisup_run_cost,
        args.dataset,
        cfg.images,
        len(unlabelled),
        epochs=run.epochs,
        batch=cfg.semisup.batch_size,
        width=run.width,
        gan_fm_nets=settings.gan_fm_nets,
    )
    cost.refuse_unasked_cpu(f"semisup-train --dataset {args.dataset}", price, cfg.device, device.type)
    train_semisup(
        settings,
        unlabelled,
        labelled,
        test,
        args.out,
        args.log,
        args.out.with_name(args.out.stem + ".checkpoint.pt"),
        device,
        progress=not args.no_progress,
        record=data_provenance(args.data_manifest),
        cuda_graphs=cfg.cuda_graphs,
        checkpoint_seconds=checkpoint_seconds(cfg),
    )


def cmd_semisup_table(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.config import as_dict, config_hash
    from ali_bench.semisup.settings import check_result
    from ali_bench.semisup.table import check_distinct_runs, result_spec, semisup_table
    from ali_bench.table_inputs import check_json, read_json
    from ali_bench.tables import write_csv, write_markdown

    cfg = config_from(args)
    results = read_json(args.results, result_spec(cfg.batchnorm.statistics, identity_only=True))  # each run once
    for path, result in zip(args.results, results, strict=True):
        check_result(path, result, cfg)
    check_json(results, args.results, result_spec(cfg.batchnorm.statistics))
    check_distinct_runs(args.results)
    table = semisup_table(results, cfg.batchnorm.statistics)
    write_csv(table, args.out)
    write_markdown(
        table,
        args.out.with_suffix(".md"),
        "K+1-class semi-supervised ALI: test error",
        [
            "A reconstruction: the authors never released this code; losses from improved-GAN's script (docs/semi-supervised.md).",
            "test_error_*: K-way prediction of the averaged discriminator (EMA of its weights) on the full test split, "
            "one run per seed; std is the sample std (ddof=1) over training seeds, 3std is three times it. The paper's "
            "CIFAR-10 +- is 3 std (compare test_error_3std_pct), its SVHN +- is not said to be 1 or 3 std, and neither "
            "says over how many runs; verdict.md judges each with the conservative rule that this calls for.",
            f"Batch-norm statistics: {cfg.batchnorm.statistics} (bn_statistics; the other kind in test_error_*_bn_mean_pct). "
            "train_error: the labelled training set, evaluated like the test; no_average: the live weights; "
            "posterior_mean / prior_z: mu(x) or z ~ N(0, I) in place of the sampled z-hat beside x (what the encoder adds).",
            *(f"model {name}: {MODELS[name].description}." for name in sorted({r["model"] for r in results})),
            "paper_* columns are the ALI paper's Tables 1-2 (beside the ali and gan-fm rows), never computed here; "
            "paper_gan_fm_* is its quote of Salimans et al. (GAN with feature matching). gan-fm's D sees x alone, "
            "so its posterior-mean and prior-z columns are empty (its networks: "
            + ", ".join(f"semisup.{d}.gan_fm_nets = {cfg.semisup.run(d).gan_fm_nets}" for d in cfg.semisup.datasets)
            + ").",
            f"Every run's labelled indices are in its result file, <dataset>_<labels>labels_seed<seed>_<{'|'.join(NAMES)}>.json "
            f"in {', '.join(sorted({str(Path(p).parent) for p in args.results}))} (the inputs in the provenance sidecar).",
        ],
    )
    if args.paired_out is not None:
        write_paired(results, cfg.batchnorm.statistics, args.paired_out)
    sections = {
        "semisup": trained_with.semisup_listed(as_dict(cfg.semisup)),
        "images": {"variant": cfg.images.variant},
        "batchnorm": as_dict(cfg.batchnorm),
    }
    provenance.write(
        args.out,
        provenance.build(
            config=sections,
            config_hash=config_hash(sections),
            seeds=sorted({r["seed"] for r in results}),
            device=", ".join(sorted({r.get("device", "") for r in results} - {""})) or "see per-run results",
            wall_time_s=sum(r["wall_time_s"] for r in results),
            inputs=args.results,
        ),
    )


def write_paired(results: list[dict], statistics: str, out: Path) -> None:
    """The paired comparison (``paired.py``) of the table's runs, as CSV and Markdown."""
    from ali_bench.semisup.evaluate import headline
    from ali_bench.semisup.paired import CONFIDENCE, paired_table
    from ali_bench.tables import write_csv, write_markdown

    paired = paired_table(results, lambda run: 100 * headline(run, statistics)["test_error_sampled"])
    write_csv(paired, out)
    write_markdown(
        paired,
        out.with_suffix(".md"),
        "Semi-supervised models compared seed by seed",
        [
            "Each seed draws one labelled subset, on which every model of that seed trains: the errors are paired.",
            "difference_mean_pct: mean over the seeds both trained of (model - reference) test error, in points; "
            "negative: the model errs less. The errors are semisup_table.csv's headline (averaged D, "
            f"{statistics} batch-norm statistics).",
            f"ci_low_pct, ci_high_pct: the {CONFIDENCE:.0%} t interval of that mean; p_value: two-sided paired t-test "
            "(empty with fewer than two seeds); model_lower_on: seeds on which the model erred less.",
        ],
    )


def cmd_semisup_curves(args: argparse.Namespace) -> None:
    import pandas as pd

    from ali_bench.semisup.figures import curve_frame, learning_curves
    from ali_bench.semisup.table import result_spec
    from ali_bench.table_inputs import TableInputError, read_json

    if len(args.results) != len(args.logs):
        raise TableInputError(
            f"semisup-curves got {len(args.results)} result files and {len(args.logs)} logs: pass each run's log "
            "in the order of its result"
        )
    results = read_json(args.results, result_spec("recomputed", identity_only=True))
    logs = []
    for path in args.logs:
        sidecar_digest.verify(path)
        log = pd.read_csv(path)
        if "test_error" not in log or log["test_error"].isna().all():
            raise TableInputError(
                f"'{path}' has no test_error column or no value in it: the run logged no learning curve "
                "(config key 'semisup.evals_per_epoch' is 0, or it was trained by older code); retrain it "
                "with rule semisup_run"
            )
        logs.append(log)
    learning_curves(curve_frame(results, logs), args.out)


def register(sub) -> None:
    """Add the semi-supervised stage's subcommands to ``sub``."""
    p = sub.add_parser("semisup-train", help="one semi-supervised run (dataset, labels, seed, model), evaluated")
    add_config(p)
    add_data_options(p)
    add_data_manifests(p)
    p.add_argument("--dataset", choices=SEMISUP_DATASETS, required=True)
    p.add_argument(
        "--labels", type=positive_int, required=True, help="labelled examples, a multiple of the class count"
    )
    p.add_argument("--seed", type=non_negative_int, required=True)
    p.add_argument(
        "--model",
        choices=NAMES,
        default="ali",
        help="which model (config key semisup.models; the name its result and table row carry): "
        + "; ".join(f"{name}: {record.description}" for name, record in MODELS.items()),
    )
    p.add_argument("--out", type=Path, required=True, help="result (.json), with the labelled indices")
    p.add_argument("--log", type=Path, required=True)
    add_training_options(p)
    p.set_defaults(func=cmd_semisup_train)

    p = sub.add_parser("semisup-table", help="the semi-supervised table from per-run results")
    add_config(p)
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--paired-out", type=Path, help="also the paired comparison of the models (.csv, and .md beside)")
    p.set_defaults(func=cmd_semisup_table)

    p = sub.add_parser("semisup-curves", help="the semi-supervised learning curves from per-run results and logs")
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument("--logs", type=Path, nargs="+", required=True, help="each run's log, in the order of --results")
    p.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    p.set_defaults(func=cmd_semisup_curves)
