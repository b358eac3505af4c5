# Conditional ALI (paper Sec. 4.4, Fig. 7): CelebA's 40 attributes; digits' class as the embedded stand-in.


wildcard_constraints:
    cdataset=wildcard(accepted_by("conditional")),


rule conditional_train:
    """The conditional model: one shared linear embedding of y into the encoder, decoder and D."""
    input:
        IMAGE_CODE,
        code("nets/conditional.py"),
        data=conditional_train_data,
        trained_with=settings_stamp("conditional_train", conditional_train_config_json),
    output:
        models=result("images/{cdataset}_conditional/models.pt"),
        provenance=result("images/{cdataset}_conditional/models.provenance.json"),
        log=result("images/{cdataset}_conditional/train_log.csv"),
    log:
        result("logs/conditional_train_{cdataset}.log"),
    benchmark:
        result("benchmarks/conditional_train_{cdataset}.tsv")
    conda:
        ENV
    threads: train_threads(8)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: (60 if wildcards.cdataset == "digits" else 2880) * attempt,
        mem_mb=lambda wildcards: 8000 if wildcards.cdataset == "digits" else 64000,
    params:
        config=conditional_train_config_json,
    shell:
        "python -m ali_bench image-train --config-json {params.config:q} --dataset {wildcards.cdataset} --conditional"
        " --threads {threads} --data-manifest {input.data} --out {output.models} --log {output.log} > {log} 2>&1"


rule conditional_figure:
    """One fixed z under the paper's grid of conditions (CelebA: rows I-IV x columns a-l), and how much
    the condition controls the sample (label agreement of a judge trained on the real data)."""
    input:
        code(
            "conditional/figures.py",
            "conditional/metrics.py",
            "images/figures.py",
            "figures.py",
            "images/train.py",
            "batchnorm.py",
        ),
        models=rules.conditional_train.output.models,
        data=conditional_figure_data,
        settings=settings_stamp("conditional_figure", conditional_config_json),
    output:
        figure=report(
            result("figures/{cdataset}_conditional.png"), caption="../report/conditional.rst", category="Conditional"
        ),
        metrics=report(
            result("images/{cdataset}_conditional/conditional_metrics.json"),
            caption="../report/conditional_metrics.rst",
            category="Conditional",
        ),
        metrics_digest=digest_of(result("images/{cdataset}_conditional/conditional_metrics.json")),
    log:
        result("logs/conditional_figure_{cdataset}.log"),
    benchmark:
        result("benchmarks/conditional_figure_{cdataset}.tsv")
    conda:
        ENV
    params:
        config=conditional_config_json,
    shell:
        "python -m ali_bench conditional-figure --config-json {params.config:q} --models {input.models}"
        " --out {output.figure} --out-metrics {output.metrics} --data-manifest {input.data} > {log} 2>&1"
