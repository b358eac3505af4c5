# Shared helpers: config validation, result paths, how rules call ali_bench.
# Kept cheap: this runs in every job, so it never imports torch.

import json
import os
import shlex
import sys

from snakemake.exceptions import WorkflowError

# The config is checked by the same code the CLI uses (ali_bench/config.py: the JSON schema
# ali_bench/config.schema.yaml, linked as workflow/schemas/config.schema.yaml, fills every
# default; then the typed dataclasses' cross-key checks), so the
# workflow refuses exactly what a job would refuse, before any job starts, in one line that
# names the key. That module imports no torch, so this stays cheap.
sys.path.insert(0, workflow.basedir)
from ali_bench.config import ConfigError, load_config, validate  # noqa: E402

try:
    _validated = validate(config)
    load_config(_validated)
except ConfigError as error:
    raise WorkflowError(f"invalid config: {error}") from None
config.update(_validated)


RESULTS = config["results_dir"].rstrip("/")

# Training jobs. On a GPU (device auto or cuda) each holds the card (resources gpu=1; the profiles
# limit how many run at once) and takes its rule's threads. With device: cpu they need no card and
# take one thread each, so `--cores N` trains N of these small models side by side instead of one
# at a time on N threads.
TRAIN_GPUS = 0 if config["device"] == "cpu" else 1


def train_threads(on_gpu):
    """A training rule's threads: ``on_gpu`` when it holds a GPU, one with device: cpu."""
    return 1 if config["device"] == "cpu" else on_gpu


ENV = "../../environment.yml"  # one shared environment for every rule (--sdm conda, --lint)

# Every rule runs the ali_bench of this checkout, whatever environment the job runs in.
shell.prefix(f"export PYTHONPATH={shlex.quote(workflow.basedir)}:$PYTHONPATH; ")


wildcard_constraints:
    hparams="random|released",
    method="inverse|posthoc|vae",
    seed=r"\d+",


def result(path):
    """A path under the configured results folder."""
    return f"{RESULTS}/{path}"


def config_json(*sections):
    """The config sections a rule depends on, as one JSON string for --config-json.

    Passing only these sections as params means that editing an unrelated section does not
    rerun the rule (Snakemake reruns a job when its params change).
    """
    return json.dumps({key: config[key] for key in sections}, sort_keys=True)


IMAGE_DATASETS = ("digits", "svhn", "cifar10", "celeba", "tiny_imagenet")


def _shared_images(dataset):
    """The images settings every dataset's jobs share, plus ``dataset``'s own switches (``<dataset>_*``
    keys such as cifar10_dx_biases), so that editing another dataset's reruns nothing of this one."""
    own = tuple(f"{name}_" for name in IMAGE_DATASETS if name != dataset)
    return {key: value for key, value in config["images"].items()
            if key not in IMAGE_DATASETS and key != "datasets" and not key.startswith(own)}


def _batchnorm(stage):
    """Training jobs get only how BN statistics are recomputed (stored beside the running averages),
    so switching ``batchnorm.statistics``, an evaluation-only key, never retrains; evaluations get it all."""
    if stage == "train":
        return {key: config["batchnorm"][key] for key in ("batches", "batch_size")}
    return config["batchnorm"]


def _image_config(wildcards, stage):
    images = _shared_images(wildcards.dataset)
    images[wildcards.dataset] = config["images"][wildcards.dataset]
    return json.dumps({"device": config["device"], "cuda_graphs": config["cuda_graphs"], "images": images,
                       "batchnorm": _batchnorm(stage)}, sort_keys=True)


def image_config_json(wildcards):
    """The images section as one dataset's evaluation jobs (figures, features) see it: its own block
    and the shared settings only, so that editing another dataset's block (or the target list)
    reruns nothing of this one; and the whole batchnorm section."""
    return _image_config(wildcards, "evaluate")


def image_train_config_json(wildcards):
    """As ``image_config_json``, for the training job: batchnorm without ``statistics``."""
    return _image_config(wildcards, "train")


# SVM stage (svm.smk): which feature splits each dataset's protocol reads.
SVM_SPLITS = {"svhn": ["train", "test"], "digits": ["train", "valid", "test"]}


def feature_inputs(wildcards):
    return [] if wildcards.feature_set == "pixels" else [result(f"images/{wildcards.dataset}/models.pt")]


def svm_inputs(wildcards):
    splits = SVM_SPLITS[wildcards.dataset]
    stem = result(f"features/{wildcards.dataset}/{wildcards.feature_set}")
    return {**{s: f"{stem}_{s}.npy" for s in splits}, **{f"{s}_labels": f"{stem}_{s}_labels.npy" for s in splits}}


def svm_valid_args(wildcards, input):
    if "valid" not in input.keys():
        return ""
    return f"--valid {input.valid} --valid-labels {input.valid_labels}"


def svm_table_inputs(dataset, extra=()):
    sets = list(config["svm"]["feature_sets"]) + list(extra)
    return {"results": expand(result(f"svm/{dataset}_{{feature_set}}.json"), feature_set=sets),
            "models": result(f"images/{dataset}/models.provenance.json")}


def _conditional_config(wildcards, stage):
    conditional = {key: value for key, value in config["conditional"].items() if key not in ("digits", "celeba", "datasets")}
    conditional[wildcards.cdataset] = config["conditional"][wildcards.cdataset]
    return json.dumps({"device": config["device"], "cuda_graphs": config["cuda_graphs"],
                       "images": _shared_images(wildcards.cdataset), "conditional": conditional,
                       "batchnorm": _batchnorm(stage)}, sort_keys=True)


def conditional_config_json(wildcards):
    """The conditional model's settings for one dataset, the shared images settings it reads, and the
    whole batchnorm section (the figure job)."""
    return _conditional_config(wildcards, "evaluate")


def conditional_train_config_json(wildcards):
    """As ``conditional_config_json``, for the training job: batchnorm without ``statistics``."""
    return _conditional_config(wildcards, "train")


def semisup_config_json(wildcards):
    """One semi-supervised dataset's settings (and the shared images settings it reads).

    Of ``batchnorm`` only how statistics are recomputed: the run evaluates with both kinds, and
    the table picks one (``batchnorm.statistics``), so switching never retrains."""
    semisup = {key: value for key, value in config["semisup"].items() if key not in ("digits", "svhn", "cifar10")}
    semisup[wildcards.dataset] = config["semisup"][wildcards.dataset]
    images = {key: config["images"][key] for key in ("data_root", "download", "variant")}
    batchnorm = {key: config["batchnorm"][key] for key in ("batches", "batch_size")}
    return json.dumps({"device": config["device"], "semisup": semisup, "images": images, "batchnorm": batchnorm}, sort_keys=True)


def semisup_results():
    """Every run the semi-supervised table needs: ALI K+1 per (dataset, labels, seed), and baselines."""
    semisup = config["semisup"]
    runs = []
    for dataset in semisup["datasets"]:
        models = ["ali"] + (["supervised"] if dataset in semisup["supervised_baseline"] else [])
        runs += expand(result("semisup/{dataset}_{labels}labels_seed{seed}_{model}.json"), dataset=dataset,
                       labels=semisup[dataset]["labels"], seed=semisup["seeds"], model=models)
    return runs


def code(*modules):
    """The ali_bench modules a rule's numbers depend on: editing one reruns the rule."""
    # plain paths in this checkout (workflow.source_path would point at a copy under ~/.cache,
    # which compute nodes of a cluster may not share)
    return [os.path.join(workflow.basedir, "ali_bench", module) for module in modules]


def all_targets():
    return [
        result("toy_table.csv"),
        result("figures/toy_samples.png"),
        result("toy_inference_table.csv"),
        result("figures/toy_inference.png"),
        *expand(result("figures/{dataset}_{kind}.png"), dataset=config["images"]["datasets"],
                kind=["samples", "reconstructions", "interpolations"]),
        *([result("svhn_table.csv")] if "svhn" in config["images"]["datasets"] else []),
        *([result("digits_svm_table.csv")] if "digits" in config["images"]["datasets"] else []),
        *([result("semisup_table.csv")] if config["semisup"]["datasets"] else []),
        *expand(result("figures/{cdataset}_conditional.png"), cdataset=config["conditional"]["datasets"]),
    ]
