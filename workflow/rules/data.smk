# Data preparation (ali_bench/data/prepare.py): one job per (dataset, split) downloads what is
# missing (images.download: auto fetches SVHN and CIFAR-10, true also CelebA), checks the official
# files against their published MD5s, converts the 64x64 caches (CelebA, Tiny ImageNet) in
# several processes, and writes a manifest of what the split holds. Every job that reads a split
# takes its manifest as input and reads only what this step made (ALI_BENCH_PREPARED_ONLY,
# common.smk): GPU jobs never download or convert.
#
# The data's location comes from the environment (ALI_BENCH_DATA_ROOT, ALI_BENCH_DOWNLOAD, set in
# common.smk from images.data_root and images.download), hence the empty --config-json.
# No params and no code inputs, on purpose: a rerun of this step would rewrite the manifest and,
# through it, retrain every model of the dataset. Moving the data (images.data_root) or editing
# ali_bench/data/prepare.py therefore reruns nothing; delete results/data/<dataset>/ to check again.
# On a cluster whose compute nodes have no internet, run the manifests on the login node first
# (docs/cluster.md): `snakemake --cores 4 results/data/svhn/extra.json ...`.


rule prepare_data:
    """Fetch, check (published MD5s), convert and hash one split; its manifest goes into every training's provenance."""
    output:
        manifest=result("data/{dataset}/{split}.json"),
    log:
        result("logs/prepare_data_{dataset}_{split}.log"),
    benchmark:
        result("benchmarks/prepare_data_{dataset}_{split}.tsv")
    wildcard_constraints:
        dataset=wildcard(with_files()),
        split=wildcard(all_splits()),
    conda:
        ENV
    threads: 4
    resources:
        gpu=0,
        runtime=lambda wildcards, attempt: 240 * attempt,
        mem_mb=lambda wildcards: 32000 if wildcards.split in ("extra", "train", "train_all") else 8000,
    shell:
        "python -m ali_bench prepare-data --config-json '{{}}' --dataset {wildcards.dataset} --split {wildcards.split}"
        " --workers {threads} --out {output.manifest} > {log} 2>&1"


localrules:
    prepare_digits,


rule prepare_digits:
    """The embedded digits (scikit-learn's bundled copy): nothing to fetch; the three splits' manifests in seconds."""
    output:
        manifests=expand(result("data/digits/{split}.json"), split=["train", "valid", "test"]),
    log:
        result("logs/prepare_data_digits.log"),
    benchmark:
        result("benchmarks/prepare_data_digits.tsv")
    conda:
        ENV
    shell:
        "python -m ali_bench prepare-data --config-json '{{}}' --dataset digits --split train valid test"
        " --out {output.manifests} > {log} 2>&1"
