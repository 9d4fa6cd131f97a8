"""MARIE reproduction workflow: suite YAML -> one `marie train` job per run -> collect -> figures, tables, report.

snakemake --cores 8                              # default target `figures` of the quick suite
snakemake --cores 8 --config suite=paper_smac    # another suite (experiments/suites/<name>.yaml)
make report SUITE=smoke                          # + the self-contained HTML report (snakemake --report)
"""

from snakemake.utils import min_version

# 9.5: a `container:` given as a function (one image per env family, experiments/rules/containers.smk)
min_version("9.5")


configfile: "experiments/config.yaml"


include: "experiments/rules/common.smk"
# container images (`snakemake images`) and the image of each training job
include: "experiments/rules/containers.smk"
include: "experiments/rules/train.smk"
include: "experiments/rules/collect.smk"
include: "experiments/rules/figures.smk"


# The HTML report is Snakemake's own `--report` (see `make report`); this is its front page.
report: "experiments/report/workflow.rst"


# Everything but training takes seconds to minutes: on a cluster it runs on the submitting host instead of
# queueing for a (GPU) node. Only `train` jobs are submitted.
localrules:
    figures,
    table,
    collect,
    marl_eval,
    learning_curves,
    final_table,
    aggregates,
    reproduction_report,


# Default target: every figure and table of the selected suite, the reproduction report and marl-eval JSON.
rule figures:
    default_target: True
    input:
        FIGURES,
        TABLES,
        f"{OUT}/report.md",
        f"{OUT}/marl_eval.json",


# Only the tables (final performance per map x method, aggregates across maps, provenance).
rule table:
    input:
        TABLES,
