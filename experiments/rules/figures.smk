# Figures and tables of one suite: learning curves per env family, the final-performance table with the paper's
# reported numbers beside ours (and the sample-efficiency claim per map), aggregates across maps, and the
# reproduction report.


rule learning_curves:
    input:
        metrics=f"{OUT}/metrics.csv",
        suite=str(SUITE.path),
        baselines=BASELINES,
    output:
        png=report(
            f"{OUT}/figures/learning_curves_{{env}}.png",
            caption="../report/learning_curves.rst",
            category="Figures",
            subcategory="Learning curves",
            labels={"figure": "learning curves", "env": "{env}"},
        ),
        pdf=f"{OUT}/figures/learning_curves_{{env}}.pdf",
    log:
        f"{RESULTS}/logs/{SUITE.name}/learning_curves_{{env}}.log",
    container:
        ANALYSIS_IMAGE
    params:
        options=analysis_options(),
        baselines=baseline_args(),
    shell:
        "python -m analysis curves --suite {input.suite} --metrics {input.metrics} {params.baselines} {params.options} "
        "--env {wildcards.env} --out {output.png} --out {output.pdf} > {log} 2>&1"


rule final_table:
    input:
        metrics=f"{OUT}/metrics.csv",
        suite=str(SUITE.path),
        baselines=BASELINES,
    output:
        csv=f"{OUT}/tables/final_performance.csv",
        md=f"{OUT}/tables/final_performance.md",
        claim_csv=f"{OUT}/tables/sample_efficiency.csv",
        claim_md=f"{OUT}/tables/sample_efficiency.md",
        html=report(
            f"{OUT}/html/final_performance.html",
            caption="../report/final_performance.rst",
            category="Tables",
            labels={"table": "final performance per map and method"},
        ),
    log:
        f"{RESULTS}/logs/{SUITE.name}/final_table.log",
    container:
        ANALYSIS_IMAGE
    params:
        options=analysis_options(),
        baselines=baseline_args(),
    shell:
        "python -m analysis table --suite {input.suite} --metrics {input.metrics} {params.baselines} {params.options} "
        "--out {output.csv} --out {output.md} --out {output.html} "
        "--claim-out {output.claim_csv} --claim-out {output.claim_md} > {log} 2>&1"


rule aggregates:
    input:
        metrics=f"{OUT}/metrics.csv",
        suite=str(SUITE.path),
        baselines=BASELINES,
    output:
        csv=f"{OUT}/tables/aggregates.csv",
        md=f"{OUT}/tables/aggregates.md",
        html=report(
            f"{OUT}/html/aggregates.html",
            caption="../report/aggregates_table.rst",
            category="Tables",
            labels={"table": "aggregates across maps"},
        ),
        png=report(
            f"{OUT}/figures/aggregates.png",
            caption="../report/aggregates.rst",
            category="Figures",
            subcategory="Aggregates",
            labels={"figure": "IQM, median, mean"},
        ),
        pdf=f"{OUT}/figures/aggregates.pdf",
        poi_png=report(
            f"{OUT}/figures/probability_of_improvement.png",
            caption="../report/probability_of_improvement.rst",
            category="Figures",
            subcategory="Aggregates",
            labels={"figure": "probability of improvement"},
        ),
        poi_pdf=f"{OUT}/figures/probability_of_improvement.pdf",
    log:
        f"{RESULTS}/logs/{SUITE.name}/aggregates.log",
    container:
        ANALYSIS_IMAGE
    params:
        options=analysis_options(),
        baselines=baseline_args(),
    shell:
        "python -m analysis aggregates --suite {input.suite} --metrics {input.metrics} {params.baselines} "
        "{params.options} --out {output.csv} --out {output.md} --out {output.html} "
        "--figure {output.png} --figure {output.pdf} --poi-figure {output.poi_png} --poi-figure {output.poi_pdf} "
        "> {log} 2>&1"


rule reproduction_report:
    input:
        suite=str(SUITE.path),
        table=f"{OUT}/tables/final_performance.csv",
        claim=f"{OUT}/tables/sample_efficiency.csv",
        aggregates=f"{OUT}/tables/aggregates.csv",
        provenance=f"{OUT}/tables/provenance.csv",
        metrics=f"{OUT}/metrics.csv",
    output:
        md=f"{OUT}/report.md",
        html=report(
            f"{OUT}/html/reproduction_report.html",
            caption="../report/reproduction_report.rst",
            category="Reproduction report",
            labels={"document": "reproduction report"},
        ),
    log:
        f"{RESULTS}/logs/{SUITE.name}/reproduction_report.log",
    container:
        ANALYSIS_IMAGE
    shell:
        "python -m analysis report --suite {input.suite} --table {input.table} --aggregates {input.aggregates} "
        "--provenance {input.provenance} --metrics {input.metrics} --claim {input.claim} "
        "--out {output.md} --out {output.html} > {log} 2>&1"
