"""Everything the figures and tables of one suite compare: the suite's own runs, per-seed baselines and
reported (summary-only) numbers, all reduced to the primary metric of each env family."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.baselines import BaselineError, load_baselines
from analysis.labels import STAND_IN_FOR, method_name, primary_metric
from analysis.suite import Suite

SEED_COLUMNS = ["method", "source", "env", "map", "seed", "step", "value", "eval_mode"]


@dataclass
class Evidence:
    suite: Suite
    per_seed: pd.DataFrame  # every eval point of every seed: SEED_COLUMNS
    reported: pd.DataFrame  # summary rows that the suite's maps are compared against
    notes: list[str] = field(default_factory=list)  # baseline rows left out, and why

    @property
    def finals(self) -> pd.DataFrame:
        """The last evaluation of every (method, env, map, seed): the final score used in tables and statistics."""
        if self.per_seed.empty:
            return self.per_seed.copy()
        ordered = self.per_seed.sort_values("step", kind="stable")
        return ordered.groupby(["method", "source", "env", "map", "seed"], as_index=False, sort=False).last()

    @property
    def curves(self) -> pd.DataFrame:
        """Per-seed series with at least two evaluations (final-value-only baselines are not curves)."""
        counts = self.per_seed.groupby(["method", "env", "map", "seed"])["step"].transform("nunique")
        return self.per_seed[counts >= 2]

    def methods(self, env: str | None = None) -> list[str]:
        """Methods in display order: the suite's own algorithms first, then baselines in file order."""
        own = [method_name(a) for a in self.suite.algos]
        frame = self.per_seed if env is None else self.per_seed[self.per_seed["env"] == env]
        others = [m for m in dict.fromkeys(frame["method"]) if m not in own]
        return [m for m in own if m in set(frame["method"])] + others


def _own_runs(metrics: pd.DataFrame, suite: Suite) -> pd.DataFrame:
    frames = []
    for env in suite.envs:
        rows = metrics[(metrics["env"] == env) & (metrics["metric"] == primary_metric(env))]
        frames.append(rows)
    rows = pd.concat(frames) if frames else metrics.iloc[0:0]
    out = pd.DataFrame(
        {
            "method": rows["algo"].map(method_name),
            "source": f"this suite ({suite.name})",
            "env": rows["env"],
            "map": rows["map"],
            "seed": rows["seed"].astype(int),
            "step": rows["step"].astype(int),
            "value": rows["value"].astype(float),
            "eval_mode": rows["eval_mode"],
        }
    )
    return out[SEED_COLUMNS]


def _in_suite(frame: pd.DataFrame, suite: Suite, env_of=lambda env: env) -> pd.Series:
    wanted = {(env_of(env), m) for env in suite.envs for m in suite.maps(env)}
    return pd.Series([(e, m) in wanted for e, m in zip(frame["env"], frame["map"])], index=frame.index, dtype=bool)


def load_evidence(suite: Suite, metrics_path: str | Path, baseline_paths: list[str | Path]) -> Evidence:
    metrics = pd.read_csv(metrics_path)
    own = _own_runs(metrics, suite)
    baselines = load_baselines(baseline_paths)
    notes: list[str] = []
    per_seed = [own]
    reported = baselines.iloc[0:0]
    if not baselines.empty:
        on_metric = baselines["metric"] == baselines["env"].map(primary_metric)
        seeds = baselines[~baselines["summary"] & on_metric & _in_suite(baselines, suite)]
        wrong_mode = seeds["eval_mode"].notna() & (seeds["eval_mode"] != suite.eval_mode)
        for (file, method), _ in seeds[wrong_mode].groupby(["file", "method"]):
            notes.append(f"{file}: {method} left out (eval mode differs from the suite's {suite.eval_mode!r})")
        seeds = seeds[~wrong_mode]
        own_methods = set(own["method"])
        for _, row in seeds.drop_duplicates(["file", "method", "env", "map"]).iterrows():
            if method_name(row["method"]) in own_methods and ((own["env"] == row["env"]) & (own["map"] == row["map"])).any():
                raise BaselineError(
                    f"results/baselines/{row['file']}: per-seed method {row['method']!r} on {row['env']}/{row['map']} "
                    f"has the name of one of the suite's own algorithms; rename it (e.g. {row['method']}-external)"
                )
        per_seed.append(
            pd.DataFrame(
                {
                    "method": seeds["method"],
                    "source": "results/baselines/" + seeds["file"],
                    "env": seeds["env"],
                    "map": seeds["map"],
                    "seed": seeds["seed"].astype(int),
                    "step": seeds["step"].astype(int),
                    "value": seeds["value"].astype(float),
                    "eval_mode": seeds["eval_mode"].fillna("not stated"),
                }
            )
        )
        stand_in = lambda env: STAND_IN_FOR.get(env, env)  # noqa: E731 - a SMAX map is compared with SMAC's
        summary = baselines["summary"] & on_metric
        reported = baselines[summary & (_in_suite(baselines, suite) | _in_suite(baselines, suite, stand_in))]
    per_seed_frame = pd.concat([f for f in per_seed if not f.empty], ignore_index=True) if any(
        not f.empty for f in per_seed
    ) else own
    return Evidence(suite=suite, per_seed=per_seed_frame, reported=reported.reset_index(drop=True), notes=notes)
