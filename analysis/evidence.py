"""Everything the figures and tables of one suite compare: the suite's own runs, per-seed baselines and
reported (summary-only) numbers, all reduced to the primary metric of each env family.

Baseline rows are checked against the suite before any statistic sees them, and every row that is left out is
named in `Evidence.notes` (which the table and aggregate outputs print):
- a metric other than the env's primary metric, or a map the suite does not run (with a "did you mean" when
  the name is close to one of the suite's maps);
- per-seed rows of another eval mode than the suite's, or with no eval mode stated;
- per-seed curves are cut at the suite's budget (+2 %); a seed whose last evaluation is then more than 2 % short of
  the budget ran a different budget and is left out.

The final score of a seed (`analysis.final`) is its last evaluation ("last", the paper's statistic) or the mean of
its last k evaluations ("last_k"); both, the learning-curve mean (area / steps) and the last-third mean (the
sample-efficiency statistic of `analysis.claim`) are kept in `finals`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.baselines import BaselineError, load_baselines
from analysis.labels import STAND_IN_FOR, format_steps, method_name, primary_metric
from analysis.suite import SUITES_DIR, Suite

SEED_COLUMNS = ["method", "source", "env", "map", "seed", "step", "value", "eval_mode"]
FINAL_STATISTICS = ("last", "last_k")
# A per-seed baseline counts as run at the suite's budget if its last evaluation is within this fraction of it.
BUDGET_TOLERANCE = 0.02


def final_label(final: str, last_k: int) -> str:
    """How the final score of a seed is defined, as printed beside every final number."""
    return "last evaluation" if final == "last" else f"mean of the last {last_k} evaluations"


@dataclass
class Evidence:
    suite: Suite
    per_seed: pd.DataFrame  # every eval point of every seed: SEED_COLUMNS
    reported: pd.DataFrame  # summary rows that the suite's maps are compared against
    notes: list[str] = field(default_factory=list)  # baseline rows left out, and why
    final: str = "last"  # which per-seed statistic is the final score: FINAL_STATISTICS
    last_k: int = 5

    def __post_init__(self) -> None:
        if self.final not in FINAL_STATISTICS:
            raise ValueError(f"final statistic {self.final!r} is not one of {', '.join(FINAL_STATISTICS)}")
        if self.last_k < 1:
            raise ValueError(f"last_k must be at least 1, got {self.last_k}")

    @property
    def final_label(self) -> str:
        return final_label(self.final, self.last_k)

    @cached_property
    def finals(self) -> pd.DataFrame:
        """One row per (method, env, map, seed): `value` is the final score (`final`); `last`, `last_k` (mean of
        the last k evaluations, or of all if fewer), `curve_mean` (trapezoid area under the curve divided by the
        steps it spans; the value itself for a single evaluation), `last_third` (mean of the evaluations at steps
        >= 2/3 of the budget: the suite map's budget, else the seed's last step; NaN if none) and `n_evals` are
        shown beside it."""
        columns = ["method", "source", "env", "map", "seed", "step", "value", "eval_mode", "last", "last_k",
                   "curve_mean", "last_third", "n_evals"]  # fmt: skip
        if self.per_seed.empty:
            return pd.DataFrame(columns=columns)
        rows = []
        keys = ["method", "source", "env", "map", "seed"]
        for key, curve in self.per_seed.groupby(keys, sort=False):
            curve = curve.sort_values("step", kind="stable")
            steps, values = curve["step"].to_numpy(float), curve["value"].to_numpy(float)
            span = steps[-1] - steps[0]
            trapezoids = (values[1:] + values[:-1]) / 2 * np.diff(steps)
            area = float(trapezoids.sum() / span) if span > 0 else float(values[-1])
            last_k = float(values[-self.last_k:].mean())
            rows.append(
                dict(zip(keys, key))
                | {"step": int(steps[-1]), "eval_mode": curve["eval_mode"].iloc[-1], "last": float(values[-1]),
                   "last_k": last_k, "curve_mean": area, "last_third": self._last_third(key[2], key[3], steps, values),
                   "n_evals": len(values)}  # fmt: skip
            )
        out = pd.DataFrame(rows)
        out["value"] = out[self.final]
        return out[columns]

    def _last_third(self, env: str, map_name: str, steps: np.ndarray, values: np.ndarray) -> float:
        """Mean of the evaluations at steps >= 2/3 of the budget (integer test: no rounding at the boundary)."""
        try:
            budget = self.suite.budget(env, map_name)
        except KeyError:  # a curve of a map the suite does not run: its own last step is its budget
            budget = steps[-1]
        late = 3 * steps >= 2 * budget
        return float(values[late].mean()) if late.any() else float("nan")

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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _off_metric_notes(baselines: pd.DataFrame, used: pd.Series) -> list[str]:
    """Rows on a map the suite uses but with a metric other than the env's primary one."""
    wrong = baselines[used & (baselines["metric"] != baselines["env"].map(primary_metric))]
    return [
        f"{file}: {_plural(len(rows), 'row')} of {env}/{', '.join(sorted(set(rows['map'])))} not used: metric "
        f"{metric!r} is not the primary metric {primary_metric(env)!r} of {env}"
        for (file, env, metric), rows in wrong.groupby(["file", "env", "metric"], sort=True)
    ]


def _maps_of_all_suites() -> set[str]:
    """Map names any suite runs: a baseline map outside them is likely a typo, one inside them just another map."""
    names = set()
    for path in SUITES_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text()) or {}
        names |= {str(entry.get("map")) for entry in data.get("maps", []) if isinstance(entry, dict)}
    return names


def _off_map_notes(baselines: pd.DataFrame, used: pd.Series, suite: Suite) -> list[str]:
    """Rows on maps the suite does not run, one line per file; an unknown name close to a suite map gets a
    "did you mean"."""
    mine = sorted({m for env in suite.envs for m in suite.maps(env)})
    known = _maps_of_all_suites() | set(mine)
    notes = []
    for file, rows in baselines[~used].groupby("file", sort=True):
        names = []
        for env, map_name in sorted(set(zip(rows["env"], rows["map"]))):
            close = [] if map_name in known else (
                [m for m in mine if m.lower() == map_name.lower()] or difflib.get_close_matches(map_name, mine, n=1)
            )  # fmt: skip
            names.append(f"{env}/{map_name}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        notes.append(
            f"{file}: {_plural(len(rows), 'row')} on maps outside suite '{suite.name}' not used: {', '.join(names)}"
        )
    return notes


def _checked_seeds(seeds: pd.DataFrame, suite: Suite, notes: list[str]) -> pd.DataFrame:
    """Per-seed rows of the suite's maps that may enter statistics: stated, matching eval mode; cut at budget."""
    seeds = seeds.assign(seed=seeds["seed"].astype(int))
    unstated = seeds["eval_mode"].isna()
    wrong_mode = ~unstated & (seeds["eval_mode"] != suite.eval_mode)
    for (file, method), rows in seeds[unstated].groupby(["file", "method"], sort=True):
        notes.append(f"{file}: {method} left out ({_plural(len(rows), 'row')}): eval mode not stated")
    for (file, method), rows in seeds[wrong_mode].groupby(["file", "method"], sort=True):
        notes.append(
            f"{file}: {method} left out ({_plural(len(rows), 'row')}): eval mode {rows['eval_mode'].iloc[0]!r} "
            f"differs from the suite's {suite.eval_mode!r}"
        )
    seeds = seeds[~unstated & ~wrong_mode]
    kept = []
    for (file, method, env, map_name), rows in seeds.groupby(["file", "method", "env", "map"], sort=False):
        budget = suite.budget(env, map_name)
        past = rows["step"] > budget * (1 + BUDGET_TOLERANCE)
        where = f"{file}: {method} on {env}/{map_name}"
        if past.any():
            notes.append(f"{where}: {_plural(int(past.sum()), 'evaluation')} past the suite's budget "
                         f"{format_steps(budget)} cut")  # fmt: skip
        seeds_given = set(rows["seed"].astype(int))
        rows = rows[~past]
        last = rows.groupby("seed")["step"].max()
        short = sorted(int(s) for s in last.index[last < budget * (1 - BUDGET_TOLERANCE)])
        missing = sorted(seeds_given - set(last.index.astype(int)))
        if short:
            ends = ", ".join(f"seed {s} at {format_steps(last[s])}" for s in short)
            notes.append(f"{where}: left out (different budget: {ends}; suite budget {format_steps(budget)})")
        if missing:
            notes.append(f"{where}: seed(s) {', '.join(map(str, missing))} left out (no evaluation within the "
                         f"suite's budget {format_steps(budget)})")  # fmt: skip
        kept.append(rows[~rows["seed"].isin(short)])
    return pd.concat(kept) if kept else seeds.iloc[0:0]


def load_evidence(
    suite: Suite, metrics_path: str | Path, baseline_paths: list[str | Path], final: str = "last", last_k: int = 5
) -> Evidence:
    metrics = pd.read_csv(metrics_path)
    own = _own_runs(metrics, suite)
    baselines = load_baselines(baseline_paths)
    notes: list[str] = []
    per_seed = [own]
    reported = baselines.iloc[0:0]
    if not baselines.empty:
        stand_in = lambda env: STAND_IN_FOR.get(env, env)  # noqa: E731 - a SMAX map is compared with SMAC's
        in_suite = _in_suite(baselines, suite)
        used_map = in_suite | (baselines["summary"] & _in_suite(baselines, suite, stand_in))
        notes += _off_map_notes(baselines, used_map, suite) + _off_metric_notes(baselines, used_map)
        on_metric = baselines["metric"] == baselines["env"].map(primary_metric)
        candidates = baselines[~baselines["summary"] & in_suite]
        own_methods = set(own["method"])
        for _, row in candidates.drop_duplicates(["file", "method", "env", "map"]).iterrows():
            if method_name(row["method"]) in own_methods and ((own["env"] == row["env"]) & (own["map"] == row["map"])).any():
                raise BaselineError(
                    f"results/baselines/{row['file']}: per-seed method {row['method']!r} on {row['env']}/{row['map']} "
                    f"has the name of one of the suite's own algorithms; rename it (e.g. {row['method']}-external)"
                )
        seeds = _checked_seeds(candidates[on_metric[candidates.index]], suite, notes)
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
                    "eval_mode": seeds["eval_mode"],
                }
            )
        )
        reported = baselines[baselines["summary"] & on_metric & used_map]
    frames = [f for f in per_seed if not f.empty]
    per_seed_frame = pd.concat(frames, ignore_index=True) if frames else own
    return Evidence(suite, per_seed_frame, reported.reset_index(drop=True), notes, final, last_k)
