# Merge the suite's run directories into one tidy table; refuses malformed, incomplete or mixed-mode runs.


rule collect:
    input:
        markers=completion_markers(),
        suite=str(SUITE.path),
        extended=[str(p) for p in SUITE.files[1:]],  # a suite that `extends:` another re-collects when it changes
    output:
        metrics=f"{OUT}/metrics.csv",
        provenance=f"{OUT}/tables/provenance.csv",
        provenance_md=f"{OUT}/tables/provenance.md",
        provenance_html=report(
            f"{OUT}/html/provenance.html",
            caption="../report/provenance.rst",
            category="Provenance",
            labels={"table": "provenance of every run"},
        ),
    log:
        f"{RESULTS}/logs/{SUITE.name}/collect.log",
    container:
        ANALYSIS_IMAGE
    params:
        # results/runs/<suite>, the root of <env>/<map>/<algo>/seed<k>/COMPLETED
        runs=lambda wildcards, input: Path(input.markers[0]).parents[4],
    shell:
        "python -m analysis collect --suite {input.suite} --runs {params.runs} --out {output.metrics} "
        "--provenance {output.provenance} --provenance {output.provenance_md} "
        "--provenance {output.provenance_html} > {log} 2>&1"


rule marl_eval:
    input:
        metrics=f"{OUT}/metrics.csv",
    output:
        f"{OUT}/marl_eval.json",
    log:
        f"{RESULTS}/logs/{SUITE.name}/marl_eval.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m analysis marl-eval --metrics {input.metrics} --out {output} > {log} 2>&1"
