"""The main table: final score per map x method, ours (mean, 95 % bootstrap CI over seeds) beside the reported
number, with a verdict.

Verdict rule (documented in docs/workflow.md):
- A verdict is computed only where the protocol matches the reported one: same simulator, same env-step budget,
  same evaluation mode. Then it says where our 95 % CI lies relative to the reported centre +- spread:
  "within" (the intervals overlap), "above" or "below" (entirely outside).
- Otherwise the verdict is "not comparable: <every difference>", e.g. "not comparable: budget 20K vs 100K,
  SMAX vs SMAC". If only the simulator differs (SMAX stand-in at the paper's budget and protocol), the same
  comparison is given in the separate column `indicative`, marked as indicative only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.evidence import Evidence
from analysis.labels import (
    BOUNDED_METRICS,
    METRIC_LABELS,
    SIMULATORS,
    STAND_IN_FOR,
    env_label,
    format_steps,
    method_name,
    primary_metric,
)
from analysis.stats import Interval, bootstrap_mean_ci, rng_for

SHORT_SIMULATOR = {"smax": "SMAX", "starcraft": "SMAC", "pettingzoo": "MPE", "mamujoco": "MAMuJoCo", "football": "GRF"}
POSITIONS = {"within": "within the reported spread", "above": "above the reported spread", "below": "below the reported spread"}


@dataclass(frozen=True)
class Measured:
    method: str
    source: str
    values: np.ndarray
    budget: int
    eval_mode: str
    interval: Interval


def position(ours: Interval, centre: float, spread: float) -> str:
    """Where our CI lies relative to [centre - spread, centre + spread]."""
    if ours.low > centre + spread:
        return "above"
    if ours.high < centre - spread:
        return "below"
    return "within"


def compare(ours: Measured, env: str, reported: pd.Series) -> tuple[str, str]:
    """(verdict, indicative) of one measured method against its reported row."""
    simulator_diffs = []
    if reported["env"] != env:
        simulator_diffs.append(f"{SHORT_SIMULATOR.get(env, env)} vs {SHORT_SIMULATOR.get(reported['env'], reported['env'])}")
    elif isinstance(reported["simulator"], str) and reported["simulator"] != SIMULATORS.get(env):
        simulator_diffs.append(f"{SIMULATORS.get(env, env)} vs {reported['simulator']}")
    protocol_diffs = []
    if int(ours.budget) != int(reported["step"]):
        protocol_diffs.append(f"budget {format_steps(ours.budget)} vs {format_steps(reported['step'])}")
    if isinstance(reported["eval_mode"], str) and ours.eval_mode != reported["eval_mode"]:
        protocol_diffs.append(f"eval mode {ours.eval_mode} vs {reported['eval_mode']}")
    spread = float(reported["spread"]) if pd.notna(reported["spread"]) else 0.0
    where = POSITIONS[position(ours.interval, float(reported["value"]), spread)]
    if not simulator_diffs and not protocol_diffs:
        return where, ""
    verdict = "not comparable: " + ", ".join(protocol_diffs + simulator_diffs)
    indicative = f"{where} (indicative only: {', '.join(simulator_diffs)})" if not protocol_diffs else ""
    return verdict, indicative


def _measured(evidence: Evidence, env: str, map_name: str, n_boot: int, seed: int) -> dict[str, Measured]:
    finals = evidence.finals
    rows = finals[(finals["env"] == env) & (finals["map"] == map_name)]
    own_budget = evidence.suite.budget(env, map_name)
    out = {}
    for method in evidence.methods(env):
        mine = rows[rows["method"] == method]
        if mine.empty:
            continue
        values = mine.sort_values("seed")["value"].to_numpy(float)
        own = mine["source"].iloc[0].startswith("this suite")
        budget = own_budget if own else int(mine["step"].max())
        interval = bootstrap_mean_ci(values, n_boot, rng_for(seed, env, map_name, method))
        out[method] = Measured(method, mine["source"].iloc[0], values, budget, mine["eval_mode"].iloc[0], interval)
    return out


def _reported(evidence: Evidence, env: str, map_name: str) -> dict[str, pd.Series]:
    rep = evidence.reported
    if rep.empty:
        return {}
    candidates = rep[(rep["map"] == map_name) & rep["env"].isin([env, STAND_IN_FOR.get(env, env)])]
    out: dict[str, pd.Series] = {}
    # rows measured on the suite's own simulator win over stand-in comparisons
    for _, row in candidates.sort_values("env", key=lambda s: s != env, kind="stable").iterrows():
        out.setdefault(method_name(row["method"]), row)
    return out


def final_table(evidence: Evidence, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per (env, map, method) with our final score, the reported number and the verdict (raw units)."""
    rows = []
    suite = evidence.suite
    for env in suite.envs:
        for map_name in suite.maps(env):
            measured = _measured(evidence, env, map_name, n_boot, seed)
            reported = _reported(evidence, env, map_name)
            methods = list(measured) + [m for m in reported if m not in {method_name(k) for k in measured}]
            for method in methods:
                ours = measured.get(method)
                rep = reported.get(method_name(method))
                verdict, indicative = ("", "")
                if ours is None:
                    verdict = "no measurement (reported only)"
                elif rep is None:
                    verdict = "no reported number"
                else:
                    verdict, indicative = compare(ours, env, rep)
                rows.append(
                    {
                        "env": env,
                        "env_label": env_label(env),
                        "map": map_name,
                        "metric": primary_metric(env),
                        "method": method,
                        "measured_source": ours.source if ours else "",
                        "n_seeds": len(ours.values) if ours else 0,
                        "budget": ours.budget if ours else suite.budget(env, map_name),
                        "eval_mode": ours.eval_mode if ours else suite.eval_mode,
                        "mean": ours.interval.point if ours else np.nan,
                        "ci95_low": ours.interval.low if ours else np.nan,
                        "ci95_high": ours.interval.high if ours else np.nan,
                        "reported_env": rep["env"] if rep is not None else "",
                        "reported_simulator": rep["simulator"] if rep is not None else "",
                        "reported_budget": int(rep["step"]) if rep is not None else np.nan,
                        "reported": float(rep["value"]) if rep is not None else np.nan,
                        "reported_spread": float(rep["spread"]) if rep is not None and pd.notna(rep["spread"]) else np.nan,
                        "reported_n_seeds": rep["n_seeds"] if rep is not None else np.nan,
                        "reported_source": rep["provenance"] if rep is not None else "",
                        "verdict": verdict,
                        "indicative": indicative,
                    }
                )
    frame = pd.DataFrame(rows)
    for column in ("reported_budget", "reported_n_seeds"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def _fmt(value: float, metric: str) -> str:
    if pd.isna(value):
        return ""
    return f"{100 * value:.1f}" if metric in BOUNDED_METRICS else f"{value:.1f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: win rates in percent, our budget beside the reported budget."""
    out = []
    for _, r in table.iterrows():
        metric = r["metric"]
        ours = ""
        if r["n_seeds"]:
            ours = (
                f"{_fmt(r['mean'], metric)} [{_fmt(r['ci95_low'], metric)}, {_fmt(r['ci95_high'], metric)}] "
                f"({r['n_seeds']} seeds)"
            )
        reported = ""
        has_reported = isinstance(r["reported_env"], str) and r["reported_env"] != ""
        if has_reported:
            spread = _fmt(r["reported_spread"], metric)
            reported = f"{_fmt(r['reported'], metric)}" + (f" ({spread})" if spread else "")
        out.append(
            {
                "env": "SMAX stand-in" if r["env"] == "smax" else r["env_label"],
                "map": r["map"],
                "metric": METRIC_LABELS.get(metric, metric),
                "method": r["method"],
                "ours: mean [95% CI]": ours,
                "our budget": format_steps(r["budget"]),
                "reported: centre (spread)": reported,
                "reported budget": format_steps(r["reported_budget"]) if has_reported else "",
                "reported on": r["reported_simulator"] if isinstance(r["reported_simulator"], str) else "",
                "verdict": r["verdict"],
                "indicative": r["indicative"] if isinstance(r["indicative"], str) else "",
            }
        )
    return pd.DataFrame(out)
