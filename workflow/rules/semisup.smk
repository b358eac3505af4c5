# K+1-class semi-supervised ALI (paper Tables 1-2): one job per (dataset, labels, seed, model), so a
# single seed reruns alone, locally or on a cluster; then the table over seeds. The models and their
# one spelling (config, wildcard, file name, table row): ali_bench/semisup/models.py.


wildcard_constraints:
    labels=r"\d+",
    model="|".join(SEMISUP_MODELS),


# Seconds-long steps run where Snakemake runs (a cluster's login node), never queued as jobs.
localrules:
    semisup_table,
    semisup_curves,


rule semisup_run:
    """Train and evaluate one run; its labelled indices are in the result file."""
    input:
        code(
            "semisup/settings.py",
            "semisup/models.py",
            "semisup/model.py",
            "semisup/feature_matching.py",
            "nets/improved_gan.py",
            "nets/weight_norm.py",
            "semisup/average.py",
            "semisup/evaluate.py",
            "semisup/curve.py",
            "semisup/train.py",
            "batchnorm.py",
            "nets/image.py",
            "objectives.py",
            "data/images.py",
        ),
        data=semisup_data,
        trained_with=settings_stamp("semisup_run", semisup_config_json),
    output:
        result=result("semisup/{dataset}_{labels}labels_seed{seed}_{model}.json"),
        result_digest=digest_of(result("semisup/{dataset}_{labels}labels_seed{seed}_{model}.json")),
        log=result("semisup/{dataset}_{labels}labels_seed{seed}_{model}_log.csv"),
        log_digest=digest_of(result("semisup/{dataset}_{labels}labels_seed{seed}_{model}_log.csv")),
    log:
        result("logs/semisup_{dataset}_{labels}labels_seed{seed}_{model}.log"),
    benchmark:
        result("benchmarks/semisup_{dataset}_{labels}labels_seed{seed}_{model}.tsv")
    conda:
        ENV
    threads: train_threads(8)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: (60 if wildcards.dataset == "digits" else 2880) * attempt,
        mem_mb=lambda wildcards: 4000 if wildcards.dataset == "digits" else 32000,
    params:
        config=semisup_config_json,
    shell:
        "python -m ali_bench semisup-train --config-json {params.config:q} --dataset {wildcards.dataset}"
        " --labels {wildcards.labels} --seed {wildcards.seed} --model {wildcards.model} --threads {threads} --data-manifest {input.data}"
        " --out {output.result} --log {output.log} > {log} 2>&1"


rule semisup_table:
    """Test error over seeds per (dataset, labels), the paper's Tables 1-2 beside; baselines where configured.
    The runs record evaluations with both batch-norm statistics; ``batchnorm.statistics`` picks the headline here."""
    input:
        code("semisup/table.py", "semisup/paired.py", "semisup/models.py", "tables.py", "table_inputs.py", "paper.py"),
        results=semisup_results(),
        digests=[digest_of(path) for path in semisup_results()],
        settings=settings_stamp("semisup_table", semisup_table_config_json()),
    output:
        table=report(result("semisup_table.csv"), caption="../report/semisup_table.rst", category="Semi-supervised"),
        markdown=result("semisup_table.md"),
        paired=report(result("semisup_paired.csv"), caption="../report/semisup_paired.rst", category="Semi-supervised"),
        paired_markdown=result("semisup_paired.md"),
        provenance=report(
            result("semisup_table.provenance.json"), caption="../report/provenance.rst", category="Provenance"
        ),
    log:
        result("logs/semisup_table.log"),
    benchmark:
        result("benchmarks/semisup_table.tsv")
    conda:
        ENV
    params:
        config=semisup_table_config_json(),
    shell:
        "python -m ali_bench semisup-table --config-json {params.config:q} --results {input.results}"
        " --out {output.table} --paired-out {output.paired} > {log} 2>&1"


rule semisup_curves:
    """Test error against steps, per (dataset, labels), the models side by side (each run's log)."""
    input:
        code("semisup/figures.py", "figures.py"),
        results=semisup_results(),
        digests=[digest_of(path) for path in semisup_results()],
        logs=semisup_results("_log.csv"),
        logs_digests=[digest_of(path) for path in semisup_results("_log.csv")],
    output:
        report(result("figures/semisup_curves.png"), caption="../report/semisup_curves.rst", category="Semi-supervised"),
    log:
        result("logs/semisup_curves.log"),
    benchmark:
        result("benchmarks/semisup_curves.tsv")
    conda:
        ENV
    shell:
        "python -m ali_bench semisup-curves --results {input.results} --logs {input.logs} --out {output} > {log} 2>&1"
