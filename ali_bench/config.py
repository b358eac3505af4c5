"""Typed configuration, validated against the one JSON schema the workflow also uses.

Why two layers: the JSON schema (``config.schema.yaml``) is the contract Snakemake validates before
any job starts, and it holds every default, so defaults live in exactly one place. The frozen
dataclasses below give the Python side typed attribute access and refuse any key the schema does not
know, so a CLI run by hand gets the same checks as one run by the workflow.

Here: the dataclasses, their cross-key checks, ``load_config``, ``as_dict`` and ``config_hash``.
Validation with defaults and the conversion of a mapping into the dataclasses: ``config_schema.py``.

Why one file over 300 lines: the cross-key checks read several sections at once (results_dir with
the toy's, the SVM's labels with the digits split, semisup's labels with the datasets), so the
sections' dataclasses and the checks across them are read together.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ali_bench.config_schema import ConfigError, build, validate
from ali_bench.data.registry import accepted_by

DIGITS_TRAIN_MIN_CLASS = 120  # the rarest digit in the embedded digits' train split (checked by a test)
FASHION_TRAIN_MIN_CLASS = 5473  # the rarest class in Fashion-MNIST's train split (checked by a test where installed)


# --------------------------------------------------------------------------------------------------
# dataclasses (field names and nesting mirror the schema exactly; a test checks they agree)


@dataclass(frozen=True)
class Range:
    """A sampling range for one random hyperparameter: uniform in value or in log(value)."""

    low: float
    high: float
    log: bool

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(f"range low={self.low} is above high={self.high}")


@dataclass(frozen=True)
class MixtureConfig:
    grid: tuple[float, ...]
    std: float
    n_train: int
    n_test: int
    train_seed: int
    test_seed: int


@dataclass(frozen=True)
class ToyNetworkConfig:
    latent_dim: int
    encoder_hidden: tuple[int, ...]
    decoder_hidden: tuple[int, ...]
    discriminator_units: int
    discriminator_layers: int
    maxout_pieces: int
    bn_eps: float
    bn_momentum: float


@dataclass(frozen=True)
class ToyTrainingConfig:
    batch_size: int
    epochs: int
    checkpoint_every: int
    adam_beta2: float
    adam_eps: float


@dataclass(frozen=True)
class HyperParameters:
    """The three hyperparameters the paper draws at random for each toy run."""

    lr: float
    beta1: float
    init_std: float


@dataclass(frozen=True)
class RandomSearch:
    lr: Range
    beta1: Range
    init_std: Range


@dataclass(frozen=True)
class CoverageConfig:
    n_samples: int  # the ALI paper's samples per run
    pacgan_n_samples: int  # PacGAN's samples per run (its Table 1), drawn from a stream of their own
    high_quality_stds: float


@dataclass(frozen=True)
class InferenceConfig:
    """GAN + inverse mapping, GAN + post-hoc inference and the VAE of the toy comparison."""

    select_from: str
    methods: tuple[str, ...]
    epochs: int
    batch_size: int
    lr: float
    beta1: float
    init_std: float
    vae_decoder_std: float
    seed: int
    mmd_samples: int
    mmd_bandwidth: float


@dataclass(frozen=True)
class ToyConfig:
    models: tuple[str, ...]
    hyperparameter_sets: tuple[str, ...]
    seeds: tuple[int, ...]
    mixture: MixtureConfig
    network: ToyNetworkConfig
    training: ToyTrainingConfig
    released: HyperParameters
    random_search: RandomSearch
    coverage: CoverageConfig

    def __post_init__(self) -> None:
        if self.mixture.n_train < self.training.batch_size:
            raise ConfigError(
                f"config key 'toy.mixture.n_train': {self.mixture.n_train} is smaller than "
                f"toy.training.batch_size={self.training.batch_size}"
            )


@dataclass(frozen=True)
class ImageRunConfig:
    """How one image dataset's ALI is trained (the architecture itself is fixed per dataset)."""

    epochs: int
    batch_size: int
    lr: float
    beta1: float
    width: float  # hidden channel multiplier; 1.0 is the paper's architecture
    train_split: str
    valid_split: str


@dataclass(frozen=True)
class ImageFiguresConfig:
    interpolation_pairs: int
    interpolation_steps: int
    sample_grid_every: int  # epochs between sample grids while training (0 = never)


@dataclass(frozen=True)
class ImagesConfig:
    datasets: tuple[str, ...]
    data_root: str
    # auto (SVHN, CIFAR-10, Fashion-MNIST) | true (also CelebA) | false; ali_bench/data/images.py wants_download
    download: bool | str
    verify_checksums: bool  # official files must be the published ones (ali_bench/data/checksums.py)
    variant: str
    cifar10_dx_biases: str  # tied | untied (Blocks' default before 2016-06-03)
    seed: int
    tf32: bool
    bf16: bool
    channels_last: bool
    figures: ImageFiguresConfig
    digits: ImageRunConfig
    svhn: ImageRunConfig
    cifar10: ImageRunConfig
    celeba: ImageRunConfig
    fashion_mnist: ImageRunConfig
    tiny_imagenet: ImageRunConfig

    def run(self, dataset: str) -> ImageRunConfig:
        return getattr(self, dataset)


@dataclass(frozen=True)
class SvmConfig:
    feature_sets: tuple[str, ...]
    sampling: str
    labels_per_class: int
    n_svms: int
    validation_size: int
    log_c_low: float
    log_c_high: float
    n_c: int
    seed: int
    n_jobs: int
    digits_labels_per_class: int


@dataclass(frozen=True)
class SemisupRunConfig:
    labels: tuple[int, ...]
    epochs: int
    width: float
    unlabelled_split: str
    labelled_split: str
    test_split: str
    gan_fm_nets: str  # improved-gan-conv | improved-gan-mlp | ali: gan-fm's networks for this dataset


@dataclass(frozen=True)
class SemisupConfig:
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    batch_size: int
    lr: float
    beta1: float
    decay_fraction: float
    ema_decay: float
    ema_warmup: bool  # decay_t = min(ema_decay, (1 + t)/(10 + t)): the average moves in a short run
    unlabelled_weight: float  # improved-GAN's --unlabeled_weight on the unlabelled loss
    evals_per_epoch: int  # test-error evaluations per epoch for the learning curve (0: none)
    d_batchnorm: str  # joint | separate | weightnorm: how D's batch norm sees the three groups of pairs
    models: tuple[str, ...]  # names of semisup/models.py, each trained per (dataset, labels, seed)
    digits: SemisupRunConfig
    svhn: SemisupRunConfig
    cifar10: SemisupRunConfig
    fashion_mnist: SemisupRunConfig

    def run(self, dataset: str) -> SemisupRunConfig:
        return getattr(self, dataset)


@dataclass(frozen=True)
class ConditionalConfig:
    datasets: tuple[str, ...]
    embedding: str
    figure_seed: int
    digits: ImageRunConfig
    celeba: ImageRunConfig
    fashion_mnist: ImageRunConfig

    def run(self, dataset: str) -> ImageRunConfig:
        return getattr(self, dataset)


@dataclass(frozen=True)
class BatchNormConfig:
    """Which batch-norm population statistics evaluations use, and how they are recomputed."""

    statistics: str  # recomputed | running
    batches: int
    batch_size: int


@dataclass(frozen=True)
class VerdictConfig:
    """Thresholds of the verdict's decision rule (ali_bench/verdict/decide.py)."""

    alpha: float
    min_runs: int


@dataclass(frozen=True)
class Config:
    results_dir: str
    device: str
    cuda_graphs: bool
    checkpoint_seconds: float
    deterministic: bool
    batchnorm: BatchNormConfig
    toy: ToyConfig
    toy_inference: InferenceConfig
    images: ImagesConfig
    svm: SvmConfig
    semisup: SemisupConfig
    conditional: ConditionalConfig
    verdict: VerdictConfig

    def __post_init__(self) -> None:
        if not self.results_dir.strip() or Path(self.results_dir).resolve() == Path("/"):
            raise ConfigError(
                f"config key 'results_dir': {self.results_dir!r} would write results into the filesystem root; "
                "expected a folder such as 'results'"
            )
        if any(c.isspace() for c in self.results_dir):  # the rules' shell commands split paths at whitespace
            raise ConfigError(
                f"config key 'results_dir': {self.results_dir!r} contains whitespace, which the workflow's shell "
                "commands would split into two arguments; expected a folder path without spaces"
            )
        if self.svm.digits_labels_per_class > DIGITS_TRAIN_MIN_CLASS:
            raise ConfigError(
                f"config key 'svm.digits_labels_per_class': {self.svm.digits_labels_per_class} is more labels per class "
                f"than the digits train split has (its rarest digit has {DIGITS_TRAIN_MIN_CLASS} examples)"
            )
        for dataset in accepted_by("semisup"):
            for n in self.semisup.run(dataset).labels:
                if n % 10:
                    raise ConfigError(
                        f"config key 'semisup.{dataset}.labels': {n} does not split evenly over 10 classes"
                    )
        for dataset, most in (
            ("digits", 10 * DIGITS_TRAIN_MIN_CLASS),
            ("cifar10", 50_000),
            ("fashion_mnist", 10 * FASHION_TRAIN_MIN_CLASS),
        ):
            too_many = [n for n in self.semisup.run(dataset).labels if n > most]
            if too_many:
                raise ConfigError(
                    f"config key 'semisup.{dataset}.labels': {too_many[0]} is more labels than the "
                    f"{dataset} training split can give class-balanced (at most {most})"
                )


def check_toy_inference_selection(cfg: Config) -> None:
    """toy_inference.select_from must name a trained toy hyperparameter set (``CROSS_SECTION_CHECKS``)."""
    if cfg.toy_inference.select_from not in cfg.toy.hyperparameter_sets:
        raise ConfigError(
            f"config key 'toy_inference.select_from': {cfg.toy_inference.select_from!r} is not one of "
            f"toy.hyperparameter_sets {list(cfg.toy.hyperparameter_sets)}"
        )


def _duplicate_key(node: yaml.Node, prefix: str = "") -> tuple[str, int, int] | None:
    """The first key given twice in one mapping of a composed YAML document: (dotted key, first line, second line)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                return f"{prefix}{key}", seen[key], key_node.start_mark.line + 1
            if key is not None:
                seen[key] = key_node.start_mark.line + 1
            found = _duplicate_key(value_node, f"{prefix}{key}.")
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, f"{prefix}{i}.")
            if found:
                return found
    return None


def read_config_file(path: str | Path) -> Any:
    """A YAML (or JSON) config file's content, read strictly: one line naming the file when it is
    missing, not UTF-8, not YAML, or gives one key twice.

    Why strict: PyYAML and Snakemake's ``--configfile`` keep the last of two equal keys silently,
    so an edit made to the first copy of a block changes nothing. The workflow reads every config
    file it was given through this too (workflow/rules/common.smk)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file '{path}' is not UTF-8 text (a binary file?); expected a YAML mapping") from None
    try:
        duplicate = _duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"config file '{path}' is not valid YAML: {error}".splitlines()[0]) from None
    if duplicate:
        key, first, second = duplicate
        raise ConfigError(
            f"config file '{path}' gives key '{key}' twice (lines {first} and {second}); "
            "YAML would keep the second silently: delete one"
        )
    return data


# Checks that relate two sections, each with the sections it reads. A workflow job gets the config
# cut to the sections it reads (the rest fall back to defaults it never uses), so such a check runs
# only on a config that gives all its sections: the workflow's whole config (checked once, before
# any job starts) or a user's file that sets both. A toy training job, given the toy section alone,
# is then never refused over the default of toy_inference, a section it does not read.
CROSS_SECTION_CHECKS: tuple[tuple[tuple[str, ...], Callable[[Config], None]], ...] = (
    (("toy", "toy_inference"), check_toy_inference_selection),
)


def check_across_sections(config: Config, given: dict) -> None:
    """Run each of ``CROSS_SECTION_CHECKS`` whose sections are all in ``given`` (the mapping loaded)."""
    for sections, check in CROSS_SECTION_CHECKS:
        if all(section in given for section in sections):
            check(config)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def number_strings(data: Any, file: str | Path, prefix: str = "") -> dict[str, tuple[str, str]]:
    """Every string value of a config file's ``data`` that reads as a number (PyYAML keeps ``3e-4`` a
    string), by dotted key: ``{key: (file, text)}``, for validation's advice (config_schema.validate)."""
    if isinstance(data, str):
        return {prefix[:-1]: (str(file), data)} if prefix and _looks_numeric(data) else {}
    if not isinstance(data, (dict, list)):
        return {}
    items = data.items() if isinstance(data, dict) else enumerate(data)
    found: dict = {}
    for key, value in items:
        found.update(number_strings(value, file, f"{prefix}{key}."))
    return found


def load_config(source: dict | str | Path | None) -> Config:
    """Validate a config mapping (or a YAML/JSON file) and return the typed, defaulted Config."""
    origins = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        source = read_config_file(path)
        if source is None:  # empty or comments only: refused, as Snakemake refuses it (never paper scale by accident)
            raise ConfigError(
                f"config file '{path}' is empty (or only comments); expected a YAML mapping of config keys"
            )
        origins = number_strings(source, path)
    config = build(Config, validate(source, origins), "")
    check_across_sections(config, source if isinstance(source, dict) else {})
    return config


def config_hash(section: Any) -> str:
    """A short, stable hash of a config (section): what a result was computed from."""
    if dataclasses.is_dataclass(section):
        section = dataclasses.asdict(section)
    canonical = json.dumps(section, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def as_dict(section: Any) -> dict:
    """A JSON-ready dict of a dataclass config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(section), default=list))
