"""What a trained model depends on, in one place, for the two parties that need to agree on it.

- The workflow (``workflow/rules/common.smk``) gives each training job only these settings as its
  Snakemake ``params``, so that changing a key that cannot change the trained weights (figure
  sizes, sample counts, where the data files live, which other seeds or datasets are listed)
  never retrains: Snakemake reruns a job when its params change.
- Every consumer of a trained file (toy evaluation and inference, image figures and features, the
  conditional figure, the semi-supervised table) computes the same view from the config it was
  given and compares it with the view of the settings the file was trained with; a mismatch is
  refused in one line naming the file and the first differing key. Without that check a models
  file from another configuration is evaluated silently, and the table's provenance names settings
  the model never saw.

Views are plain dicts of the config sections (``config.as_dict`` or the validated YAML), with the
keys that do not shape training removed. This module imports no torch: the workflow imports it.
"""

from __future__ import annotations

from typing import Any

from ali_bench.config import ConfigError
from ali_bench.data.registry import accepted_by

IMAGE_DATASETS = accepted_by("images")
SEMISUP_DATASETS = accepted_by("semisup")
CONDITIONAL_DATASETS = accepted_by("conditional")

# Keys no training reads. Where the data lives reaches training jobs through the environment
# (ALI_BENCH_DATA_ROOT, ALI_BENCH_DOWNLOAD; workflow/rules/common.smk), so moving the data never retrains.
TOY_EVALUATION_ONLY = ("coverage", "hyperparameter_sets")
INFERENCE_EVALUATION_ONLY = ("methods", "mmd_samples", "mmd_bandwidth")
IMAGES_EVALUATION_ONLY = ("figures", "data_root", "download", "verify_checksums", "datasets")
IMAGE_RUN_EVALUATION_ONLY = ("valid_split",)
CONDITIONAL_EVALUATION_ONLY = ("figure_seed", "datasets")
SEMISUP_PER_RUN = ("datasets", "seeds", "models")  # a run's own dataset, seed and model are its wildcards


class ModelMismatch(ConfigError):
    """A trained file was made with other settings than the config asks its consumer to use."""


def _without(section: dict, keys: tuple[str, ...]) -> dict:
    return {key: value for key, value in section.items() if key not in keys}


def toy_training(toy: dict, hyperparameter_set: str) -> dict:
    """The toy settings one hyperparameter set's runs are trained with (the other set's values aside)."""
    other = "random_search" if hyperparameter_set == "released" else "released"
    return _without(toy, (*TOY_EVALUATION_ONLY, other))


def inference_training(toy_inference: dict) -> dict:
    """The toy inference settings the three methods are trained with."""
    return _without(toy_inference, INFERENCE_EVALUATION_ONLY)


def images_shared(images: dict, dataset: str) -> dict:
    """The images keys every dataset's jobs share, plus ``dataset``'s own ``<dataset>_*`` switches
    (such as cifar10_dx_biases); not the dataset blocks, the other datasets' switches or the target list."""
    others = tuple(f"{name}_" for name in IMAGE_DATASETS if name != dataset)
    return {
        key: value
        for key, value in images.items()
        if key not in (*IMAGE_DATASETS, "datasets") and not key.startswith(others)
    }


def images_training(images: dict, dataset: str) -> dict:
    """The images settings ``dataset``'s training reads: the shared keys that shape training, its own
    switches, and its own block without its evaluation-only keys."""
    view = _without(images_shared(images, dataset), IMAGES_EVALUATION_ONLY)
    view[dataset] = _without(images[dataset], IMAGE_RUN_EVALUATION_ONLY)
    return view


def conditional_training(conditional: dict, dataset: str) -> dict:
    """The conditional model's settings for ``dataset``'s training."""
    view = {
        key: value
        for key, value in conditional.items()
        if key not in (*CONDITIONAL_DATASETS, *CONDITIONAL_EVALUATION_ONLY)
    }
    view[dataset] = _without(conditional[dataset], IMAGE_RUN_EVALUATION_ONLY)
    return view


def semisup_training(semisup: dict, dataset: str, model: str) -> dict:
    """One semi-supervised run's settings: the shared ones and its dataset's block, without the lists
    of seeds, datasets, models and label counts (each run's are its own wildcards); gan-fm's networks
    only for a gan-fm run, so that switching them retrains no other model."""
    view = {key: value for key, value in semisup.items() if key not in (*SEMISUP_DATASETS, *SEMISUP_PER_RUN)}
    view[dataset] = _without(semisup[dataset], ("labels",) if model == "gan-fm" else ("labels", "gan_fm_nets"))
    return view


def semisup_listed(semisup: dict) -> dict:
    """The semisup section with only the blocks of the datasets it lists (what its table reads)."""
    return {key: value for key, value in semisup.items() if key not in SEMISUP_DATASETS or key in semisup["datasets"]}


def batchnorm_training(batchnorm: dict) -> dict:
    """How the final BN statistics are recomputed (both kinds are stored; ``statistics`` picks one later)."""
    return {key: batchnorm[key] for key in ("batches", "batch_size")}


def first_difference(trained: Any, asked: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    """The first dotted key (in sorted order) where two nested dicts differ, with both values."""
    if isinstance(trained, dict) and isinstance(asked, dict):
        for key in sorted(set(trained) | set(asked), key=str):
            missing = object()
            found = first_difference(trained.get(key, missing), asked.get(key, missing), f"{prefix}{key}.")
            if found:
                return found
        return None
    if isinstance(trained, (list, tuple)) and isinstance(asked, (list, tuple)):
        trained, asked = list(trained), list(asked)
    if trained == asked:
        return None
    return prefix.rstrip("."), trained, asked


def _shown(value: Any) -> str:
    return "(not set)" if type(value) is object else repr(value)


def forcerun(path: Any) -> str:
    """The command that remakes the workflow output ``path`` (a models file a later job refused).

    Why not "delete it and rerun": Snakemake does not remake a missing intermediate file while the
    targets downstream of it look complete, so a plain rerun says "Nothing to be done" and the file
    stays missing; ``--forcerun`` with the file reruns the job that makes it and every job downstream
    of it (checked with a real Snakemake run)."""
    return f"'snakemake --forcerun {path}' plus your run's targets and --configfile/--config options"


def check(path: Any, trained: dict, asked: dict) -> None:
    """Refuse ``path`` if the settings it was trained with (``trained``) are not those ``asked`` for.

    Both views are laid out as the config is (``{"toy": {...}, "batchnorm": {...}}``), so the
    first differing key is named as a user writes it.
    """
    found = first_difference(trained, asked)
    if found:
        key, was, wanted = found
        raise ModelMismatch(
            f"'{path}' was trained with {key} = {_shown(was)}, but the config asks for {_shown(wanted)}: "
            f"retrain it (in the workflow: {forcerun(path)}; deleting it alone makes Snakemake report nothing to be "
            "done) or use the config it was trained with"
        )
