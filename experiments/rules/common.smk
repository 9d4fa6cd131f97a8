# Config loading, validation and the expansion of the selected suite into runs; shared helpers.
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from analysis.suite import ConfigError, load_config, load_suite, train_args
from marie.contract import COMPLETED_FILE, run_key
from experiments.execution import execution_of, reserved_threads
from containers.images import (
    ContainerConfigError,
    ContainerSettings,
    image_for,
)

try:
    config.update(load_config(config))
    SUITE = load_suite(config["suite"])
    CONTAINERS = ContainerSettings.from_config(config)
except (ConfigError, ContainerConfigError) as error:
    raise WorkflowError(f"invalid configuration: {error}") from None

RESULTS = "results"
OUT = f"{RESULTS}/{SUITE.name}"
RUNS_ROOT = f"{RESULTS}/runs/{SUITE.name}"
# The run layout <env>/<map>/<algo>/seed<k> with wildcards, from the one definition in marie/contract.py.
RUN_PATTERN = run_key("{env}", "{map}", "{algo}", "{seed}")
RUNS = SUITE.runs
ENVS = SUITE.envs
BASELINES = sorted(str(p) for p in Path("results/baselines").glob("*.csv"))
# Analysis steps run in the `cpu` image on a cluster (apptainer); locally with the Python on PATH.
ANALYSIS_IMAGE = image_for("cpu", CONTAINERS)


wildcard_constraints:
    env="[a-z]+",
    map="[A-Za-z0-9_\-]+",
    algo="[a-z][a-z0-9_]*",
    seed="[0-9]+",


def run_of(wildcards):
    """The RunSpec behind a train job's wildcards."""
    return SUITE.run(wildcards.env, wildcards.map, wildcards.algo, int(wildcards.seed))


def run_priority(wildcards):
    """Training jobs start in the suite's order (maps as listed, then algorithms, then seeds): with fewer cores than
    jobs, a suite that lists its longest runs first is not left waiting on one of them at the end.
    """
    return len(SUITE.runs) - SUITE.runs.index(run_of(wildcards))


def completion_markers():
    return [f"{run.run_dir(RESULTS)}/{COMPLETED_FILE}" for run in RUNS]


def local_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


_NOTED = set()


def execution():
    """How Snakemake runs jobs (experiments/execution.py). Read when jobs are planned, not when the Snakefile is
    parsed: Snakemake chooses its executor (local or cluster) in between."""
    found = execution_of(workflow)
    if found.missing and not _NOTED:
        _NOTED.add(True)
        print(
            f"note: this Snakemake has no {', '.join(found.missing)}; "
            "training jobs reserve exactly their threads and record no image digest",
            file=sys.stderr,
        )
    return found


def scheduling_threads(wildcards):
    """Cores Snakemake reserves for one training job (experiments/execution.py reserved_threads).

    A job really uses `threads` CPU threads (passed to `marie train --threads`); run locally with more --cores than
    the machine has CPUs, it reserves more of Snakemake's cores so that the machine is never oversubscribed.
    """
    return reserved_threads(run_of(wildcards).threads, execution(), local_cpus())


def train_image(wildcards):
    """The container image of a training job: one image per env family (containers/images.py)."""
    return image_for(wildcards.env, CONTAINERS)


def train_command(wildcards):
    run = run_of(wildcards)
    args = train_args(run, run.run_dir(RESULTS))
    return shlex.join(shlex.split(config["marie_command"]) + args)


def analysis_options():
    """Command-line options of the analysis steps that come from config["analysis"]."""
    opts = config["analysis"]
    return shlex.join(
        [
            "--band",
            opts["band"],
            "--bootstrap-samples",
            str(opts["bootstrap_samples"]),
            "--bootstrap-seed",
            str(opts["bootstrap_seed"]),
            "--curve-points",
            str(opts["curve_points"]),
            "--normalisation",
            json.dumps(opts["normalisation"], sort_keys=True),
            "--final",
            opts["final"],
            "--last-k",
            str(opts["last_k"]),
        ]
    )


def baseline_args():
    return shlex.join([arg for path in BASELINES for arg in ("--baseline", path)])


CURVE_FIGURES = expand(
    f"{OUT}/figures/learning_curves_{{env}}.{{ext}}", env=ENVS, ext=["png", "pdf"]
)
AGGREGATE_FIGURES = expand(
    f"{OUT}/figures/{{name}}.{{ext}}",
    name=["aggregates", "probability_of_improvement"],
    ext=["png", "pdf"],
)
FIGURES = CURVE_FIGURES + AGGREGATE_FIGURES
TABLES = expand(
    f"{OUT}/tables/{{name}}.{{ext}}",
    name=["final_performance", "sample_efficiency", "aggregates", "provenance"],
    ext=["csv", "md"],
)
