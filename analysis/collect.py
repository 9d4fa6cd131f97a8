"""Merge a suite's run directories into one tidy table (results/<suite>/metrics.csv).

All runs are checked before anything is written: one malformed, incomplete or mixed-mode run stops the
collection with a one-line error naming it, and no output file is touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.io import write_table
from analysis.runs import Run, RunError, provenance_summary, read_run
from analysis.suite import Suite
from marie.contract import RUN_GLOB, RUN_LAYOUT, parse_run_key

TIDY_COLUMNS = ["suite", "env", "map", "algo", "seed", "step", "metric", "value", "eval_mode", "n_episodes", "provenance"]


def discover_run_dirs(root: Path) -> list[Path]:
    """Run directories under root, laid out as <env>/<map>/<algo>/seed<k> (marie.contract.RUN_LAYOUT)."""
    return sorted(p for p in Path(root).glob(RUN_GLOB) if p.is_dir())


def _check_layout(run: Run, root: Path) -> None:
    """The keys a run's rows carry must be the ones its directory states."""
    expected = parse_run_key(run.path.relative_to(root))
    for key, value in run.keys.items():
        if str(value) != expected[key]:
            raise RunError(f"{run.path}/metrics.csv: column {key!r} is {value!r} but the directory says {expected[key]!r}")


def load_runs(root: Path, suite: Suite | None = None) -> list[Run]:
    root = Path(root)
    if suite is None:
        dirs = discover_run_dirs(root)
        if not dirs:
            raise RunError(f"{root}: no run directories ({RUN_LAYOUT}) found")
        runs = [read_run(d) for d in dirs]
    else:
        runs = []
        for spec in suite.runs:
            run_dir = root / spec.key
            if not run_dir.is_dir():
                raise RunError(f"{run_dir}: missing run of suite {suite.name} (not trained yet)")
            runs.append(read_run(run_dir, expected_mode=spec.eval_mode, min_steps=spec.steps))
    for run in runs:
        _check_layout(run, root)
    modes = sorted({run.eval_mode for run in runs})
    if len(modes) > 1:
        offender = next(run.path for run in runs if run.eval_mode == modes[1])
        raise RunError(f"{offender}: eval mode {modes[1]!r} differs from other runs ({modes[0]!r}); collect one protocol at a time")
    return runs


def tidy_table(runs: list[Run], suite_name: str) -> pd.DataFrame:
    frames = []
    for run in runs:
        frame = run.metrics.copy()
        frame["suite"] = suite_name
        frame["provenance"] = provenance_summary(run)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["n_episodes"] = table["n_episodes"].astype("Int64")
    return table[TIDY_COLUMNS].sort_values(["env", "map", "algo", "seed", "step", "metric"], kind="stable")


def provenance_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: its keys, the completion marker and the provenance the run recorded."""
    rows = []
    for run in runs:
        row = {**run.keys, "eval_mode": run.eval_mode, "run_dir": run.path.as_posix()}
        row.update({f"completed.{k}": v for k, v in run.completed.items()})
        flat = pd.json_normalize(run.provenance, sep=".").to_dict("records")[0] if run.provenance else {}
        row.update({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in flat.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def collect(root: Path, out: Path, suite: Suite | None = None, provenance_outs: list[Path] = ()) -> pd.DataFrame:
    """Validate every run, then write the tidy table (and the provenance table); nothing is written on error."""
    runs = load_runs(root, suite)
    table = tidy_table(runs, suite.name if suite else Path(root).name)
    provenance = provenance_table(runs)
    write_table(table, out)
    for path in provenance_outs:
        write_table(provenance, path, title="Provenance of every run")
    return table
