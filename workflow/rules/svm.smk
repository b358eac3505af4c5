# The SVHN L2-SVM table (paper Table 1): encoder features, then 100 L2-SVMs per feature set.
# The same on every other dataset with the svm stage (the embedded digits, Fashion-MNIST), with a raw-pixel baseline.


wildcard_constraints:
    feature_set="paper|released-code|pixels",
    split="train|valid|test",


# Seconds-long steps run where Snakemake runs (a cluster's login node), never queued as jobs.
localrules:
    svhn_table,


rule features:
    """Encoder features (BN population statistics: config batchnorm.statistics) of one split, float32 .npy; or its raw pixels."""
    input:
        code("svm/features.py", "data/images.py", "images/train.py", "batchnorm.py"),
        models=feature_inputs,
        data=lambda wildcards: data_manifest(wildcards.dataset, wildcards.split),
        settings=settings_stamp("features", image_config_json),
    output:
        features=result("features/{dataset}/{feature_set}_{split}.npy"),
        labels=result("features/{dataset}/{feature_set}_{split}_labels.npy"),
        features_digest=digest_of(result("features/{dataset}/{feature_set}_{split}.npy")),
        labels_digest=digest_of(result("features/{dataset}/{feature_set}_{split}_labels.npy")),
    log:
        result("logs/features_{dataset}_{feature_set}_{split}.log"),
    benchmark:
        result("benchmarks/features_{dataset}_{feature_set}_{split}.tsv")
    conda:
        ENV
    resources:
        gpu=lambda wildcards: 0 if wildcards.feature_set == "pixels" else 1,
        mem_mb=8000,
    params:
        config=image_config_json,
        models=lambda wildcards, input: f"--models {input.models}" if input.models else "",
    shell:
        "python -m ali_bench features --config-json {params.config:q} --dataset {wildcards.dataset}"
        " --split {wildcards.split} --feature-set {wildcards.feature_set} {params.models}"
        " --out {output.features} --out-labels {output.labels} --data-manifest {input.data} > {log} 2>&1"


rule svm:
    """Choose C on the validation set, fit 100 L2-SVMs on fresh label sets, score each on the test set."""
    input:
        unpack(svm_inputs),
        code=code("svm/fit.py"),
        settings=settings_stamp("svm", config_json("svm")),
    output:
        summary=result("svm/{dataset}_{feature_set}.json"),
        summary_digest=digest_of(result("svm/{dataset}_{feature_set}.json")),
        errors=result("svm/{dataset}_{feature_set}_errors.csv"),
    log:
        result("logs/svm_{dataset}_{feature_set}.log"),
    benchmark:
        result("benchmarks/svm_{dataset}_{feature_set}.tsv")
    conda:
        ENV
    threads: lambda wildcards: config["svm"]["n_jobs"]
    resources:
        mem_mb=16000,
        runtime=120,
    params:
        config=config_json("svm"),
        valid=svm_valid_args,
    shell:
        "python -m ali_bench svm --config-json {params.config:q} --dataset {wildcards.dataset}"
        " --feature-set {wildcards.feature_set} --train {input.train} --train-labels {input.train_labels}"
        " {params.valid} --test {input.test} --test-labels {input.test_labels}"
        " --out {output.summary} --out-errors {output.errors} > {log} 2>&1"


rule svhn_table:
    """Paper Table 1's ALI L2-SVM row, per feature set, the paper's numbers beside."""
    input:
        **svm_table_inputs("svhn"),
        code=code("svm/table.py", "tables.py", "table_inputs.py", "paper.py"),
        settings=settings_stamp("svhn_table", svm_table_config_json("svhn")),
    output:
        table=report(result("svhn_table.csv"), caption="../report/svhn_table.rst", category="SVHN L2-SVM"),
        markdown=result("svhn_table.md"),
        provenance=report(
            result("svhn_table.provenance.json"), caption="../report/provenance.rst", category="Provenance"
        ),
    log:
        result("logs/svhn_table.log"),
    benchmark:
        result("benchmarks/svhn_table.tsv")
    conda:
        ENV
    params:
        config=svm_table_config_json("svhn"),
        models=lambda wildcards, input: input.models.replace(".provenance.json", ".pt"),
    shell:
        "python -m ali_bench svm-table --config-json {params.config:q} --results {input.results}"
        " --model-provenance {params.models} --out {output.table} > {log} 2>&1"


# Every other dataset with the svm stage (its registry record): the same protocol, raw pixels beside.
for _dataset in [name for name in SVM_TABLE_ORDER if name != "svhn"]:

    rule:
        """The L2-SVM protocol on a dataset the paper did not use, raw pixels beside; no paper number."""
        name:
            f"{_dataset}_svm_table"
        input:
            **svm_table_inputs(_dataset, extra=["pixels"]),
            code=code("svm/table.py", "tables.py", "table_inputs.py"),
            settings=settings_stamp(f"{_dataset}_svm_table", svm_table_config_json(_dataset)),
        output:
            table=report(result(f"{_dataset}_svm_table.csv"), caption="../report/svm_table.rst", category="SVHN L2-SVM"),
            markdown=result(f"{_dataset}_svm_table.md"),
            provenance=report(
                result(f"{_dataset}_svm_table.provenance.json"),
                caption="../report/provenance.rst",
                category="Provenance",
            ),
        log:
            result(f"logs/{_dataset}_svm_table.log"),
        benchmark:
            result(f"benchmarks/{_dataset}_svm_table.tsv")
        localrule: True
        conda:
            ENV
        params:
            config=svm_table_config_json(_dataset),
            models=lambda wildcards, input: input.models.replace(".provenance.json", ".pt"),
        shell:
            "python -m ali_bench svm-table --config-json {params.config:q} --results {input.results}"
            " --model-provenance {params.models} --out {output.table} > {log} 2>&1"
