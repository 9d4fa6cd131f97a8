"""MARIE reproduction workflow: suite YAML -> one `marie train` job per run -> collect -> figures, tables, report.

snakemake --cores 8                              # default target `figures` of the quick suite
snakemake --cores 8 --config suite=paper_smac    # another suite (experiments/suites/<name>.yaml)
snakemake --cores 1 report                       # self-contained HTML report of the suite
"""


configfile: "experiments/config.yaml"


include: "experiments/rules/common.smk"
# container images (`snakemake images`) and the image of each training job
include: "experiments/rules/containers.smk"
include: "experiments/rules/train.smk"
include: "experiments/rules/collect.smk"
include: "experiments/rules/figures.smk"
include: "experiments/rules/report.smk"


report: "experiments/report/workflow.rst"


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
