"""Export the suite's evaluations to marl-eval's raw-data JSON (instadeepai/marl-eval):
env -> task -> algorithm -> run -> step_i -> {step_count, metric: [values]} plus absolute_metrics.

Run directories store the mean of each evaluation, not every episode, so each metric list holds that one mean;
`absolute_metrics` holds the last evaluation of the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from analysis.io import write_text

METRIC_NAMES = {"eval/return": "return", "eval/win_rate": "win_rate", "eval/score": "score", "eval/episode_length": "episode_length"}


def to_marl_eval(metrics: pd.DataFrame) -> dict:
    evals = metrics[metrics["metric"].isin(list(METRIC_NAMES))]
    out: dict = {}
    for (env, map_name, algo, seed), run in evals.groupby(["env", "map", "algo", "seed"], sort=True):
        steps = sorted(run["step"].unique())
        record: dict = {}
        for i, step in enumerate(steps):
            at = run[run["step"] == step]
            entry: dict = {"step_count": int(step)}
            entry.update({METRIC_NAMES[m]: [float(v)] for m, v in zip(at["metric"], at["value"])})
            record[f"step_{i}"] = entry
        last = run[run["step"] == steps[-1]]
        record["absolute_metrics"] = {METRIC_NAMES[m]: [float(v)] for m, v in zip(last["metric"], last["value"])}
        out.setdefault(env, {}).setdefault(map_name, {}).setdefault(algo, {})[f"seed_{int(seed)}"] = record
    return out


def export(metrics_path: str | Path, out: str | Path) -> dict:
    data = to_marl_eval(pd.read_csv(metrics_path))
    write_text(out, json.dumps(data, indent=1) + "\n")
    return data
