"""experiments/execution.py: the one reader of Snakemake internals, checked against the installed Snakemake."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import fake_cluster
import pytest
from workflow_helpers import REPO, snakemake

from experiments.execution import Execution, execution_of, reserved_threads

# A Snakefile that reports, when its job is planned (as the workflow's own callables do), what execution_of reads.
PROBE = f"""
import dataclasses, json, sys
sys.path.insert(0, {str(REPO)!r})
from experiments.execution import execution_of

def report(wildcards):
    print("EXECUTION=" + json.dumps(dataclasses.asdict(execution_of(workflow))), file=sys.stderr)
    return 1

rule probe:
    output: "probe.txt"
    threads: report
    container: "img.sif"
    shell: "echo done > {{output}}"
"""


def _probe(tmp_path, *args: str, extra_path: str = "", ok: bool = True, env: dict | None = None) -> dict:
    (tmp_path / "Snakefile").write_text(PROBE)
    result = snakemake(tmp_path, *args, extra_path=extra_path, env=env)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("EXECUTION="))
    return json.loads(line.removeprefix("EXECUTION="))


def test_reads_a_local_run_of_the_installed_snakemake(tmp_path):
    assert _probe(tmp_path, "--cores", "3") == {"local": True, "cores": 3, "apptainer": False, "missing": []}
    assert (tmp_path / "probe.txt").read_text() == "done\n"


def test_reads_apptainer_deployment(tmp_path):
    bin_dir = tmp_path / "bin"
    log = fake_cluster.install(bin_dir)
    env = fake_cluster.environment(log, os.environ["PATH"])
    got = _probe(
        tmp_path, "--cores", "2", "--sdm", "apptainer", extra_path=str(bin_dir), env=env
    )
    assert got == {"local": True, "cores": 2, "apptainer": True, "missing": []}
    assert [call["image"] for call in fake_cluster.calls(log, "apptainer")] == ["img.sif"]


def test_reads_a_cluster_executor(tmp_path):
    """A real (not dry) run with the slurm executor: the job is planned, then the fake sbatch refuses it."""
    bin_dir = tmp_path / "bin"
    log = fake_cluster.install(bin_dir)
    env = fake_cluster.environment(log, os.environ["PATH"])
    got = _probe(tmp_path, "--executor", "slurm", "--jobs", "1", "--slurm-no-account", "--retries", "0",
                 extra_path=str(bin_dir), env=env, ok=False)
    assert got == {"local": False, "cores": None, "apptainer": False, "missing": []}
    assert len(fake_cluster.calls(log, "sbatch")) == 1


def test_missing_internals_fall_back_to_safe_answers_and_are_named():
    got = execution_of(SimpleNamespace())
    assert got == Execution(
        local=False,
        cores=None,
        apptainer=False,
        missing=("workflow.local_exec", "workflow.cores", "workflow.deployment_settings.deployment_method"),
    )


def test_cores_that_snakemake_refuses_to_give_are_unknown():
    class NoCores:
        local_exec = True
        deployment_settings = SimpleNamespace(deployment_method=frozenset())

        @property
        def cores(self):
            raise RuntimeError("Workflow requires a total number of cores to be defined")

    assert execution_of(NoCores()) == Execution(local=True, cores=None, apptainer=False)


@pytest.mark.parametrize(
    "threads, local, cores, cpus, expected",
    [
        (1, True, 8, 2, 4),  # --cores 8 on 2 CPUs: each job takes 4 of the 8 cores -> 2 jobs at once
        (2, True, 8, 2, 8),  # a 2-thread job on a 2-CPU machine takes all 8 cores -> 1 job at once
        (1, True, 2, 8, 1),  # fewer cores than CPUs: a job reserves exactly its threads
        (4, False, 8, 2, 4),  # cluster: the job asks for its threads, whatever the submit host has
        (4, True, None, 2, 4),  # cores unknown
    ],
)
def test_reserved_threads(threads, local, cores, cpus, expected):
    assert reserved_threads(threads, Execution(local=local, cores=cores, apptainer=False), cpus) == expected
