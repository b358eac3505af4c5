# The toy inference comparison (paper Fig. 8): ALI vs GAN + inverse mapping vs GAN + post-hoc
# inference vs VAE, on the best-covering runs of one hyperparameter set.

SELECTED_MODELS = result(f"toy/{config['toy_inference']['select_from']}/models.pt")
INFERENCE_CODE = code(
    "toy_inference/methods.py",
    "toy_inference/train.py",
    "nets/toy.py",
    "objectives.py",
    "training.py",
    "toy/train.py",
    "batchnorm.py",
    "resumable.py",
)


# Seconds-long steps run where Snakemake runs (a cluster's login node), never queued as jobs.
localrules:
    toy_select,
    toy_inference_evaluate,
    toy_inference_figure,


rule toy_select:
    """The best-covering ALI and GAN runs (most modes, then high-quality share, then seed)."""
    input:
        code("toy_inference/select.py"),
        coverage=rules.toy_evaluate.output.coverage,
        settings=settings_stamp(
            "toy_select", json.dumps({"toy_inference": {"select_from": config["toy_inference"]["select_from"]}})
        ),
    output:
        selection=result("toy/inference/selection.json"),
        selection_digest=digest_of(result("toy/inference/selection.json")),
    log:
        result("logs/toy_select.log"),
    benchmark:
        result("benchmarks/toy_select.tsv")
    conda:
        ENV
    params:
        config=json.dumps({"toy_inference": {"select_from": config["toy_inference"]["select_from"]}}),  # all it reads
    shell:
        "python -m ali_bench toy-select --config-json {params.config:q} --coverage {input.coverage}"
        " --out {output.selection} > {log} 2>&1"


rule toy_infer:
    """Train one of GAN + inverse mapping, GAN + post-hoc inference, VAE."""
    input:
        INFERENCE_CODE,
        selection=rules.toy_select.output.selection,
        selection_digest=rules.toy_select.output.selection_digest,
        gan_models=SELECTED_MODELS,
        trained_with=settings_stamp("toy_infer", lambda wildcards: inference_training_config_json()),
    output:
        model=result("toy/inference/{method}.pt"),
        log=result("toy/inference/{method}_log.csv"),
        log_digest=digest_of(result("toy/inference/{method}_log.csv")),
    log:
        result("logs/toy_infer_{method}.log"),
    benchmark:
        result("benchmarks/toy_infer_{method}.tsv")
    conda:
        ENV
    threads: train_threads(2)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=2000,
    params:
        config=inference_training_config_json(),
    shell:
        "python -m ali_bench toy-infer --config-json {params.config:q} --method {wildcards.method}"
        " --selection {input.selection} --gan-models {input.gan_models} --threads {threads}"
        " --out {output.model} --log {output.log} > {log} 2>&1"


rule toy_inference_evaluate:
    """Reconstruct the 10,000 held-out samples with every method; the numbers behind Fig. 8."""
    input:
        INFERENCE_CODE,
        code("toy_inference/evaluate.py", "toy_inference/table.py", "tables.py", "table_inputs.py", "paper.py"),
        selection=rules.toy_select.output.selection,
        selection_digest=rules.toy_select.output.selection_digest,
        models=SELECTED_MODELS,
        coverage=rules.toy_evaluate.output.coverage,
        methods=expand(result("toy/inference/{method}.pt"), method=config["toy_inference"]["methods"]),
        settings=settings_stamp("toy_inference_evaluate", config_json("toy", "toy_inference", "batchnorm")),
    output:
        table=report(
            result("toy_inference_table.csv"), caption="../report/toy_inference_table.rst", category="Toy inference"
        ),
        markdown=result("toy_inference_table.md"),
        provenance=report(
            result("toy_inference_table.provenance.json"), caption="../report/provenance.rst", category="Provenance"
        ),
        arrays=result("toy/inference/outputs.npz"),
        arrays_digest=digest_of(result("toy/inference/outputs.npz")),
    log:
        result("logs/toy_inference_evaluate.log"),
    benchmark:
        result("benchmarks/toy_inference_evaluate.tsv")
    conda:
        ENV
    params:
        config=config_json("toy", "toy_inference", "batchnorm"),
        methods=lambda wildcards, input: " ".join(
            f"{m}={p}" for m, p in zip(config["toy_inference"]["methods"], input.methods)
        ),
    shell:
        "python -m ali_bench toy-inference-evaluate --config-json {params.config:q} --selection {input.selection}"
        " --ali-models {input.models} --gan-models {input.models} --methods {params.methods}"
        " --coverage {input.coverage} --out {output.table} --out-arrays {output.arrays} > {log} 2>&1"


rule toy_inference_figure:
    """Fig. 8's 5 x 4 layout, and every method's loss curve."""
    input:
        code("toy_inference/figures.py", "toy/figures.py", "figures.py"),
        arrays=rules.toy_inference_evaluate.output.arrays,
        arrays_digest=rules.toy_inference_evaluate.output.arrays_digest,
        logs=expand(result("toy/inference/{method}_log.csv"), method=config["toy_inference"]["methods"]),
        logs_digests=expand(
            digest_of(result("toy/inference/{method}_log.csv")), method=config["toy_inference"]["methods"]
        ),
    output:
        figure=report(
            result("figures/toy_inference.png"), caption="../report/toy_inference.rst", category="Toy inference"
        ),
        losses=report(
            result("figures/toy_inference_losses.png"),
            caption="../report/toy_inference_losses.rst",
            category="Toy inference",
        ),
    log:
        result("logs/toy_inference_figure.log"),
    benchmark:
        result("benchmarks/toy_inference_figure.tsv")
    conda:
        ENV
    shell:
        "python -m ali_bench toy-inference-figure --arrays {input.arrays} --logs {input.logs}"
        " --out {output.figure} --out-losses {output.losses} > {log} 2>&1"
