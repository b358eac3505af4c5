# The verdict: every reported number in the tables this run builds, judged against its measurement
# under the reporter's own protocol (ali_bench/verdict/). `rule all` builds it from every table it
# builds; after a run of one target, the onsuccess handler (Snakefile) rebuilds it from the tables
# that exist (refresh_verdict in common.smk), so a partial run still gets the verdict of what exists.

VERDICT_CODE = code(
    "verdict/__init__.py",
    "verdict/cli.py",
    "verdict/comparisons.py",
    "verdict/decide.py",
    "verdict/protocol.py",
    "verdict/statistics.py",
    "verdict/table.py",
    "verdict/inputs.py",
    "table_inputs.py",
    "paper.py",
)


# Seconds, no torch: runs where Snakemake runs.
localrules:
    verdict,


rule verdict:
    """Per reported number: measured under the reporter's protocol, the protocol check, the verdict."""
    input:
        VERDICT_CODE,
        tables=judged_tables(),
        settings=settings_stamp("verdict", config_json("verdict")),
    output:
        table=report(result("verdict.csv"), caption="../report/verdict.rst", category="Verdict"),
        markdown=report(result("verdict.md"), caption="../report/verdict.rst", category="Verdict"),
        provenance=result("verdict.provenance.json"),
    log:
        result("logs/verdict.log"),
    benchmark:
        result("benchmarks/verdict.tsv")
    conda:
        ENV
    params:
        config=config_json("verdict"),
    shell:
        "python -m ali_bench verdict --config-json {params.config:q} --tables {input.tables}"
        " --out {output.table} > {log} 2>&1"
