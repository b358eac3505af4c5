# The 25-Gaussian toy comparison (paper Sec. 4.5): ALI vs GAN over 10 seeds, per hyperparameter set.

TOY_CODE = code(
    "nets/toy.py",
    "nets/batched.py",
    "toy/runs.py",
    "toy/train.py",
    "training.py",
    "objectives.py",
    "data/mixture.py",
    "batchnorm.py",
    "resumable.py",
)


# Seconds-long steps run where Snakemake runs (a cluster's login node), never queued as jobs.
localrules:
    toy_evaluate,
    toy_table,
    toy_figure,


rule toy_train:
    """Every run of one hyperparameter set (seeds x {ALI, GAN}) as one batched model, one job."""
    input:
        TOY_CODE,
        trained_with=settings_stamp("toy_train", toy_training_config_json),
    output:
        models=result("toy/{hparams}/models.pt"),
        log=result("toy/{hparams}/train_log.csv"),
    log:
        result("logs/toy_train_{hparams}.log"),
    benchmark:
        result("benchmarks/toy_train_{hparams}.tsv")
    conda:
        ENV
    threads: train_threads(8)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: 60 * attempt,
        mem_mb=4000,
    params:
        config=toy_training_config_json,
    shell:
        "python -m ali_bench toy-train --config-json {params.config:q} --hyperparameters {wildcards.hparams}"
        " --threads {threads} --out {output.models} --log {output.log} > {log} 2>&1"


rule toy_evaluate:
    """10,000 samples from every run's p(x), and PacGAN's 2,500 from a stream of their own; mode
    coverage per run. Both sample streams are kept, with each run's seed."""
    input:
        code("toy/evaluate.py", "toy/metrics.py", "toy/train.py", "batchnorm.py"),
        models=expand(result("toy/{hparams}/models.pt"), hparams=config["toy"]["hyperparameter_sets"]),
        settings=settings_stamp("toy_evaluate", config_json("toy", "batchnorm")),
    output:
        coverage=report(result("toy/coverage.csv"), caption="../report/toy_coverage.rst", category="Toy"),
        provenance=report(
            result("toy/coverage.provenance.json"), caption="../report/provenance.rst", category="Provenance"
        ),
        samples=result("toy/samples.npz"),
        pacgan_samples=result("toy/pacgan_samples.npz"),
        samples_digest=digest_of(result("toy/samples.npz")),
        pacgan_samples_digest=digest_of(result("toy/pacgan_samples.npz")),
    log:
        result("logs/toy_evaluate.log"),
    benchmark:
        result("benchmarks/toy_evaluate.tsv")
    conda:
        ENV
    params:
        config=config_json("toy", "batchnorm"),
    shell:
        "python -m ali_bench toy-evaluate --config-json {params.config:q} --models {input.models}"
        " --out-coverage {output.coverage} --out-samples {output.samples}"
        " --out-pacgan-samples {output.pacgan_samples} > {log} 2>&1"


rule toy_table:
    """Modes covered per model (mean, std, min, max over seeds), the reported numbers beside."""
    input:
        code("toy/table.py", "tables.py", "table_inputs.py", "paper.py"),
        coverage=rules.toy_evaluate.output.coverage,
        provenance=rules.toy_evaluate.output.provenance,
    output:
        table=report(result("toy_table.csv"), caption="../report/toy_table.rst", category="Toy"),
        markdown=result("toy_table.md"),
        provenance=report(
            result("toy_table.provenance.json"), caption="../report/provenance.rst", category="Provenance"
        ),
    log:
        result("logs/toy_table.log"),
    benchmark:
        result("benchmarks/toy_table.tsv")
    conda:
        ENV
    shell:
        "python -m ali_bench toy-table --coverage {input.coverage} --out {output.table} > {log} 2>&1"


rule toy_figure:
    """Every run's samples over the mixture's 25 modes."""
    input:
        code("toy/figures.py", "figures.py"),
        coverage=rules.toy_evaluate.output.coverage,
        coverage_provenance=rules.toy_evaluate.output.provenance,
        samples=rules.toy_evaluate.output.samples,
        samples_digest=rules.toy_evaluate.output.samples_digest,
        settings=settings_stamp("toy_figure", config_json("toy")),
    output:
        figure=report(result("figures/toy_samples.png"), caption="../report/toy_samples.rst", category="Toy"),
    log:
        result("logs/toy_figure.log"),
    benchmark:
        result("benchmarks/toy_figure.tsv")
    conda:
        ENV
    params:
        config=config_json("toy"),
    shell:
        "python -m ali_bench toy-figure --config-json {params.config:q} --coverage {input.coverage}"
        " --samples {input.samples} --out {output.figure} > {log} 2>&1"


rule toy_train_seed:
    """One seed of one hyperparameter set, alone (both models): reruns exactly what the batch ran
    for that seed, since every draw of a run is a function of its seed (tests/toy/test_toy_batched.py)."""
    input:
        TOY_CODE,
        trained_with=settings_stamp("toy_train_seed", toy_training_config_json),
    output:
        models=result("toy/{hparams}/seed{seed}/models.pt"),
        log=result("toy/{hparams}/seed{seed}/train_log.csv"),
    log:
        result("logs/toy_train_{hparams}_seed{seed}.log"),
    benchmark:
        result("benchmarks/toy_train_{hparams}_seed{seed}.tsv")
    conda:
        ENV
    threads: train_threads(2)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: 30 * attempt,
        mem_mb=2000,
    params:
        config=toy_training_config_json,
    shell:
        "python -m ali_bench toy-train --config-json {params.config:q} --hyperparameters {wildcards.hparams}"
        " --seeds {wildcards.seed} --threads {threads} --out {output.models} --log {output.log} > {log} 2>&1"
