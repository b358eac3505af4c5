# Shared helpers: config validation, result paths, how rules call ali_bench.
# Kept cheap: this runs in every job, so it never imports torch.

import hashlib
import json
import os
import shlex
import sys

# The config is checked by the same code the CLI uses (ali_bench/config_schema.py: the JSON schema
# ali_bench/config.schema.yaml, linked as workflow/schemas/config.schema.yaml, fills every
# default; then the typed dataclasses' cross-key checks), so the
# workflow refuses exactly what a job would refuse, before any job starts, in one line that
# names the key. These modules import no torch, so this stays cheap.
sys.path.insert(0, workflow.basedir)
from ali_bench.atomic import WriteFailed, write_text  # noqa: E402
from ali_bench.config import load_config, number_strings, read_config_file  # noqa: E402
from ali_bench.config_schema import ConfigError, validate  # noqa: E402
from ali_bench import results_lock, trained_with  # noqa: E402
from ali_bench.data.registry import DATASETS, accepted_by, all_splits, svm_table, wildcard, with_files  # noqa: E402
from ali_bench.semisup.models import NAMES as SEMISUP_MODELS  # noqa: E402
from ali_bench.verdict import JUDGED_TABLES  # noqa: E402


def _config_file_origins():
    """Every config file this run was given, re-read strictly (ali_bench.config.read_config_file):
    Snakemake keeps the last of two equal keys silently, so a key given twice is refused here in one
    line naming the file and both lines. Returns the string values of those files that read as
    numbers (PyYAML keeps 3e-4 a string), so that validation says how to write them in that file.
    The Snakefile's own configfile comes first and --configfile files after it, in the order they
    override each other."""
    given = [str(path) for path in (workflow.overwrite_configfiles or [])]
    files = [str(path) for path in workflow.configfiles if str(path) not in given] + given
    origins = {}
    for path in files:
        if os.path.exists(path):
            origins.update(number_strings(read_config_file(path), path))
    return origins


try:
    _validated = validate(config, _config_file_origins())
    load_config(_validated)
except ConfigError as error:
    # one line, last (a WorkflowError ended the output with a frame of this file), exit status 1
    print(f"error: invalid config: {error}", file=sys.stderr)
    raise SystemExit(1)
config.update(_validated)


RESULTS = config["results_dir"].rstrip("/")


# One Snakemake run per results folder (ali_bench/results_lock.py): Snakemake's own lock is per
# working directory, so two checkouts writing one results_dir would both train. Taken before the first
# write into the folder: a training's settings stamp (trained_with_stamp, while the DAG is built), else
# the onstart hook (the Snakefile), before any job runs; held until this process exits. Dry runs skip it
# (Snakemake runs no onstart hook then, and a dry run writes nothing); jobs Snakemake submits run
# with --no-hooks and never take it; so does a run with --no-hooks, which opts out of it.
_RESULTS_LOCK = []


def hold_results_lock():
    if not workflow.is_main_process or _RESULTS_LOCK:
        return
    try:
        _RESULTS_LOCK.append(results_lock.hold(RESULTS, workflow.basedir))
    except (results_lock.ResultsFolderBusy, WriteFailed) as error:  # held by another run; cannot be written
        # one line, last: raised from a settings stamp's input function, an exception came wrapped in
        # Snakemake's InputFunctionException with a traceback after it
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1)


# Training jobs. On a GPU (device auto or cuda) each holds the card (resources gpu=1; the profiles
# limit how many run at once) and takes its rule's threads. With device: cpu they need no card and
# take one thread each, so `--cores N` trains N of these small models side by side instead of one
# at a time on N threads.
TRAIN_GPUS = 0 if config["device"] == "cpu" else 1


# Training runtimes (minutes, sbatch -t) grow with the attempt: a job killed at its limit comes back
# (profiles/slurm: retries) with twice, then three times the time, and resumes from its checkpoint.


def train_threads(on_gpu):
    """A training rule's threads: ``on_gpu`` when it holds a GPU, one with device: cpu."""
    return 1 if config["device"] == "cpu" else on_gpu


ENV = "../../environment.yml"  # one shared environment for every rule (--sdm conda, --lint)

# Every rule runs the ali_bench of this checkout, whatever environment the job runs in. Where the
# image data lives reaches the jobs as environment variables (read by ali_bench/command_line.py and, for the sample grids,
# ali_bench/images/cli.py, over the config's images.data_root / images.download), not in a training job's params: moving the data
# must not retrain, and Snakemake reruns a job whose params change.
# ALI_BENCH_PREPARED_ONLY: jobs read only what the prepare_data jobs made (data.smk); they never
# download or convert images (prepare-data itself ignores it). ALI_BENCH_SAMPLE_GRID_EVERY: image
# trainings write a sample grid every this many epochs (images.figures.sample_grid_every), for
# watching only, so it travels here and not in a training's params. ALI_BENCH_CHECKPOINT_SECONDS:
# at most how often trainings checkpoint (config key checkpoint_seconds), for the same reason.
shell.prefix(
    f"export PYTHONPATH={shlex.quote(workflow.basedir)}:$PYTHONPATH"
    f" ALI_BENCH_DATA_ROOT={shlex.quote(str(config['images']['data_root']))}"
    f" ALI_BENCH_DOWNLOAD={str(config['images']['download']).lower()}"
    f" ALI_BENCH_VERIFY_CHECKSUMS={'true' if config['images']['verify_checksums'] else 'false'}"
    " ALI_BENCH_PREPARED_ONLY=true"
    f" ALI_BENCH_SAMPLE_GRID_EVERY={int(config['images']['figures']['sample_grid_every'])}"
    f" ALI_BENCH_CHECKPOINT_SECONDS={float(config['checkpoint_seconds'])}; "
)


wildcard_constraints:
    hparams="random|released",
    method="inverse|posthoc|vae",
    seed=r"\d+",


def result(path):
    """A path under the configured results folder."""
    return f"{RESULTS}/{path}"


def digest_of(path):
    """The ``.sha256`` its command writes beside ``path`` and every reader requires (sidecar_digest.py):
    an output of the writer and an input of each reader, so that Snakemake reruns the writer of a
    deleted one before a reader runs again."""
    return f"{path}.sha256"


def config_json(*sections):
    """The config sections a rule depends on, as one JSON string for --config-json.

    Passing only these sections as params means that editing an unrelated section does not
    rerun the rule (Snakemake reruns a job when its params change).
    """
    return json.dumps({key: config[key] for key in sections}, sort_keys=True)


# What each training job receives: ali_bench/trained_with.py removes the keys no training reads
# (figure sizes, sample counts, the lists of other seeds and datasets, where the data lives), so
# that changing one never retrains; the same views are what a consumer checks a models file
# against. The data's location reaches training jobs through the environment (shell.prefix above).
def _batchnorm(stage):
    """Training jobs get only how BN statistics are recomputed (both kinds are stored), so switching
    ``batchnorm.statistics``, an evaluation-only key, never retrains; evaluations get it all."""
    return trained_with.batchnorm_training(config["batchnorm"]) if stage == "train" else config["batchnorm"]


def _shared_images(dataset):
    """The images settings every dataset's evaluation jobs share, plus ``dataset``'s own switches, so
    that editing another dataset's block or the target list reruns nothing of this one."""
    return trained_with.images_shared(config["images"], dataset)


def _run_switches():
    """The top-level keys every training job with a graphed step reads: where it runs, whether its
    step is replayed as a CUDA graph, and whether GPU algorithms must be deterministic."""
    return {key: config[key] for key in ("device", "cuda_graphs", "deterministic")}


def _json(sections):
    return json.dumps(sections, sort_keys=True)


def toy_training_config_json(wildcards):
    """What a toy training job reads (ali_bench/trained_with.py): the toy settings of its
    hyperparameter set, and of ``batchnorm`` only how the final statistics are recomputed (both
    sets are stored), so that evaluation-only keys (coverage samples, the other set's values,
    ``batchnorm.statistics``) never retrain."""
    return _json(
        {
            **_run_switches(),
            "toy": trained_with.toy_training(config["toy"], wildcards.hparams),
            "batchnorm": _batchnorm("train"),
        }
    )


def inference_training_config_json():
    """What the three inference trainings read: the selected set's toy settings, the inference
    settings that shape training (not mmd_samples or the method list: ali_bench/trained_with.py),
    and the whole batchnorm section (the frozen GAN decoder runs with the chosen statistics)."""
    select_from = config["toy_inference"]["select_from"]
    return _json(
        {
            "device": config["device"],
            "deterministic": config["deterministic"],
            "toy": trained_with.toy_training(config["toy"], select_from),
            "toy_inference": trained_with.inference_training(config["toy_inference"]),
            "batchnorm": config["batchnorm"],
        }
    )


def image_config_json(wildcards):
    """The images section as one dataset's evaluation jobs (figures, features) see it: its own block
    and the shared settings only; and the whole batchnorm section."""
    images = _shared_images(wildcards.dataset)
    images[wildcards.dataset] = config["images"][wildcards.dataset]
    return _json(
        {
            "device": config["device"],
            "cuda_graphs": config["cuda_graphs"],
            "images": images,
            "batchnorm": _batchnorm("evaluate"),
        }
    )


def image_train_config_json(wildcards):
    """What one dataset's training reads (trained_with.images_training)."""
    return _json(
        {
            **_run_switches(),
            "images": trained_with.images_training(config["images"], wildcards.dataset),
            "batchnorm": _batchnorm("train"),
        }
    )


# Settings stamps: a results folder never serves a model trained, or an evaluation, table or figure
# made, under other settings, even without Snakemake's metadata (a folder copied or moved without
# .snakemake/, or whose metadata was lost), where Snakemake sees no params change and goes by mtimes
# alone. Each job that reads settings has as an extra input one small file,
# <results>/.trained_with/<rule>/<wildcards>/<digest>.json, holding the settings its params hold (for
# trainings, the ali_bench/trained_with.py views); its name carries their digest. A run (not a dry
# run) writes it while building the DAG when it is missing, and removes that job's stamps of other
# settings: changed settings thus give the job an input newer than its outputs, and Snakemake reruns
# it and everything downstream, metadata or not; unchanged settings find the stamp written before the
# outputs, and nothing reruns. A content-named file rather than one rewritten in place, so that the
# check is a file's existence and going back to earlier settings, after others ran, reruns as it must.
# A dry run (or --report, --lint) writes nothing in the results folder: where the stamp is missing it
# lists a fresh copy in Snakemake's own temporary folder instead, newer than any output, so its plan
# is the plan of the run. Jobs Snakemake submits (a cluster's) find the stamps the main process wrote.
# A folder made before a job had its stamp lacks it, and the job reruns once (unless `snakemake --touch`).
STAMPS = ".trained_with"


def _stamp_key(wildcards):
    """A job's wildcards as one path component: ``hparams=random,seed=3``."""
    return ",".join(f"{name}={value}" for name, value in sorted(wildcards.items()))


def settings_stamp(rule_name, settings):
    """The input function of a rule's settings stamp; ``settings`` is its params.config: a function
    (wildcards -> the JSON the job runs with) or that JSON. Every rule that reads settings has one,
    evaluations, tables and figures as well as trainings, so that a changed setting reruns exactly
    the jobs that read it, with or without Snakemake's metadata."""

    def stamp(wildcards):
        text = settings(wildcards) if callable(settings) else settings
        where = "/".join(part for part in (STAMPS, rule_name, _stamp_key(wildcards)) if part)  # no '//'
        name = f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.json"
        path = result(f"{where}/{name}")
        if os.path.exists(path) or not workflow.is_main_process:
            return [path]
        if workflow.executor_plugin is None or workflow.dryrun:
            path = os.path.join(str(workflow.snakemake_tmp_dir), where, name)
        else:
            # the lock before the first write into the folder (the onstart hook comes later): a run
            # refused because another holds the folder must not have replaced that run's stamps
            hold_results_lock()
            if os.path.isdir(os.path.dirname(path)):
                for other in os.listdir(os.path.dirname(path)):  # the stamps of other settings
                    if other.endswith(".json") and not other.startswith("."):
                        os.remove(os.path.join(os.path.dirname(path), other))
        write_text(path, text)
        return [path]

    return stamp


def data_manifest(dataset, split):
    """The manifest prepare_data writes for one split (data.smk): the input that makes a job wait for its data."""
    return result(f"data/{dataset}/{split}.json")


def image_train_data(wildcards):
    return [data_manifest(wildcards.dataset, config["images"][wildcards.dataset]["train_split"])]


def image_figures_data(wildcards):
    """The validation split the figures show; the training split too where the record has a label judge (fit there)."""
    splits = {config["images"][wildcards.dataset]["valid_split"]} | (
        {"train"} if DATASETS[wildcards.dataset].label_judge else set()
    )
    return [data_manifest(wildcards.dataset, split) for split in sorted(splits)]


def conditional_train_data(wildcards):
    return [data_manifest(wildcards.cdataset, config["conditional"][wildcards.cdataset]["train_split"])]


def conditional_figure_data(wildcards):
    """The training split (its judge is fit there) and the validation split (the judge's ceiling)."""
    run = config["conditional"][wildcards.cdataset]
    return [data_manifest(wildcards.cdataset, split) for split in sorted({run["train_split"], run["valid_split"]})]


def semisup_data(wildcards):
    run = config["semisup"][wildcards.dataset]
    splits = {run["unlabelled_split"], run["labelled_split"], run["test_split"]}
    return [data_manifest(wildcards.dataset, split) for split in sorted(splits)]


# SVM stage (svm.smk): which feature splits each dataset's protocol reads (its registry record).
SVM_SPLITS = {name: list(DATASETS[name].svm_splits) for name in accepted_by("svm")}
SVM_TABLE_ORDER = sorted(SVM_SPLITS, key=lambda name: name != "svhn")  # the paper's table first


def feature_inputs(wildcards):
    return [] if wildcards.feature_set == "pixels" else [result(f"images/{wildcards.dataset}/models.pt")]


def svm_inputs(wildcards):
    splits = SVM_SPLITS[wildcards.dataset]
    stem = result(f"features/{wildcards.dataset}/{wildcards.feature_set}")
    arrays = {**{s: f"{stem}_{s}.npy" for s in splits}, **{f"{s}_labels": f"{stem}_{s}_labels.npy" for s in splits}}
    return {**arrays, **{f"{name}_digest": digest_of(path) for name, path in arrays.items()}}


def svm_valid_args(wildcards, input):
    if "valid" not in input.keys():
        return ""
    return f"--valid {input.valid} --valid-labels {input.valid_labels}"


def svm_table_config_json(dataset):
    """What one dataset's SVM table reads: the svm section and that dataset's model settings (not the
    other datasets' blocks: editing CIFAR-10's epochs reruns nothing of the SVHN table)."""
    return _json({"svm": config["svm"], "images": trained_with.images_training(config["images"], dataset)})


def svm_table_inputs(dataset, extra=()):
    sets = list(config["svm"]["feature_sets"]) + list(extra)
    return {
        "results": expand(result(f"svm/{dataset}_{{feature_set}}.json"), feature_set=sets),
        "digests": expand(digest_of(result(f"svm/{dataset}_{{feature_set}}.json")), feature_set=sets),
        "models": result(f"images/{dataset}/models.provenance.json"),
    }


def conditional_config_json(wildcards):
    """The conditional model's settings for one dataset, the shared images settings it reads, and the
    whole batchnorm section (the figure job)."""
    conditional = {
        key: value
        for key, value in config["conditional"].items()
        if key not in (*accepted_by("conditional"), "datasets")
    }
    conditional[wildcards.cdataset] = config["conditional"][wildcards.cdataset]
    return _json(
        {
            "device": config["device"],
            "cuda_graphs": config["cuda_graphs"],
            "images": _shared_images(wildcards.cdataset),
            "conditional": conditional,
            "batchnorm": _batchnorm("evaluate"),
        }
    )


def conditional_train_config_json(wildcards):
    """What one dataset's conditional training reads: its conditional block, the shared images
    settings that shape training (trained_with), and how BN statistics are recomputed."""
    images = trained_with.images_training(config["images"], wildcards.cdataset)
    del images[wildcards.cdataset]  # the conditional block holds this model's own run settings
    return _json(
        {
            **_run_switches(),
            "images": images,
            "conditional": trained_with.conditional_training(config["conditional"], wildcards.cdataset),
            "batchnorm": _batchnorm("train"),
        }
    )


def semisup_config_json(wildcards):
    """What one semi-supervised run reads (trained_with.semisup_training): not the lists of seeds,
    datasets and label counts, so adding a seed runs only the new one; gan-fm's networks only for a
    gan-fm run.

    Of ``batchnorm`` only how statistics are recomputed: the run evaluates with both kinds, and
    the table picks one (``batchnorm.statistics``), so switching never retrains."""
    return _json(
        {
            **_run_switches(),
            "semisup": trained_with.semisup_training(config["semisup"], wildcards.dataset, wildcards.model),
            "images": {"variant": config["images"]["variant"]},
            "batchnorm": _batchnorm("train"),
        }
    )


def semisup_table_config_json():
    """What the semi-supervised table reads: the settings of the datasets it lists (each run's result
    is checked against them), the image variant, and the whole batchnorm section (its headline)."""
    return _json(
        {
            "semisup": trained_with.semisup_listed(config["semisup"]),
            "images": {"variant": config["images"]["variant"]},
            "batchnorm": config["batchnorm"],
        }
    )


def semisup_results(suffix=".json"):
    """Every run the semi-supervised table needs: each model of ``semisup.models`` per (dataset, labels, seed);
    with ``suffix="_log.csv"``, their logs, in the same order."""
    semisup = config["semisup"]
    runs = []
    for dataset in semisup["datasets"]:
        runs += expand(
            result(f"semisup/{{dataset}}_{{labels}}labels_seed{{seed}}_{{model}}{suffix}"),
            dataset=dataset,
            labels=semisup[dataset]["labels"],
            seed=semisup["seeds"],
            model=semisup["models"],
        )
    return runs


def code(*modules):
    """The ali_bench modules a rule's numbers depend on: editing one reruns the rule."""
    # plain paths in this checkout (workflow.source_path would point at a copy under ~/.cache,
    # which compute nodes of a cluster may not share)
    return [os.path.join(workflow.basedir, "ali_bench", module) for module in modules]


def judged_tables():
    """The tables `rule all` builds that the verdict judges (ali_bench.verdict.JUDGED_TABLES)."""
    return [path for path in all_tables() if os.path.basename(path).removesuffix(".csv") in JUDGED_TABLES]


def refresh_verdict():
    """After a successful run (the onsuccess handler): rebuild the verdict from the judged tables that
    exist, when one of them is newer than it. A run of one target thus gets the verdict of what
    exists; after `rule all` the verdict job has just written it and this does nothing."""
    tables = [path for path in judged_tables() if os.path.exists(path)]
    out = result("verdict.csv")
    if not tables or (os.path.exists(out) and os.path.getmtime(out) >= max(os.path.getmtime(t) for t in tables)):
        return
    log = result("logs/verdict.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    shell(
        "python -m ali_bench verdict --config-json {settings} --tables {tables} --out {out} > {log} 2>&1",
        settings=shlex.quote(config_json("verdict")),
        tables=" ".join(shlex.quote(t) for t in tables),
        out=shlex.quote(out),
        log=shlex.quote(log),
    )
    print(f"verdict of the tables that exist: {result('verdict.md')}")


def stop_with_failed_jobs_reasons(snakemake_log):
    """After a failed run (the onerror handler): end the output with each failed job's reason, the last
    line of its log (where ali_bench writes its one-line `error: ...`). Snakemake prints a failed job's
    log far above its own closing lines, and on a cluster under the executor's "Reason: Unknown" and
    each retry's output, so the line that says what to fix would otherwise be ~100 lines up.
    It prints the run's log path (Snakemake's own closing hint, which it then skips), the reasons, and
    exits with status 1, as Snakemake does after a failure; Snakemake's locks are released on the way
    out (context managers). `workflow.scheduler.failed` is Snakemake's record of the failed jobs (not a
    documented API): without it, nothing happens and Snakemake ends as it always did."""
    failed = getattr(getattr(workflow, "scheduler", None), "failed", None) or ()
    lines = []
    for job in sorted(failed, key=lambda job: (job.rule.name, str(job.wildcards))):
        for log in job.log:
            reason = last_log_line(str(log))
            lines += [f"{job.rule.name} failed; the last line of {log}:", reason] if reason else []
    if lines:
        logs = snakemake_log if isinstance(snakemake_log, list | tuple) else [snakemake_log]
        print(f"Complete log(s): {', '.join(map(str, logs))}", *lines, sep="\n", file=sys.stderr, flush=True)
        raise SystemExit(1)


def last_log_line(path, tail_bytes=65536):
    """The last non-empty line of a log (progress bars rewrite their line with \\r: split there too);
    None when the file is missing or empty."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(path) - tail_bytes))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    return lines[-1] if lines else None


def all_tables():
    """Every table and figure `rule all` builds, the verdict aside."""
    return [
        result("toy_table.csv"),
        result("figures/toy_samples.png"),
        result("toy_inference_table.csv"),
        result("figures/toy_inference.png"),
        *expand(
            result("figures/{dataset}_{kind}.png"),
            dataset=config["images"]["datasets"],
            kind=["samples", "reconstructions", "interpolations"],
        ),
        *(result(f"{svm_table(name)}.csv") for name in SVM_TABLE_ORDER if name in config["images"]["datasets"]),
        *([result("semisup_table.csv"), result("figures/semisup_curves.png")] if config["semisup"]["datasets"] else []),
        *expand(result("figures/{cdataset}_conditional.png"), cdataset=config["conditional"]["datasets"]),
    ]


def metrics_digests():
    """The image and conditional metrics that quick-summary reads come with their .sha256, a target
    of their own: no rule reads them, so a deleted one is rebuilt only if `rule all` asks for it."""
    return [
        *expand(
            digest_of(result("images/{dataset}/reconstruction_metrics.json")), dataset=config["images"]["datasets"]
        ),
        *expand(
            digest_of(result("images/{cdataset}_conditional/conditional_metrics.json")),
            cdataset=config["conditional"]["datasets"],
        ),
    ]


def all_targets():
    return [*all_tables(), *metrics_digests(), result("verdict.csv")]
