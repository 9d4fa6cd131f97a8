"""The main table: final score per map x method, ours (mean over seeds with a 95 % Student-t interval and its n)
beside the reported number, with a verdict.

Verdict rule (documented in docs/workflow.md):
- A verdict is computed only where the protocol matches the reported one: same simulator, same env-step budget,
  same evaluation mode, each stated. Then it says where our 95 % interval lies relative to the reported centre
  +- spread: "within" (the intervals overlap), "above" or "below" (entirely outside).
- Otherwise the verdict is "not comparable: <every difference>", e.g. "not comparable: budget 20K vs 100K,
  SMAX vs SMAC" or "not comparable: eval mode not stated". If only the simulator differs (SMAX stand-in at the
  paper's budget and protocol), the same comparison is given in the separate column `indicative`, marked as
  indicative only.
- Of several reported rows of one method, the one at our budget is used (then the suite's own simulator first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.evidence import Evidence, final_label
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
from analysis.stats import Interval, t_interval

SHORT_SIMULATOR = {"smax": "SMAX", "starcraft": "SMAC", "pettingzoo": "MPE", "mamujoco": "MAMuJoCo", "football": "GRF"}
POSITIONS = {"within": "within the reported spread", "above": "above the reported spread", "below": "below the reported spread"}
INTERVAL_LABEL = "95% t-interval over seeds"


@dataclass(frozen=True)
class Measured:
    method: str
    source: str
    values: np.ndarray
    budget: int
    eval_mode: str
    interval: Interval
    companions: dict | None = None  # per-seed statistics other than the final, averaged over seeds


def position(ours: Interval, centre: float, spread: float) -> str:
    """Where our interval lies relative to [centre - spread, centre + spread]."""
    if ours.low > centre + spread:
        return "above"
    if ours.high < centre - spread:
        return "below"
    return "within"


def _stated(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def compare(ours: Measured, env: str, reported: pd.Series) -> tuple[str, str]:
    """(verdict, indicative) of one measured method against its reported row; unstated fields never match."""
    simulator_diffs = []
    if reported["env"] != env:
        simulator_diffs.append(f"{SHORT_SIMULATOR.get(env, env)} vs {SHORT_SIMULATOR.get(reported['env'], reported['env'])}")
    elif not _stated(reported.get("simulator")):
        simulator_diffs.append("simulator not stated")
    elif reported["simulator"] != SIMULATORS.get(env):
        simulator_diffs.append(f"{SIMULATORS.get(env, env)} vs {reported['simulator']}")
    protocol_diffs = []
    if int(ours.budget) != int(reported["step"]):
        protocol_diffs.append(f"budget {format_steps(ours.budget)} vs {format_steps(reported['step'])}")
    if not _stated(reported.get("eval_mode")):
        protocol_diffs.append("eval mode not stated")
    elif ours.eval_mode != reported["eval_mode"]:
        protocol_diffs.append(f"eval mode {ours.eval_mode} vs {reported['eval_mode']}")
    if math.isnan(ours.interval.low):
        where = f"no verdict ({len(ours.values)} seed: no interval)"
    else:
        spread = float(reported["spread"]) if pd.notna(reported["spread"]) else 0.0
        where = POSITIONS[position(ours.interval, float(reported["value"]), spread)]
    if not simulator_diffs and not protocol_diffs:
        return where, ""
    verdict = "not comparable: " + ", ".join(protocol_diffs + simulator_diffs)
    indicative = f"{where} (indicative only: {', '.join(simulator_diffs)})" if not protocol_diffs else ""
    return verdict, indicative


def _measured(evidence: Evidence, env: str, map_name: str) -> dict[str, Measured]:
    """Every method's finals on one map. Baselines were cut and checked at the suite's budget on load, so every
    measured row is at the suite's budget."""
    finals = evidence.finals
    rows = finals[(finals["env"] == env) & (finals["map"] == map_name)]
    budget = evidence.suite.budget(env, map_name)
    bounds = (0.0, 1.0) if primary_metric(env) in BOUNDED_METRICS else None
    out = {}
    for method in evidence.methods(env):
        mine = rows[rows["method"] == method].sort_values("seed")
        if mine.empty:
            continue
        values = mine["value"].to_numpy(float)
        companions = {c: float(mine[c].mean()) for c in ("last", "last_k", "curve_mean")}
        out[method] = Measured(method, mine["source"].iloc[0], values, budget, mine["eval_mode"].iloc[0],
                               t_interval(values, bounds=bounds), companions)  # fmt: skip
    return out


def _reported(evidence: Evidence, env: str, map_name: str) -> dict[str, pd.Series]:
    """Per method, the reported row to compare with: at our budget if there is one, then on our own simulator,
    then the nearest budget."""
    rep = evidence.reported
    if rep.empty:
        return {}
    candidates = rep[(rep["map"] == map_name) & rep["env"].isin([env, STAND_IN_FOR.get(env, env)])]
    budget = evidence.suite.budget(env, map_name)
    order = pd.DataFrame(
        {"budget": candidates["step"].astype(int) != budget, "env": candidates["env"] != env,
         "distance": (candidates["step"].astype(int) - budget).abs()}  # fmt: skip
    ).sort_values(["budget", "env", "distance"], kind="stable")
    out: dict[str, pd.Series] = {}
    for index in order.index:
        row = candidates.loc[index]
        out.setdefault(method_name(row["method"]), row)
    return out


def final_table(evidence: Evidence) -> pd.DataFrame:
    """One row per (env, map, method) with our final score, the reported number and the verdict (raw units)."""
    rows = []
    suite = evidence.suite
    for env in suite.envs:
        for map_name in suite.maps(env):
            measured = _measured(evidence, env, map_name)
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
                companions = ours.companions if ours else {}
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
                        "final_statistic": evidence.final,
                        "last_k": evidence.last_k,
                        "mean": ours.interval.point if ours else np.nan,
                        "ci95_low": ours.interval.low if ours else np.nan,
                        "ci95_high": ours.interval.high if ours else np.nan,
                        "interval": INTERVAL_LABEL if ours else "",
                        "mean_last": companions.get("last", np.nan),
                        "mean_last_k": companions.get("last_k", np.nan),
                        "mean_curve": companions.get("curve_mean", np.nan),
                        "reported_env": rep["env"] if rep is not None else "",
                        "reported_simulator": rep["simulator"] if rep is not None else "",
                        "reported_eval_mode": rep["eval_mode"] if rep is not None else "",
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


def _companion(final: str, last_k: int) -> tuple[str, str]:
    """The per-seed statistic shown beside the final one: the other of last / last-k mean."""
    return ("mean_last_k", f"ours: last-{last_k} mean") if final == "last" else ("mean_last", "ours: last eval")


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: win rates in percent, n beside every interval, our budget beside the reported
    budget, and a second per-seed statistic beside the final one (labelled)."""
    out = []
    for _, r in table.iterrows():
        metric = r["metric"]
        final, last_k = str(r.get("final_statistic", "last")), int(r.get("last_k", 5))
        column, title = _companion(final, last_k)
        ours = companion = ""
        if r["n_seeds"]:
            n = f"n={r['n_seeds']} seed" + ("" if r["n_seeds"] == 1 else "s")
            low, high = _fmt(r["ci95_low"], metric), _fmt(r["ci95_high"], metric)
            interval = f"[{low}, {high}]" if low else "no interval"
            ours = f"{_fmt(r['mean'], metric)} {interval} ({n})"
            companion = f"{_fmt(r[column], metric)}; curve mean {_fmt(r['mean_curve'], metric)}"
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
                f"ours ({final_label(final, last_k)}): mean [{INTERVAL_LABEL}]": ours,
                title: companion,
                "our budget": format_steps(r["budget"]),
                "reported: centre (spread)": reported,
                "reported budget": format_steps(r["reported_budget"]) if has_reported else "",
                "reported on": r["reported_simulator"] if isinstance(r["reported_simulator"], str) else "",
                "verdict": r["verdict"],
                "indicative": r["indicative"] if isinstance(r["indicative"], str) else "",
            }
        )
    return pd.DataFrame(out)
