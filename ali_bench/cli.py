"""``python -m ali_bench <command>``: one subcommand per workflow step, explicit input and output paths.

Every Snakemake rule calls exactly one of these, so every job can also be run, tested and profiled
by hand. Expected failures (bad config, missing or corrupt data, a failed download, corrupt checkpoint) print one line to stderr
and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from functools import partial
from pathlib import Path

from ali_bench.checkpoint import CheckpointError
from ali_bench.config import Config, ConfigError, load_config
from ali_bench.data.images import DatasetCorrupt, DownloadFailed
from ali_bench import trained_with
from ali_bench.svm import FeatureFileError
from ali_bench.trained_with import IMAGE_DATASETS, SEMISUP_DATASETS
from ali_bench.training import TrainingDiverged

log = logging.getLogger(__name__)
EXPECTED_ERRORS = (ConfigError, CheckpointError, FileNotFoundError, TrainingDiverged, FeatureFileError, DatasetCorrupt,
                   DownloadFailed)


def _config(args: argparse.Namespace) -> Config:
    if args.config_json is not None:
        try:
            return load_config(json.loads(args.config_json))
        except json.JSONDecodeError as error:
            raise ConfigError(f"--config-json is not valid JSON: {error}") from None
    return load_config(args.config)


def _add_config(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", type=Path, default=Path("config/config.yaml"), help="YAML/JSON config file")
    group.add_argument("--config-json", help="the config as one JSON string (what the workflow passes)")


DATA_ROOT_VARIABLE, DOWNLOAD_VARIABLE = "ALI_BENCH_DATA_ROOT", "ALI_BENCH_DOWNLOAD"
PREPARED_ONLY_VARIABLE = "ALI_BENCH_PREPARED_ONLY"


def _add_data_manifests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-manifest", type=Path, nargs="+", help="manifests of the splits it reads (prepare-data), "
                        "copied into its provenance")


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    """Where the data lives, for commands that read a dataset. The workflow sets it through the
    environment (workflow/rules/common.smk), not in a training job's params, so that moving the data
    never retrains (ali_bench/trained_with.py). Precedence: option, then environment, then config."""
    parser.add_argument("--data-root", help=f"overrides ${DATA_ROOT_VARIABLE} and config key images.data_root")
    parser.add_argument("--download", type=boolean,
                        help=f"true or false; overrides ${DOWNLOAD_VARIABLE} and config key images.download")


def _data_location(cfg: Config, args: argparse.Namespace) -> dict:
    """``load_split``'s keyword arguments for this command: root, download and prepared_only.

    With ${PREPARED_ONLY_VARIABLE}=true (what the workflow sets for every job but prepare-data) a
    command reads only what prepare-data made: it never downloads and never converts images."""
    root = args.data_root or _environment(DATA_ROOT_VARIABLE, str) or cfg.images.data_root
    download = args.download if args.download is not None else _environment(DOWNLOAD_VARIABLE, boolean)
    prepared_only = bool(_environment(PREPARED_ONLY_VARIABLE, boolean))
    return {"root": root, "download": cfg.images.download if download is None else download, "prepared_only": prepared_only}


def _environment(name: str, parse):
    """Environment variable ``name`` through ``parse`` (an argparse type), or None when it is unset
    or empty; a value ``parse`` refuses is one line naming the variable."""
    import os

    if not os.environ.get(name):
        return None
    try:
        return parse(os.environ[name])
    except argparse.ArgumentTypeError as error:
        raise ConfigError(f"environment variable {name}: {error}") from None


SAMPLE_GRID_VARIABLE = "ALI_BENCH_SAMPLE_GRID_EVERY"


def _sample_grid_every(cfg: Config, args: argparse.Namespace) -> int:
    """Epochs between sample grids: option, then environment (how the workflow passes it: watching
    a training must not be a training setting, or switching it would retrain), then config."""
    if args.sample_grid_every is not None:
        return args.sample_grid_every
    from_environment = _environment(SAMPLE_GRID_VARIABLE, non_negative_int)
    return cfg.images.figures.sample_grid_every if from_environment is None else from_environment


def _training_device(cfg: Config, args: argparse.Namespace):
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


def _data_provenance(args: argparse.Namespace) -> dict:
    """The data manifests (prepare-data) a training was given, for its provenance."""
    from ali_bench.data.prepare import provenance_record

    return {"data": provenance_record(args.data_manifest) if args.data_manifest else
            "not recorded (no --data-manifest; the workflow passes the prepare_data manifests)"}


def cmd_prepare_data(args: argparse.Namespace) -> None:
    """Download (if asked), check, convert and hash one split; write its manifest."""
    from ali_bench.atomic import write_text
    from ali_bench.data.prepare import prepare_split

    cfg = _config(args)
    location = _data_location(cfg, args)  # prepared_only does not apply: this is the command that prepares
    if len(args.split) != len(args.out):
        raise ConfigError(f"prepare-data got {len(args.split)} --split values and {len(args.out)} --out files; expected one each")
    for split, out in zip(args.split, args.out):
        manifest = prepare_split(args.dataset, split, location["root"], location["download"], workers=args.workers)
        write_text(out, json.dumps(manifest, indent=2) + "\n")
        log.info("%s %s: %d examples, %d file(s) checked; manifest %s", args.dataset, split, manifest["examples"],
                 len(manifest["files"]), out)


FEATURE_SETS = ("paper", "released-code", "pixels")


def cmd_show_config(args: argparse.Namespace) -> None:
    """What a run with this config file really uses: every default filled in, every check passed."""
    import yaml

    from ali_bench.config import as_dict

    print(yaml.safe_dump(as_dict(_config(args)), sort_keys=False), end="")


# --------------------------------------------------------------------------------------------------
# toy


def cmd_toy_train(args: argparse.Namespace) -> None:
    import torch

    from ali_bench.device import device_name
    from ali_bench.toy.train import train_toy

    cfg = _config(args)
    device = _training_device(cfg, args)
    checkpoint_path = args.checkpoint or args.out.with_name(args.out.stem + ".checkpoint.pt")
    train_toy(
        cfg.toy, args.hyperparameters, args.out, args.log, checkpoint_path, device, device_name(device), cfg.batchnorm,
        seeds=tuple(args.seeds) if args.seeds else None, dtype=getattr(torch, args.dtype),
        cuda_graphs=cfg.cuda_graphs, progress=not args.no_progress,
    )


def cmd_toy_evaluate(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench import provenance
    from ali_bench.atomic import atomic_path
    from ali_bench.config import as_dict, config_hash
    from ali_bench.data.mixture import GridMixture
    from ali_bench.tables import write_csv
    from ali_bench.toy.evaluate import coverage_rows, generate
    from ali_bench.toy.train import load_models

    cfg = _config(args)
    started = time.perf_counter()
    mixture = GridMixture.from_config(cfg.toy.mixture)
    rows, all_samples, trainings = [], {}, []
    trained_config = {}  # what each models file says its runs were trained with (checked against this config)
    for path in args.models:
        payload, models = load_models(path, cfg.batchnorm.statistics, toy=cfg.toy, bn=cfg.batchnorm)
        trained_config[payload["hyperparameter_set"]] = trained_with.toy_training(payload["config"], payload["hyperparameter_set"])
        samples = generate(models, payload, cfg.toy.coverage.n_samples, cfg.toy.network.latent_dim)
        rows += coverage_rows(payload, samples, mixture, cfg.toy.coverage.high_quality_stds)
        all_samples.update(samples)
        trainings.append({"models": str(path), "hyperparameter_set": payload["hyperparameter_set"],
                          "device": payload["device"], "wall_time_s": round(payload["wall_time_s"], 3),
                          "config_hash": payload["config_hash"]})
    coverage = pd.DataFrame(rows)
    write_csv(coverage, args.out_coverage)
    with atomic_path(args.out_samples) as tmp:
        np.savez_compressed(tmp, **all_samples)
    evaluation_s = time.perf_counter() - started
    config = {"trained": trained_config, "coverage": as_dict(cfg.toy.coverage)}
    provenance.write(args.out_coverage, provenance.build(
        config=config, config_hash=config_hash(config), seeds=coverage["seed"],
        device=", ".join(sorted({t["device"] for t in trainings})),
        wall_time_s=sum(t["wall_time_s"] for t in trainings) + evaluation_s,
        stages={"training": trainings, "evaluation_s": round(evaluation_s, 3)},
        batchnorm_statistics=cfg.batchnorm.statistics,
    ))


def cmd_toy_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from ali_bench import provenance
    from ali_bench.tables import toy_table, write_csv, write_markdown

    coverage = pd.read_csv(args.coverage)
    table = toy_table(coverage)
    write_csv(table, args.out)
    write_markdown(table, args.out.with_suffix(".md"), "Toy 25-Gaussian mixture: modes covered", [
        "modes: modes that received at least one of 10,000 p(x) samples (argmax responsibility), the paper's count.",
        "modes_std is the sample std (ddof=1), modes_sem the standard error; the ALI paper does not say which std it used.",
        "high-quality samples lie within 3 std of their assigned mean (VEEGAN/PacGAN convention).",
        "paper_* columns are reported numbers, never computed here; paper_source names where each was printed.",
    ])
    upstream = provenance.read(args.coverage)
    record = dict(upstream)
    record.update({key: value for key, value in provenance.build(
        config=upstream["config"], config_hash=upstream["config_hash"], seeds=upstream["seeds"],
        device=upstream["device"], wall_time_s=upstream["wall_time_s"]).items()
        if key in ("created_utc", "command", "git", "versions", "machine")})
    record["inputs"] = [str(args.coverage)]
    provenance.write(args.out, record)


def cmd_toy_figure(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench.data.mixture import GridMixture
    from ali_bench.figures import toy_samples

    cfg = _config(args)
    with np.load(args.samples) as archive:
        samples = {name: archive[name] for name in archive.files}
    toy_samples(pd.read_csv(args.coverage), samples, GridMixture.from_config(cfg.toy.mixture), args.out)


def cmd_toy_select(args: argparse.Namespace) -> None:
    import pandas as pd

    from ali_bench.toy.inference import select_best, write_selection

    cfg = _config(args)
    write_selection(args.out, select_best(pd.read_csv(args.coverage), cfg.toy_inference.select_from))


def cmd_toy_infer(args: argparse.Namespace) -> None:
    from ali_bench.device import device_name
    from ali_bench.toy.inference import train_method

    cfg = _config(args)
    device = _training_device(cfg, args)
    selection = json.loads(args.selection.read_text())
    train_method(args.method, cfg.toy, cfg.toy_inference, selection, args.gan_models, args.out, args.log,
                 args.out.with_name(args.out.stem + ".checkpoint.pt"), device, device_name(device), cfg.batchnorm,
                 progress=not args.no_progress)


def cmd_toy_inference_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench import provenance
    from ali_bench.atomic import atomic_path
    from ali_bench.config import as_dict, config_hash
    from ali_bench.tables import toy_inference_table, write_csv, write_markdown
    from ali_bench.toy.inference import evaluate

    cfg = _config(args)
    started = time.perf_counter()
    selection = json.loads(args.selection.read_text())
    method_paths = dict(item.split("=", 1) for item in args.methods)
    metrics, arrays, trainings = evaluate(cfg.toy, cfg.toy_inference, selection, args.ali_models, args.gan_models, method_paths,
                                          cfg.batchnorm)
    table = toy_inference_table(metrics, selection)
    write_csv(table, args.out)
    write_markdown(table, args.out.with_suffix(".md"), "Toy inference comparison (paper Fig. 8, in numbers)", [
        f"Best runs of the {cfg.toy_inference.select_from!r} hyperparameter set: {selection['rule']}.",
        "modes: modes reached by the method's generator samples (paper's count); inverse and posthoc share the GAN's generator.",
        f"reconstruction_mse: mean |x - G_x(G_z(x))|^2 over the {len(arrays['x']):,} held-out samples; "
        "same_mode_share: reconstructions assigned to the input's component.",
        f"qz_mmd2: unbiased MMD^2 between {cfg.toy_inference.mmd_samples:,} encoded held-out points and N(0, I) draws, "
        f"RBF kernel, bandwidth {cfg.toy_inference.mmd_bandwidth}; qz_ks_max: largest per-dimension KS statistic against N(0, 1).",
        "paper_claim is the paper's qualitative reading of Fig. 8; the paper reports no numbers for it.",
    ])
    with atomic_path(args.out_arrays) as tmp:
        np.savez_compressed(tmp, **arrays)
    upstream = provenance.read(args.coverage) if args.coverage else {}
    evaluation_s = time.perf_counter() - started
    sections = {"toy": as_dict(cfg.toy), "toy_inference": as_dict(cfg.toy_inference)}
    provenance.write(args.out, provenance.build(
        config=sections, config_hash=config_hash(sections),
        seeds=[selection["ali"]["seed"], selection["gan"]["seed"], cfg.toy_inference.seed],
        device=", ".join(sorted({t["device"] for t in trainings} | {upstream.get("device", "")} - {""})),
        wall_time_s=upstream.get("wall_time_s", 0.0) + sum(t["wall_time_s"] for t in trainings) + evaluation_s,
        selection=selection, stages={"toy": upstream.get("stages"), "inference_training": trainings,
                                     "evaluation_s": round(evaluation_s, 3)},
        batchnorm_statistics=cfg.batchnorm.statistics,
    ))


def cmd_toy_inference_figure(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from ali_bench.figures import loss_curves, toy_inference
    from ali_bench.toy.inference import METHOD_TITLES, METHODS

    with np.load(args.arrays) as archive:
        arrays = {name: archive[name] for name in archive.files}
    methods = [m for m in METHODS if f"{m}/z_hat" in arrays]
    toy_inference(arrays, methods, METHOD_TITLES, args.out)
    if args.logs:
        logs = pd.concat([pd.read_csv(path) for path in args.logs])
        loss_curves(logs, args.out_losses, "method", "Toy inference training: loss per epoch (flat = trained)")


# --------------------------------------------------------------------------------------------------
# images


def cmd_image_train(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.device import device_name
    from ali_bench.images.train import train_images

    cfg = _config(args)
    device = _training_device(cfg, args)
    conditioning = None
    if args.conditional:
        from ali_bench.images.train import Conditioning

        if args.dataset not in ("digits", "celeba"):
            raise ConfigError(f"no conditional model for {args.dataset!r}; expected digits or celeba")
        conditioning = Conditioning(cfg.conditional.run(args.dataset), cfg.conditional.embedding)
    run = conditioning.run if conditioning else cfg.images.run(args.dataset)
    train = load_split(args.dataset, run.train_split, **_data_location(cfg, args))
    payload = train_images(args.dataset, cfg.images, train, args.out, args.log, args.out.with_name(args.out.stem + ".checkpoint.pt"),
                           device, device_name(device), cuda_graphs=cfg.cuda_graphs, progress=not args.no_progress,
                           conditioning=conditioning, bn=cfg.batchnorm, sample_grid_every=_sample_grid_every(cfg, args))
    from ali_bench import provenance
    from ali_bench.config import config_hash

    provenance.write(args.out, provenance.build(
        config=payload["config"], config_hash=config_hash(payload["config"]), seeds=[cfg.images.seed],
        device=payload["device"], wall_time_s=payload["wall_time_s"], epochs=payload["epochs"],
        steps_per_epoch=payload["steps_per_epoch"], train_images=len(train), **_data_provenance(args)))


def cmd_image_figures(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.figures import image_grid
    from ali_bench.images import figures
    from ali_bench.images.train import check_trained_with, load_model

    cfg = _config(args)
    payload, model = load_model(args.models, statistics=cfg.batchnorm.statistics)
    check_trained_with(args.models, payload, cfg.images, cfg.batchnorm, cfg.conditional)
    dataset, seed = payload["dataset"], cfg.images.seed
    location = _data_location(cfg, args)
    valid = load_split(dataset, cfg.images.run(dataset).valid_split, **location)
    after = f"{dataset}, after {payload['epochs']} epochs, BN statistics {cfg.batchnorm.statistics}"
    image_grid(figures.samples(model, seed), 10, args.out_samples, f"Samples x ~ p(x|z), z ~ N(0, I) ({after})")
    image_grid(figures.reconstructions(model, valid, seed), 20, args.out_reconstructions,
               f"Reconstructions: odd columns validation data x, even columns G_x(G_z(x)) ({after})")
    pairs, steps = cfg.images.figures.interpolation_pairs, cfg.images.figures.interpolation_steps
    image_grid(figures.interpolations(model, valid, seed, pairs, steps), steps + 3, args.out_interpolations,
               f"Latent interpolations: x1, G_x(z1 + a (z2 - z1)) for a = 0..1, x2 ({after})")
    if args.out_metrics:
        from ali_bench.atomic import write_text

        train = load_split(dataset, "train", **location) if dataset == "digits" else None
        metrics = {"dataset": dataset, "epochs": payload["epochs"], "batchnorm_statistics": cfg.batchnorm.statistics,
                   **figures.reconstruction_metrics(model, valid, seed, train)}
        write_text(args.out_metrics, json.dumps(metrics, indent=2) + "\n")


def cmd_conditional_figure(args: argparse.Namespace) -> None:
    from ali_bench.figures import labelled_grid
    from ali_bench.images import conditional_figures as cf
    from ali_bench.images.train import check_trained_with, load_model

    cfg = _config(args)
    payload, model = load_model(args.models, statistics=cfg.batchnorm.statistics)
    if not payload.get("conditional"):
        raise ConfigError(f"'{args.models}' holds an unconditional model; train one with image-train --conditional")
    check_trained_with(args.models, payload, cfg.images, cfg.batchnorm, cfg.conditional)
    seed = cfg.conditional.figure_seed
    after = f"after {payload['epochs']} epochs, embedding {payload['embedding']}, BN statistics {cfg.batchnorm.statistics}"
    if payload["dataset"] == "celeba":
        labelled_grid(cf.celeba_grid(model, seed), [f"{n}: {label}" for n, label, _ in cf.CELEBA_ROWS],
                      [f"({c}) {label}" for c, label, _ in cf.CELEBA_COLUMNS], args.out,
                      f"Conditional generation, one fixed z (paper Fig. 7 layout; {after})")
    else:
        rows = 8
        labelled_grid(cf.digits_grid(model, seed, rows), [f"z{i + 1}" for i in range(rows)], [str(d) for d in range(10)],
                      args.out, f"Conditional digits: one z per row, the class across ({after})")


# --------------------------------------------------------------------------------------------------
# features and SVMs


def cmd_features(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench.atomic import atomic_path
    from ali_bench.data.images import load_split
    from ali_bench.device import resolve_device
    from ali_bench.features import write_features

    cfg = _config(args)
    split = load_split(args.dataset, args.split, **_data_location(cfg, args))
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


def cmd_svm(args: argparse.Namespace) -> None:
    import numpy as np

    from ali_bench import svm
    from ali_bench.atomic import write_text

    cfg = _config(args).svm
    started = time.perf_counter()
    splits = {"train": (args.train, args.train_labels), "test": (args.test, args.test_labels)}
    if args.valid is not None:
        splits["valid"] = (args.valid, args.valid_labels)
    svm.check_feature_files(splits)
    train_labels = np.load(args.train_labels)
    n = len(train_labels)
    if args.valid is None:  # SVHN: the validation set is the last validation_size rows of train
        if cfg.validation_size >= n:
            raise ConfigError(f"config key 'svm.validation_size': {cfg.validation_size} leaves no pool in {n} training rows")
        cut = n - cfg.validation_size
        pool = svm.FeatureRows(str(args.train), train_labels[:cut], 0, cut)
        valid = svm.FeatureRows(str(args.train), train_labels[cut:], cut, n)
    else:
        pool = svm.FeatureRows(str(args.train), train_labels)
        valid = svm.FeatureRows(str(args.valid), np.load(args.valid_labels))
    test = svm.FeatureRows(str(args.test), np.load(args.test_labels))
    per_class = cfg.digits_labels_per_class if args.dataset == "digits" else cfg.labels_per_class
    grid = svm.c_grid(cfg.log_c_low, cfg.log_c_high, cfg.n_c)
    result = svm.run(pool, valid, test, per_class=per_class, sampling=cfg.sampling, n_svms=cfg.n_svms, grid=grid,
                     seed=cfg.seed, n_jobs=cfg.n_jobs, progress=lambda message: print(message, file=sys.stderr, flush=True))
    svm.write_errors(args.out_errors, result, grid)
    n_classes = len(np.unique(pool.labels))
    summary = {
        "dataset": args.dataset, "feature_set": args.feature_set, "feature_dim": int(np.load(args.train, mmap_mode="r").shape[1]),
        "sampling": cfg.sampling, "labels_per_svm": per_class * n_classes, "n_svms": cfg.n_svms,
        "chosen_c": result.chosen_c, "validation_error": result.validation_error, "test_errors": result.test_errors.tolist(),
        "test_examples": len(test.labels), "validation_examples": len(valid.labels), "pool_examples": len(pool.labels),
        "unconverged": result.unconverged, "wall_time_s": round(time.perf_counter() - started, 3),
    }
    write_text(args.out, json.dumps(summary, indent=2) + "\n")


def cmd_svm_table(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.config import as_dict, config_hash
    from ali_bench.tables import svm_table, write_csv, write_markdown

    cfg = _config(args)
    results = [json.loads(Path(path).read_text()) for path in args.results]
    dataset = results[0]["dataset"]
    svhn = dataset == "svhn"
    table = svm_table(results, with_paper=svhn)
    write_csv(table, args.out)
    notes = [
        f"Each SVM: scikit-learn LinearSVC (squared hinge = L2-SVM), no feature scaling, {results[0]['labels_per_svm']:,} "
        f"{results[0]['sampling']} labels; C chosen among exp(linspace({cfg.svm.log_c_low:g}, {cfg.svm.log_c_high:g}, {cfg.svm.n_c})) "
        f"on {results[0]['validation_examples']:,} validation examples.",
        f"test_error_*: mean and population std over {cfg.svm.n_svms} SVMs on fresh training sets, each scored on "
        f"all {results[0]['test_examples']:,} test examples.",
        "paper: our construction of the paper's 8,960-d features (conv4 BN + conv4 activation + conv5 BN + mu); "
        "released-code: mu + BN outputs of conv4, conv5, conv6 (5,376-d). Both at the paper's width; feature_dim is what ran.",
    ]
    if svhn:
        notes.append("paper_* columns are the ALI paper's Table 1 numbers, never computed here.")
    else:
        notes.append(f"{dataset}: no paper number exists; the pixels row is the raw-pixel baseline computed here.")
    write_markdown(table, args.out.with_suffix(".md"), f"{dataset}: L2-SVM test error on ALI encoder features", notes)
    upstream = [provenance.read(path) for path in args.model_provenance]
    dataset = results[0]["dataset"]  # one dataset per table: the provenance names its model settings only
    sections = {"svm": as_dict(cfg.svm), "images": trained_with.images_training(as_dict(cfg.images), dataset)}
    provenance.write(args.out, provenance.build(
        config=sections, config_hash=config_hash(sections), seeds=[cfg.svm.seed, cfg.images.seed],
        device=", ".join(sorted({u.get("device", "") for u in upstream})) or "cpu",
        wall_time_s=sum(r["wall_time_s"] for r in results) + sum(u.get("wall_time_s", 0) for u in upstream),
        inputs=[str(p) for p in args.results], svm_wall_time_s={r["feature_set"]: r["wall_time_s"] for r in results},
        upstream=upstream,
    ))


# --------------------------------------------------------------------------------------------------
# semi-supervised


def cmd_semisup_train(args: argparse.Namespace) -> None:
    from ali_bench.data.images import load_split
    from ali_bench.semisup import settings_for, train_semisup

    cfg = _config(args)
    run = cfg.semisup.run(args.dataset)
    settings = settings_for(cfg, args.dataset, args.labels, args.seed, args.supervised_only)
    load = partial(load_split, args.dataset, **_data_location(cfg, args))
    unlabelled = load(run.unlabelled_split)
    labelled = unlabelled if run.labelled_split == run.unlabelled_split else load(run.labelled_split)
    train_semisup(settings, unlabelled, labelled, load(run.test_split), args.out, args.log,
                  args.out.with_name(args.out.stem + ".checkpoint.pt"), _training_device(cfg, args), progress=not args.no_progress,
                  record=_data_provenance(args), cuda_graphs=cfg.cuda_graphs)


def cmd_semisup_table(args: argparse.Namespace) -> None:
    from ali_bench import provenance
    from ali_bench.config import as_dict, config_hash
    from ali_bench.semisup import check_result
    from ali_bench.tables import semisup_table, write_csv, write_markdown

    cfg = _config(args)
    results = [json.loads(Path(path).read_text()) for path in args.results]
    for path, result in zip(args.results, results):
        check_result(path, result, cfg)
    table = semisup_table(results, cfg.batchnorm.statistics)
    write_csv(table, args.out)
    write_markdown(table, args.out.with_suffix(".md"), "K+1-class semi-supervised ALI: test error", [
        "A reconstruction: the authors never released this code; losses from improved-GAN's script (see README).",
        "test_error_*: K-way prediction of the averaged discriminator (EMA of its weights) on the full test split, "
        "one run per seed; std is the sample std (ddof=1), 3std is three times it (the paper's CIFAR-10 convention).",
        f"Batch-norm statistics: {cfg.batchnorm.statistics} (bn_statistics; the other kind in test_error_*_bn_mean_pct). "
        "train_error: the labelled training set, evaluated like the test; no_average: the live weights; "
        "posterior_mean / prior_z: mu(x) or z ~ N(0, I) in place of the sampled z-hat beside x (what the encoder adds).",
        "supervised-only rows: the same discriminator trained on the labelled examples alone (computed here).",
        "paper_* columns are the ALI paper's Tables 1-2, never computed here; GAN-FM = Salimans et al. with feature matching.",
        "Every run's labelled indices are in its results/semisup/<dataset>_<labels>_seed<seed>.json.",
    ])
    sections = {"semisup": trained_with.semisup_listed(as_dict(cfg.semisup)), "images": {"variant": cfg.images.variant}, "batchnorm": as_dict(cfg.batchnorm)}
    provenance.write(args.out, provenance.build(
        config=sections, config_hash=config_hash(sections), seeds=sorted({r["seed"] for r in results}),
        device=", ".join(sorted({r.get("device", "") for r in results} - {""})) or "see per-run results",
        wall_time_s=sum(r["wall_time_s"] for r in results), inputs=[str(p) for p in args.results],
    ))


# --------------------------------------------------------------------------------------------------


def boolean(text: str) -> bool:
    """An argparse type: true or false (any case), as YAML and Python print them."""
    value = {"true": True, "false": False}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (threads, label counts)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 (seeds)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


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
        raise ConfigError(f"--labels {labels} does not split evenly over the {CLASSES} classes; expected a multiple of {CLASSES}")
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
    _add_config(p)
    p.set_defaults(func=cmd_show_config)

    p = sub.add_parser("prepare-data", help="download (if asked), check checksums, convert and hash one dataset split")
    _add_config(p)
    _add_data_options(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--split", nargs="+", required=True)
    p.add_argument("--workers", type=positive_int, default=1, help="processes that convert images (CelebA, Tiny ImageNet)")
    p.add_argument("--out", type=Path, nargs="+", required=True, help="each split's manifest (.json): file checksums, array hashes")
    p.set_defaults(func=cmd_prepare_data)

    p = sub.add_parser("toy-train", help="train every toy run of one hyperparameter set, batched")
    _add_config(p)
    p.add_argument("--hyperparameters", choices=["random", "released"], required=True)
    p.add_argument("--out", type=Path, required=True, help="models file (.pt)")
    p.add_argument("--log", type=Path, required=True, help="per-epoch, per-run training log (.csv)")
    p.add_argument("--checkpoint", type=Path, help="in-progress checkpoint (default: beside --out)")
    p.add_argument("--seeds", type=non_negative_int, nargs="+", help="train only these seeds (default: the config's)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_toy_train)

    p = sub.add_parser("toy-evaluate", help="sample every trained run and measure its mode coverage")
    _add_config(p)
    p.add_argument("--models", type=Path, nargs="+", required=True)
    p.add_argument("--out-coverage", type=Path, required=True)
    p.add_argument("--out-samples", type=Path, required=True)
    p.set_defaults(func=cmd_toy_evaluate)

    p = sub.add_parser("toy-table", help="aggregate coverage per model, beside the reported numbers")
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_toy_table)

    p = sub.add_parser("toy-figure", help="draw every run's samples over the mixture")
    _add_config(p)
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--samples", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_toy_figure)

    p = sub.add_parser("toy-select", help="pick the best-covering ALI and GAN runs")
    _add_config(p)
    p.add_argument("--coverage", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="selection (.json)")
    p.set_defaults(func=cmd_toy_select)

    p = sub.add_parser("toy-infer", help="train GAN + inverse mapping, GAN + post-hoc inference, or the VAE")
    _add_config(p)
    p.add_argument("--method", choices=["inverse", "posthoc", "vae"], required=True)
    p.add_argument("--selection", type=Path, required=True)
    p.add_argument("--gan-models", type=Path, required=True, help="models file holding the selected GAN run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--threads", type=positive_int)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_toy_infer)

    p = sub.add_parser("toy-inference-evaluate", help="reconstruct held-out data with every method; the table")
    _add_config(p)
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

    p = sub.add_parser("image-train", help="train ALI on one image dataset (resumable)")
    _add_config(p)
    _add_data_options(p)
    _add_data_manifests(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--conditional", action="store_true", help="the conditional model (digits, celeba; config 'conditional')")
    p.add_argument("--sample-grid-every", type=non_negative_int, help=f"epochs between sample grids (0: none); overrides "
                   f"${SAMPLE_GRID_VARIABLE} and config key images.figures.sample_grid_every")
    p.add_argument("--out", type=Path, required=True, help="models file (.pt)")
    p.add_argument("--log", type=Path, required=True, help="per-epoch training log (.csv)")
    p.add_argument("--threads", type=positive_int)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_image_train)

    p = sub.add_parser("image-figures", help="samples, reconstructions and interpolations of a trained model")
    _add_config(p)
    _add_data_options(p)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--out-samples", type=Path, required=True)
    p.add_argument("--out-reconstructions", type=Path, required=True)
    p.add_argument("--out-interpolations", type=Path, required=True)
    p.add_argument("--out-metrics", type=Path, help="reconstruction metrics (.json)")
    p.set_defaults(func=cmd_image_figures)

    p = sub.add_parser("conditional-figure", help="one z decoded under the paper's grid of conditions")
    _add_config(p)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_conditional_figure)

    p = sub.add_parser("features", help="encoder features (or raw pixels) of one split, as float32 .npy")
    _add_config(p)
    _add_data_options(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--feature-set", choices=FEATURE_SETS, required=True)
    p.add_argument("--models", type=Path, help="trained image model (not needed for pixels)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--out-labels", type=Path, required=True)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("svm", help="choose C, fit the SVMs, score them on the test split")
    _add_config(p)
    p.add_argument("--dataset", choices=IMAGE_DATASETS, required=True)
    p.add_argument("--feature-set", choices=FEATURE_SETS, required=True)
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--train-labels", type=Path, required=True)
    p.add_argument("--valid", type=Path, help="validation features (default: the last svm.validation_size training rows)")
    p.add_argument("--valid-labels", type=Path)
    p.add_argument("--test", type=Path, required=True)
    p.add_argument("--test-labels", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="summary (.json)")
    p.add_argument("--out-errors", type=Path, required=True, help="validation error per C, test error per SVM (.csv)")
    p.set_defaults(func=cmd_svm)

    p = sub.add_parser("svm-table", help="the L2-SVM table from the per-feature-set summaries")
    _add_config(p)
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument("--model-provenance", type=Path, nargs="*", default=[], help="files whose provenance sidecar to include")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_svm_table)

    p = sub.add_parser("semisup-train", help="one K+1-class semi-supervised run (dataset, labels, seed), evaluated")
    _add_config(p)
    _add_data_options(p)
    _add_data_manifests(p)
    p.add_argument("--dataset", choices=SEMISUP_DATASETS, required=True)
    p.add_argument("--labels", type=positive_int, required=True, help="labelled examples, a multiple of the class count")
    p.add_argument("--seed", type=non_negative_int, required=True)
    p.add_argument("--supervised-only", action="store_true", help="the baseline: D on the labelled examples alone")
    p.add_argument("--out", type=Path, required=True, help="result (.json), with the labelled indices")
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--threads", type=positive_int)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_semisup_train)

    p = sub.add_parser("semisup-table", help="the semi-supervised table from per-run results")
    _add_config(p)
    p.add_argument("--results", type=Path, nargs="+", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_semisup_table)
    return parser


def main(argv: list[str] | None = None) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    args = build_parser().parse_args(argv)
    try:
        with logging_redirect_tqdm():  # log lines go above a running progress bar, never through it
            check_arguments(args)
            args.func(args)
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
