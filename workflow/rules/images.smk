# ALI on images (paper Sec. 4.1-4.2, Figs. 2-6): train one model per dataset, then its samples,
# reconstructions and latent interpolations. Datasets: config images.datasets.

IMAGE_CODE = code(
    "nets/image.py",
    "nets/svhn.py",
    "nets/cifar10.py",
    "nets/celeba.py",
    "nets/tiny_imagenet.py",
    "images/train.py",
    "training.py",
    "objectives.py",
    "data/images.py",
    "batchnorm.py",
)


wildcard_constraints:
    dataset=wildcard(accepted_by("images")),


rule image_train:
    """ALI on one dataset, as the released code trains it; resumes from its last epoch after a kill."""
    input:
        IMAGE_CODE,
        data=image_train_data,
        trained_with=settings_stamp("image_train", image_train_config_json),
    output:
        models=result("images/{dataset}/models.pt"),
        provenance=result("images/{dataset}/models.provenance.json"),
        log=result("images/{dataset}/train_log.csv"),
    log:
        result("logs/image_train_{dataset}.log"),
    benchmark:
        result("benchmarks/image_train_{dataset}.tsv")
    priority: 10  # the longest chain (features, SVMs, tables hang on it): started first when cores are few
    conda:
        ENV
    threads: train_threads(8)
    resources:
        gpu=TRAIN_GPUS,
        runtime=lambda wildcards, attempt: (60 if wildcards.dataset == "digits" else 2880) * attempt,
        mem_mb=lambda wildcards: 8000 if wildcards.dataset == "digits" else 64000,
    params:
        config=image_train_config_json,
    shell:
        "python -m ali_bench image-train --config-json {params.config:q} --dataset {wildcards.dataset}"
        " --threads {threads} --data-manifest {input.data} --out {output.models} --log {output.log} > {log} 2>&1"


rule image_figures:
    """Samples (10 x 10), reconstructions (odd columns data, even columns reconstructions), interpolations."""
    input:
        code("images/figures.py", "figures.py", "images/train.py", "batchnorm.py"),
        models=rules.image_train.output.models,
        data=image_figures_data,
        settings=settings_stamp("image_figures", image_config_json),
    output:
        samples=report(
            result("figures/{dataset}_samples.png"),
            caption="../report/image_figure.rst",
            category="Images",
            subcategory="{dataset}",
        ),
        reconstructions=report(
            result("figures/{dataset}_reconstructions.png"),
            caption="../report/image_figure.rst",
            category="Images",
            subcategory="{dataset}",
        ),
        interpolations=report(
            result("figures/{dataset}_interpolations.png"),
            caption="../report/image_figure.rst",
            category="Images",
            subcategory="{dataset}",
        ),
        metrics=report(
            result("images/{dataset}/reconstruction_metrics.json"),
            caption="../report/reconstruction_metrics.rst",
            category="Images",
            subcategory="{dataset}",
        ),
        metrics_digest=digest_of(result("images/{dataset}/reconstruction_metrics.json")),
    log:
        result("logs/image_figures_{dataset}.log"),
    benchmark:
        result("benchmarks/image_figures_{dataset}.tsv")
    conda:
        ENV
    params:
        config=image_config_json,
    shell:
        "python -m ali_bench image-figures --config-json {params.config:q} --models {input.models}"
        " --out-samples {output.samples} --out-reconstructions {output.reconstructions}"
        " --out-interpolations {output.interpolations} --out-metrics {output.metrics} --data-manifest {input.data}"
        " > {log} 2>&1"
