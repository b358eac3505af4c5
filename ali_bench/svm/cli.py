"""The SVM stage's commands (``workflow/rules/svm.smk``): encoder features of one split, the SVMs on one
feature set, and the table."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ali_bench import sidecar_digest, trained_with
from ali_bench.command_line import add_config, add_data_manifests, add_data_options, config_from, data_location
from ali_bench.config import ConfigError
from ali_bench.trained_with import IMAGE_DATASETS

FEATURE_SETS = ("paper", "released-code", "pixels")


def cmd_features(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench.atomic import atomic_path
    from ali_bench.data.images import load_split
    from ali_bench.data.prepare import check_manifests
    from ali_bench.device import resolve_device
    from ali_bench.svm.features import write_features

    cfg = config_from(args)
    split = load_split(args.dataset, args.split, **data_location(cfg, args))
    check_manifests(args.data_manifest, {(args.dataset, args.split): split})
    if args.feature_set == "pixels":  # the raw-pixel baseline: the model's input, flattened
        with atomic_path(args.out) as tmp:
            np.save(tmp, split.images.flatten(1).numpy().astype(np.float32) / 255.0)
    else:
        from ali_bench.images.train import check_trained_with, load_model

        if args.models is None:
            raise ConfigError(f"feature set {args.feature_set!r} needs --models")
        payload, model = load_model(args.models, resolve_device(cfg.device), statistics=cfg.batchnorm.statistics)
        check_trained_with(args.models, payload, cfg.images, cfg.batchnorm, cfg.conditional)
        write_features(model, split.images, args.feature_set, args.out)
    with atomic_path(args.out_labels) as tmp:
        np.save(tmp, split.labels.numpy())
    for written in (args.out, args.out_labels):  # the SVM stage checks these before any fit
        sidecar_digest.record(written)


def cmd_svm(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench.atomic import write_text
    from ali_bench.svm import fit

    cfg = config_from(args).svm
    started = time.perf_counter()
    splits = {"train": (args.train, args.train_labels), "test": (args.test, args.test_labels)}
    if args.valid is not None:
        splits["valid"] = (args.valid, args.valid_labels)
    for features, labels in splits.values():
        for path in (features, labels):
            sidecar_digest.verify(path)
    fit.check_feature_files(splits)
    train_labels = np.load(args.train_labels)
    n = len(train_labels)
    if args.valid is None:  # SVHN: the validation set is the last validation_size rows of train
        if cfg.validation_size >= n:
            raise ConfigError(
                f"config key 'svm.validation_size': {cfg.validation_size} leaves no pool in {n} training rows"
            )
        cut = n - cfg.validation_size
        pool = fit.FeatureRows(str(args.train), train_labels[:cut], 0, cut)
        valid = fit.FeatureRows(str(args.train), train_labels[cut:], cut, n)
    else:
        pool = fit.FeatureRows(str(args.train), train_labels)
        valid = fit.FeatureRows(str(args.valid), np.load(args.valid_labels))
    test = fit.FeatureRows(str(args.test), np.load(args.test_labels))
    per_class = cfg.digits_labels_per_class if args.dataset == "digits" else cfg.labels_per_class
    key = "svm.digits_labels_per_class" if args.dataset == "digits" else "svm.labels_per_class"
    others = {"validation": (valid, args.valid_labels or args.train_labels), "test": (test, args.test_labels)}
    fit.check_classes(pool, others, args.train_labels, per_class, cfg.sampling, key)
    grid = fit.c_grid(cfg.log_c_low, cfg.log_c_high, cfg.n_c)
    result = fit.run(
        pool,
        valid,
        test,
        per_class=per_class,
        sampling=cfg.sampling,
        n_svms=cfg.n_svms,
        grid=grid,
        seed=cfg.seed,
        n_jobs=cfg.n_jobs,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    fit.write_errors(args.out_errors, result, grid)
    n_classes = len(np.unique(pool.labels))
    summary = {
        "dataset": args.dataset,
        "feature_set": args.feature_set,
        "feature_dim": int(np.load(args.train, mmap_mode="r").shape[1]),
        "sampling": cfg.sampling,
        "labels_per_svm": per_class * n_classes,
        "n_svms": cfg.n_svms,
        "chosen_c": result.chosen_c,
        "validation_error": result.validation_error,
        "test_errors": result.test_errors.tolist(),
        "test_examples": len(test.labels),
        "validation_examples": len(valid.labels),
        "pool_examples": len(pool.labels),
        "unconverged": result.unconverged,
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    write_text(args.out, json.dumps(summary, indent=2) + "\n")
    sidecar_digest.record(args.out)  # svm-table checks it (table_inputs.load_json)


def cmd_svm_table(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.config import as_dict, config_hash
    from ali_bench.svm.table import RESULT_SPEC, svm_table, svm_table_notes
    from ali_bench.table_inputs import TableInputError, read_json
    from ali_bench.tables import write_csv, write_markdown

    cfg = config_from(args)
    results = read_json(args.results, RESULT_SPEC)
    dataset = results[0]["dataset"]
    other = next((path for path, r in zip(args.results, results, strict=True) if r["dataset"] != dataset), None)
    if other is not None:
        raise TableInputError(
            f"SVM result files '{args.results[0]}' ({dataset}) and '{other}' are of different datasets; "
            "one table takes one dataset's results: run svm-table once per dataset"
        )
    svhn = dataset == "svhn"
    table = svm_table(results, with_paper=svhn)
    write_csv(table, args.out)
    notes = svm_table_notes(
        results, dataset, cfg.images.run(dataset).width, (cfg.svm.log_c_low, cfg.svm.log_c_high, cfg.svm.n_c)
    )
    if svhn:
        notes.append(
            "paper_* columns are the ALI paper's Table 1 numbers, never computed here; verdict.md judges them."
        )
    else:
        notes.append(
            f"{dataset}: no paper number exists (verdict.md sets SVHN's beside it as not comparable); "
            "the pixels row is the raw-pixel baseline computed here."
        )
    write_markdown(table, args.out.with_suffix(".md"), f"{dataset}: L2-SVM test error on ALI encoder features", notes)
    upstream = [provenance.read(path) for path in args.model_provenance]
    sections = {"svm": as_dict(cfg.svm), "images": trained_with.images_training(as_dict(cfg.images), dataset)}
    provenance.write(
        args.out,
        provenance.build(
            config=sections,
            config_hash=config_hash(sections),
            seeds=[cfg.svm.seed, cfg.images.seed],
            device=", ".join(sorted({u.get("device", "") for u in upstream})) or "cpu",
            wall_time_s=sum(r["wall_time_s"] for r in results) + sum(u.get("wall_time_s", 0) for u in upstream),
            inputs=[*args.results, *(provenance.sidecar_path(p) for p in args.model_provenance)],
            svm_wall_time_s={r["feature_set"]: r["wall_time_s"] for r in results},
            upstream=upstream,
        ),
    )


def register(sub) -> None:
    """Add the SVM stage's subcommands to ``sub``."""
    p = sub.add_parser("features", help="encoder features (or raw pixels) of one split, as float32 .npy")
    add_config(p)
    add_data_options(p)
    add_data_manifests(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--feature-set", choices=FEATURE_SETS, required=True)
    p.add_argument("--models", type=Path, help="trained image model (not needed for pixels)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--out-labels", type=Path, required=True)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("svm", help="choose C, fit the SVMs, score them on the test split")
    add_config(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--feature-set", choices=FEATURE_SETS, required=True)
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--train-labels", type=Path, required=True)
    p.add_argument(
        "--valid", type=Path, help="validation features (default: the last svm.validation_size training rows)"
    )
    p.add_argument("--valid-labels", type=Path)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--test-labels", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="summary (.json)")
    p.add_argument("--out-errors", type=Path, required=True, help="validation error per C, test error per SVM (.csv)")
    p.set_defaults(func=cmd_svm)

    p = sub.add_parser("svm-table", help="the L2-SVM table from the per-feature-set summaries")
    add_config(p)
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument(
        "--model-provenance", type=Path, nargs="*", default=[], help="files whose provenance sidecar to include"
    )
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_svm_table)
