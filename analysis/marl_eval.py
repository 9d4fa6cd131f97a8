"""Export the suite's evaluations to marl-eval's raw-data JSON (instadeepai/marl-eval):
env -> task -> algorithm -> run -> step_i -> {step_count, metric: [values]} plus absolute_metrics.

marl-eval's loader (`data_process_pipeline`, `create_matrices_for_rliable`) takes the task, algorithm, run, step and
metric lists of an env from its first entry and indexes every other entry with them, so within one env every task
must have the same algorithms, runs, step keys and metrics. Maps with different budgets cannot share that: the
export writes one env group per budget, keyed `<env>` when the env has one budget and `<env>_<budget>` (e.g.
`starcraft_100K`) otherwise. Within a group, evaluation i of a run is the one in slot i = round(step / interval),
with the interval the group's typical gap between evaluations; only slots that every run of the group has are kept,
and a slot dropped for that is reported. Run directories store the mean of each evaluation, not every episode, so
each metric list holds that one mean; `absolute_metrics` holds the last evaluation of the run. Values are finite
(JSON has no NaN; a non-finite value stops the export with the offending row).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.io import write_text
from analysis.labels import format_steps
from marie.contract import run_key

METRIC_NAMES = {"eval/return": "return", "eval/win_rate": "win_rate", "eval/score": "score", "eval/episode_length": "episode_length"}


class ExportError(ValueError):
    """Results that marl-eval's format cannot hold; the message names the run or row."""


def _interval(steps: list[np.ndarray]) -> float:
    """The typical gap between evaluations, rounded to two significant digits (eval intervals are round numbers;
    evaluations land a little after each one, when an episode ends)."""
    if not any(len(s) > 1 for s in steps):
        # one evaluation per run (a budget below the eval interval): each run's only evaluation is the same slot
        return max(1.0, max(float(s.max()) for s in steps))
    gaps = np.concatenate([np.diff(s) for s in steps if len(s) > 1])
    gap = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1.0
    scale = 10 ** max(0, math.floor(math.log10(gap)) - 1)
    return max(1.0, round(gap / scale) * scale)


def _run_steps(rows: pd.DataFrame) -> list[np.ndarray]:
    return [g["step"].drop_duplicates().sort_values().to_numpy(float) for _, g in rows.groupby(["map", "algo", "seed"])]


def _groups(evals: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """env group name -> its rows: one group per (env, budget); a map's budget is its last evaluation step rounded
    down to its evaluation interval (the final evaluation lands a little after the budget)."""
    budget = {}
    for (env, map_name), rows in evals.groupby(["env", "map"]):
        gap = _interval(_run_steps(rows))
        budget[(env, map_name)] = int(math.floor(rows["step"].max() / gap) * gap)
    evals = evals.assign(budget=[budget[k] for k in zip(evals["env"], evals["map"])])
    out = {}
    for env, rows in evals.groupby("env", sort=True):
        several = rows["budget"].nunique() > 1
        for steps, part in rows.groupby("budget", sort=True):
            out[f"{env}_{format_steps(steps)}" if several else env] = part.drop(columns="budget")
    return out


def _check(evals: pd.DataFrame) -> None:
    bad = evals[~np.isfinite(evals["value"].astype(float))]
    if not bad.empty:
        r = bad.iloc[0]
        raise ExportError(
            f"{run_key(r['env'], r['map'], r['algo'], int(r['seed']))}: {r['metric']} at step {int(r['step'])} is "
            f"{float(r['value'])}; marl-eval JSON holds finite numbers only"
        )


def _group_json(name: str, rows: pd.DataFrame, notes: list[str]) -> dict:
    runs = {key: run for key, run in rows.groupby(["map", "algo", "seed"], sort=True)}
    gap = _interval(_run_steps(rows))
    slotted = {key: run.assign(slot=np.rint(run["step"] / gap).astype(int)) for key, run in runs.items()}
    # one evaluation per slot (the later one if two land in one), and the metrics every evaluation has
    tables = {
        key: run.pivot_table(index="slot", columns="metric", values="value", aggfunc="last")
        for key, run in slotted.items()
    }
    steps = {key: run.groupby("slot")["step"].max() for key, run in slotted.items()}
    common = sorted(set.intersection(*(set(t.dropna().index) for t in tables.values())))
    metrics = sorted(set.intersection(*(set(t.columns) for t in tables.values())))
    if not common or not metrics:
        raise ExportError(f"{name}: its runs share no evaluation step and metric; marl-eval needs both")
    dropped = sorted(set().union(*(set(t.index) for t in tables.values())) - set(common))
    if dropped:
        notes.append(f"{name}: evaluation slot(s) {', '.join(map(str, dropped))} (interval {gap:g} steps) left out: "
                     "not every run has them")  # fmt: skip
    _check_same_runs(name, runs)
    out: dict = {}
    for (map_name, algo, seed), table in tables.items():
        record: dict = {}
        for i, slot in enumerate(common):
            entry: dict = {"step_count": int(steps[(map_name, algo, seed)][slot])}
            entry.update({METRIC_NAMES[m]: [float(table.at[slot, m])] for m in metrics})
            record[f"step_{i}"] = entry
        last = table.dropna(subset=metrics).index.max()
        record["absolute_metrics"] = {METRIC_NAMES[m]: [float(table.at[last, m])] for m in metrics}
        out.setdefault(map_name, {}).setdefault(algo, {})[f"seed_{int(seed)}"] = record
    return out


def _check_same_runs(name: str, runs: dict) -> None:
    """Every task of a group needs the same algorithms, and every (task, algorithm) the same seeds."""
    layout: dict = {}
    for map_name, algo, seed in runs:
        layout.setdefault(map_name, {}).setdefault(algo, set()).add(int(seed))
    reference_map = next(iter(layout))
    reference = layout[reference_map]
    for map_name, algos in layout.items():
        for algo in sorted(set(algos) | set(reference)):
            if algos.get(algo) != reference.get(algo):
                raise ExportError(
                    f"{name}: {map_name}/{algo} has seeds {sorted(algos.get(algo, []))} but {reference_map}/{algo} has "
                    f"{sorted(reference.get(algo, []))}; marl-eval needs the same algorithms and seeds on every map"
                )


def to_marl_eval(metrics: pd.DataFrame) -> tuple[dict, list[str]]:
    """The JSON object and notes on what was left out."""
    evals = metrics[metrics["metric"].isin(list(METRIC_NAMES))]
    if evals.empty:
        raise ExportError(f"no evaluation rows ({', '.join(METRIC_NAMES)}) to export")
    _check(evals)
    notes: list[str] = []
    return {name: _group_json(name, rows, notes) for name, rows in _groups(evals).items()}, notes


def export(metrics_path: str | Path, out: str | Path) -> list[str]:
    data, notes = to_marl_eval(pd.read_csv(metrics_path))
    write_text(out, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return notes
