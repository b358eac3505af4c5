"""One semi-supervised run's settings, as the config gives them, and its labelled subset.

A run is (dataset, labels, seed, model); its result file records these settings, and the table
refuses a result whose settings are not the ones the config gives that run (``check_result``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ali_bench import trained_with
from ali_bench.config import Config
from ali_bench.seeding import seed_for
from ali_bench.semisup.models import semisup_model

# the stage's random streams (ali_bench/seeding.py): each draw has its own, so a change to one leaves the others
LABELS, ORDER, LABELLED_ORDER, INIT, NOISE, EVAL, BN_PASSES, WN_INIT, SECOND_ORDER = 30, 31, 32, 33, 34, 35, 36, 37, 38
D_BATCHNORM = ("joint", "separate", "weightnorm")


def balanced_labels(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` random examples of each class (sorted indices), drawn from ``seed`` alone."""
    rng = np.random.default_rng(seed_for(seed, LABELS))
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if len(members) < per_class:
            raise ValueError(f"class {cls} has {len(members)} examples, fewer than the {per_class} labels asked for")
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True)
class SemisupSettings:
    dataset: str
    n_labels: int
    seed: int
    epochs: int
    batch_size: int  # labelled and unlabelled examples per step, each
    lr: float
    beta1: float
    decay_fraction: float  # the last fraction of epochs over which the lr falls linearly to 0
    ema_decay: float
    width: float
    variant: str
    model: str  # a name of semisup/models.py: its one spelling, from the config to the table row
    d_batchnorm: str = "weightnorm"  # see D_BATCHNORM and config/config.yaml
    ema_warmup: bool = True  # decay_t = min(ema_decay, (1 + t)/(10 + t)); False: the plain decay (improved-GAN)
    unlabelled_weight: float = 1.0  # improved-GAN's --unlabeled_weight on loss_unl
    bn_batches: int = 10  # batch-norm statistics recomputed from this many training-shaped batches
    bn_batch_size: int = 500  # of this many labelled, unlabelled and generated pairs each
    gan_fm_nets: str = ""  # gan-fm's networks (semisup.<dataset>.gan_fm_nets); "" for the other models
    evals_per_epoch: int = 1  # test-error evaluations per epoch for the learning curve (0: none); training unchanged

    @property
    def supervised_only(self) -> bool:
        """Whether D sees the labelled pairs alone (the model learns nothing from unlabelled images)."""
        return not semisup_model(self.model).learns_from_unlabelled

    def __post_init__(self) -> None:
        semisup_model(self.model)  # an unknown name fails here, in one line
        if self.d_batchnorm not in D_BATCHNORM:
            raise ValueError(
                f"config key 'semisup.d_batchnorm': {self.d_batchnorm!r}; expected one of {', '.join(D_BATCHNORM)}"
            )


def settings_for(cfg: Config, dataset: str, labels: int, seed: int, model: str) -> SemisupSettings:
    """The settings of one run (dataset, labels, seed, model) as the config gives them."""
    run, semisup = cfg.semisup.run(dataset), cfg.semisup
    return SemisupSettings(
        dataset=dataset,
        n_labels=labels,
        seed=seed,
        epochs=run.epochs,
        batch_size=semisup.batch_size,
        lr=semisup.lr,
        beta1=semisup.beta1,
        decay_fraction=semisup.decay_fraction,
        ema_decay=semisup.ema_decay,
        width=run.width,
        variant=cfg.images.variant,
        model=model,
        d_batchnorm=semisup.d_batchnorm,
        ema_warmup=semisup.ema_warmup,
        unlabelled_weight=semisup.unlabelled_weight,
        bn_batches=cfg.batchnorm.batches,
        bn_batch_size=cfg.batchnorm.batch_size,
        gan_fm_nets=run.gan_fm_nets if model == "gan-fm" else "",
        evals_per_epoch=semisup.evals_per_epoch,
    )


def check_result(path: str | Path, result: dict, cfg: Config) -> None:
    """Refuse a run's result whose settings are not those the config gives that run (one line, the
    first differing setting): a table never mixes in a run from another configuration."""
    if result["model"] not in cfg.semisup.models:
        raise trained_with.ModelMismatch(
            f"'{path}' is a run of model {result['model']!r}, which config key 'semisup.models' "
            f"({', '.join(cfg.semisup.models)}) does not list: add it there or leave the file out"
        )
    asked = settings_for(cfg, result["dataset"], result["n_labels"], result["seed"], result["model"])
    trained_with.check(path, _as_config_keys(result), _as_config_keys(asked.__dict__))


SHARED_SETTINGS = (
    "batch_size",
    "lr",
    "beta1",
    "decay_fraction",
    "ema_decay",
    "d_batchnorm",
    "ema_warmup",
    "unlabelled_weight",
    "evals_per_epoch",
)


def _as_config_keys(settings: dict) -> dict:
    """A run's settings laid out as the config names them, so that a mismatch names the key to edit."""
    dataset = settings["dataset"]
    semisup = {key: settings.get(key) for key in SHARED_SETTINGS}
    semisup[dataset] = {
        "epochs": settings.get("epochs"),
        "width": settings.get("width"),
        "gan_fm_nets": settings.get("gan_fm_nets"),
    }
    return {
        "semisup": semisup,
        "images": {"variant": settings.get("variant")},
        "batchnorm": {"batches": settings.get("bn_batches"), "batch_size": settings.get("bn_batch_size")},
    }
