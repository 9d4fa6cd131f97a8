"""What a (re)started run resumes from, after checking that its run directory is intact and holds this config.

Called while the run directory is locked. A checkpoint carries its own copy of the resolved config, so a run whose
``config.resolved.yaml`` was deleted (or edited) is still checked against the config it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from marie.config import flatten
from marie.config.schema import GENERIC_SECTIONS
from marie.contract import CONFIG_FILE, METRICS_FILE
from marie.errors import RunDirectoryError
from marie.training.run_dir import RunDirectory

# Settings that may change between a run and its resumption without changing its results.
RESUMABLE_CHANGES = {"run.threads", "run.progress", "run.checkpoint_interval_s", "run.checkpoint_every_steps",
                     "run.heap_keep_mb"}  # fmt: skip


def changed_keys(old: dict[str, Any], new: dict[str, Any], algo: str) -> list[str]:
    """Keys whose value differs, among those that can change the run: the generic sections and the run's own
    algorithm's section (another algorithm's section, e.g. one registered after the run started, cannot)."""
    relevant = {*GENERIC_SECTIONS, algo}
    old_flat, new_flat = flatten(old), flatten(new)
    keys = sorted(k for k in set(old_flat) | set(new_flat) if k.split(".", 1)[0] in relevant)
    return [k for k in keys if k not in RESUMABLE_CHANGES and old_flat.get(k) != new_flat.get(k)]


@dataclass
class ResumePoint:
    complete: bool  # COMPLETED is there: nothing to do
    state: dict[str, Any] | None  # the checkpoint to resume from; None: start from scratch


def resume_point(run: RunDirectory, resolved_yaml: str, algo: str) -> ResumePoint:
    """Refuse (one line, exit 2) a run directory that holds another config, a damaged checkpoint or a metrics.csv
    shorter than the checkpoint's offset; otherwise say where to start."""
    complete, has_checkpoint = run.is_complete(), run.has_checkpoint()
    if not (complete or has_checkpoint):
        return ResumePoint(False, None)  # nothing trained yet (or killed before the first checkpoint): start over
    stored = {CONFIG_FILE: run.existing_config()}
    state = None
    if has_checkpoint and not (complete and stored[CONFIG_FILE] is not None):
        state = run.load_checkpoint()
        stored["the checkpoint's copy"] = yaml.safe_load(state["config"])
    new = yaml.safe_load(resolved_yaml)  # compared as on disk (tuples as lists)
    for where, old in stored.items():
        changed = [] if old is None else changed_keys(old, new, algo)
        if changed:
            raise RunDirectoryError(
                f"{run.root} holds a run with a different config ({', '.join(changed[:5])}; per {where}); "
                "use another --out-dir or delete it"
            )
    if state is not None and not complete:
        size, offset = run.metrics_size(), int(state["metrics_bytes"])
        if size < offset:
            raise RunDirectoryError(
                f"{run.root / METRICS_FILE} has {size} bytes but the checkpoint was taken at byte {offset} (it was "
                f"truncated, replaced or deleted); restore it, or delete {run.checkpoint_path} to restart the run"
            )
    return ResumePoint(complete, None if complete else state)
