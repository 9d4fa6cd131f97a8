# `snakemake report`: the suite's self-contained HTML report (Snakemake's --report) with every figure and table
# flagged with report(), the reproduction report and the provenance of every run.


rule report:
    input:
        FIGURES,
        TABLES,
        f"{OUT}/report.md",
        f"{OUT}/html/final_performance.html",
        f"{OUT}/html/aggregates.html",
        f"{OUT}/html/reproduction_report.html",
        f"{OUT}/html/provenance.html",
    output:
        f"{OUT}/report.html",
    log:
        f"{RESULTS}/logs/{SUITE.name}/report.log",
    container:
        ANALYSIS_IMAGE
    params:
        snakefile=workflow.main_snakefile,
        suite=SUITE.name,
    shell:
        # A second Snakemake renders the report from this workflow's metadata; it only reads, hence --nolock.
        "python -m snakemake --snakefile {params.snakefile} --config suite={params.suite} "
        "--nolock --report {output} > {log} 2>&1"
