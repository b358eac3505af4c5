# ali-bench: regenerate the tables and figures of Adversarially Learned Inference (ICLR 2017).
#
#   snakemake --cores 8 results/toy_table.csv                          # paper scale
#   snakemake --cores 2 --configfile config/quick.yaml                 # every embedded target, small
#
# This file stays thin: the config, its validation, the stages, and the default target.
# Each rule runs one `python -m ali_bench <command>`; see workflow/rules/*.smk.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/toy_inference.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/svm.smk"
include: "workflow/rules/semisup.smk"
include: "workflow/rules/conditional.smk"
include: "workflow/rules/verdict.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        all_targets(),


onstart:
    hold_results_lock()  # one Snakemake run per results folder, until this process exits (common.smk)


onsuccess:
    refresh_verdict()


onerror:
    stop_with_failed_jobs_reasons(log)  # each failed job's one-line reason, last (common.smk)
