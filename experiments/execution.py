"""How Snakemake is executing this workflow: the one place that reads Snakemake internals.

Snakemake has no public API for "are jobs running on this machine?", "how many cores did the user give?" or "are
jobs running inside Apptainer?", yet the workflow needs all three: to keep a laptop from being oversubscribed when
`--cores` exceeds its CPUs, and to record an image digest only for jobs that really ran in that image. They come from
attributes of the `workflow` object (Snakemake 9.x: `workflow.local_exec`, `workflow.cores`,
`workflow.deployment_settings.deployment_method`), read here and nowhere else. If a Snakemake release renames them,
`execution_of` falls back to the safe answers (a job reserves exactly its threads; no digest is recorded) and says
which attribute was missing; tests/workflow/test_execution.py fails on such a release.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Execution:
    """What this Snakemake invocation does with jobs."""

    local: bool  # jobs run on this machine (local executor); False on a cluster executor or when unknown
    cores: int | None  # --cores as Snakemake resolved it; None when not given or unknown
    apptainer: bool  # jobs run inside their container image (--software-deployment-method apptainer)
    missing: tuple[str, ...] = field(default=())  # internals this Snakemake did not have (fallbacks were used)


def execution_of(workflow: Any) -> Execution:
    """Read how `workflow` (the `workflow` object of a Snakefile) executes jobs."""
    missing: list[str] = []

    try:
        local = bool(workflow.local_exec)
    except AttributeError:
        missing.append("workflow.local_exec")
        local = False

    try:
        cores = _as_cores(workflow.cores)
    except AttributeError:
        missing.append("workflow.cores")
        cores = None
    except Exception:  # noqa: BLE001 - Snakemake raises WorkflowError when no --cores was given (cluster, dry run)
        cores = None

    try:
        methods = workflow.deployment_settings.deployment_method
        apptainer = any(getattr(m, "name", str(m)).upper() == "APPTAINER" for m in methods)
    except AttributeError:
        missing.append("workflow.deployment_settings.deployment_method")
        apptainer = False

    return Execution(local=local, cores=cores, apptainer=apptainer, missing=tuple(missing))


def _as_cores(value: Any) -> int | None:
    try:
        cores = int(value)
    except (TypeError, ValueError):
        return None
    return cores if cores > 0 else None


def reserved_threads(threads: int, execution: Execution, machine_cpus: int) -> int:
    """Cores Snakemake reserves for a job that really uses `threads` CPU threads.

    Run locally with more --cores than the machine has CPUs (e.g. --cores 8 on a 2-core laptop), each job reserves
    proportionally more of Snakemake's cores, so at most machine_cpus / threads jobs run at once and the machine is
    never oversubscribed. On a cluster (or when Snakemake's cores are unknown) a job reserves exactly `threads`,
    which the executor turns into its CPU request.
    """
    if not execution.local or execution.cores is None:
        return threads
    oversubscription = max(1, -(-execution.cores // max(1, machine_cpus)))
    return min(execution.cores, threads * oversubscription)
