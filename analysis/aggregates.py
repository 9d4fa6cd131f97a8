"""Aggregates across the maps of each env family: IQM, median and mean of final scores as rliable defines them
(analysis/stats.py), with stratified-bootstrap 95 % CIs, and the probability that MARIE improves on each other method.

Only per-seed data enters (the suite's runs and per-seed baselines that passed the checks of analysis/evidence.py;
reported summaries never do). A method is aggregated over a family only if it has final scores on every map of that
family in the suite. Scores are win rates (already in [0, 1]) or returns normalised with fixed per-map ranges from the
config; a return family with a map lacking a range is left out. Nothing depends on which other methods are present.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.evidence import Evidence  # noqa: E402
from analysis.labels import (  # noqa: E402
    BOUNDED_METRICS,
    EVAL_MODE_LABELS,
    env_label,
    figure_title,
    method_name,
    primary_metric,
)
from analysis.plots import fit_titles, save  # noqa: E402
from analysis.stats import (  # noqa: E402
    AGGREGATES,
    normalise,
    probability_of_improvement_ci,
    rng_for,
    seed_counts,
    stratified_bootstrap,
)

REFERENCE_METHOD = "MARIE"
CI_LABEL = "stratified-bootstrap 95% CI (seeds resampled within maps, as rliable); too narrow with 2-4 seeds per map"


def family_scores(
    evidence: Evidence, env: str, normalisation: dict[str, list[float]]
) -> tuple[dict[str, dict[str, np.ndarray]], str]:
    """Per method: map -> final scores (normalised where needed); plus a note on what was done or left out."""
    maps = evidence.suite.maps(env)
    metric = primary_metric(env)
    if metric not in BOUNDED_METRICS:
        missing = [m for m in maps if m not in normalisation]
        if missing:
            return {}, f"{env_label(env)}: not aggregated (no fixed normalisation range for {', '.join(missing)})"
    finals = evidence.finals[evidence.finals["env"] == env]
    scores: dict[str, dict[str, np.ndarray]] = {}
    left_out, ragged = [], []
    for method in evidence.methods(env):
        mine = finals[finals["method"] == method]
        per_map = {m: mine.loc[mine["map"] == m, "value"].to_numpy(float) for m in maps}
        if any(len(v) == 0 for v in per_map.values()):
            left_out.append(method)
            continue
        if metric not in BOUNDED_METRICS:
            per_map = {m: normalise(v, *normalisation[m]) for m, v in per_map.items()}
        scores[method] = per_map
        if "-" in seed_counts(per_map):
            ragged.append(f"{method} ({', '.join(f'{m}: {len(v)}' for m, v in per_map.items())})")
    scale = "win rate" if metric in BOUNDED_METRICS else "fixed-range normalised return"
    note = f"{env_label(env)}: {len(maps)} map(s), {scale}, final score = {evidence.final_label}"
    if left_out:
        note += f"; left out (not on every map): {', '.join(left_out)}"
    if ragged:
        note += (f"; unequal seeds per map for {'; '.join(ragged)}: median and mean weigh maps equally, "
                 "IQM pools runs so maps with more seeds weigh more")  # fmt: skip
    return scores, note


def aggregate_table(
    evidence: Evidence, normalisation: dict[str, list[float]], n_boot: int = 2000, seed: int = 0
) -> tuple[pd.DataFrame, list[str]]:
    rows, notes = [], []
    for env in evidence.suite.envs:
        scores, note = family_scores(evidence, env, normalisation)
        notes.append(note)
        n_maps = len(evidence.suite.maps(env))
        for method, per_map in scores.items():
            n_runs = sum(len(v) for v in per_map.values())
            for name, fn in AGGREGATES.items():
                ci = stratified_bootstrap(per_map, fn, n_boot, rng_for(seed, env, method, name))
                rows.append(_row(env, method, name, "", ci, n_maps, n_runs, seed_counts(per_map)))
        if REFERENCE_METHOD in scores:
            for other, per_map in scores.items():
                if other == REFERENCE_METHOD:
                    continue
                ci = probability_of_improvement_ci(
                    scores[REFERENCE_METHOD], per_map, n_boot, rng_for(seed, env, REFERENCE_METHOD, other, "poi")
                )
                n_runs = sum(len(v) for v in per_map.values())
                seeds = f"{seed_counts(scores[REFERENCE_METHOD])} vs {seed_counts(per_map)}"
                rows.append(_row(env, REFERENCE_METHOD, "P(improvement)", other, ci, n_maps, n_runs, seeds))
    columns = ["env", "env_label", "method", "statistic", "versus", "point", "ci95_low", "ci95_high", "n_maps",
               "n_runs", "seeds_per_map"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns), notes


def _row(env, method, statistic, versus, ci, n_maps, n_runs, seeds) -> dict:
    return {
        "env": env,
        "env_label": env_label(env),
        "method": method,
        "statistic": statistic,
        "versus": versus,
        "point": ci.point,
        "ci95_low": ci.low,
        "ci95_high": ci.high,
        "n_maps": n_maps,
        "n_runs": n_runs,
        "seeds_per_map": seeds,
    }


def display_aggregates(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in ("point", "ci95_low", "ci95_high"):
        out[column] = out[column].map(lambda v: f"{v:.3f}")
    out["env"] = out["env"].map(lambda e: "SMAX stand-in" if e == "smax" else env_label(e))
    return out.drop(columns=["env_label"])


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9)
    ax.set_axis_off()


def _seeds_line(table: pd.DataFrame, evidence: Evidence) -> str:
    seeds = sorted(set(table["seeds_per_map"].astype(str))) if "seeds_per_map" in table else []
    return f"seeds per map: {', '.join(seeds) or len(evidence.suite.seeds)}; final score = {evidence.final_label}"


def aggregates_figure(table: pd.DataFrame, evidence: Evidence, notes: list[str]) -> Figure:
    stats = table[table["statistic"].isin(list(AGGREGATES))]
    envs = list(dict.fromkeys(stats["env"]))
    suite = evidence.suite
    height = 1.4 + (0.5 + 0.45 * max(2, stats["method"].nunique())) * max(1, len(envs))
    fig, axes = plt.subplots(max(1, len(envs)), 3, figsize=(12, height), squeeze=False)
    if not envs:
        for ax in axes.flat:
            ax.set_axis_off()
        _no_data(axes[0, 1], "no aggregates:\n" + "\n".join(notes))
    methods = list(dict.fromkeys(stats["method"]))
    palette = dict(zip(methods, sns.color_palette("colorblind", max(1, len(methods)))))
    for row, env in enumerate(envs):
        for col, name in enumerate(AGGREGATES):
            ax = axes[row, col]
            part = stats[(stats["env"] == env) & (stats["statistic"] == name)].reset_index(drop=True)
            for i, r in part.iterrows():
                ax.barh(i, r["ci95_high"] - r["ci95_low"], left=r["ci95_low"], height=0.6, color=palette[r["method"]], alpha=0.7)
                ax.plot([r["point"]] * 2, [i - 0.3, i + 0.3], color="black", lw=1.5)
            ax.set_yticks(range(len(part)), part["method"])
            ax.invert_yaxis()
            ax.set_xlim(-0.02, 1.02) if primary_metric(env) in BOUNDED_METRICS else None
            ax.set_title(f"{name}, {'SMAX stand-in' if env == 'smax' else env_label(env)}", fontsize=10)
            ax.set_xlabel("win rate" if primary_metric(env) in BOUNDED_METRICS else "normalised return")
            ax.grid(axis="x", alpha=0.3)
    figure_title(
        fig,
        [
            f"Suite '{suite.name}' \u2014 aggregates of final scores across maps (IQM, median and mean as rliable)",
            f"eval: {EVAL_MODE_LABELS.get(suite.eval_mode, suite.eval_mode)}; {_seeds_line(stats, evidence)}; "
            f"bar: {CI_LABEL}; black line: point estimate",
        ],
    )
    fit_titles(fig)
    return fig


def poi_figure(table: pd.DataFrame, evidence: Evidence) -> Figure:
    poi = table[table["statistic"] == "P(improvement)"]
    envs = list(dict.fromkeys(poi["env"]))
    suite = evidence.suite
    size = (6.5 * max(1, len(envs)), 1.8 + 0.6 * max(2, poi["versus"].nunique()))
    fig, axes = plt.subplots(1, max(1, len(envs)), figsize=size, squeeze=False)
    if not envs:
        _no_data(axes[0, 0], f"no probability of improvement: needs {REFERENCE_METHOD} and another method with per-seed\nfinal scores on every map of an env family")
    for ax, env in zip(axes.flat, envs):
        part = poi[poi["env"] == env].reset_index(drop=True)
        for i, r in part.iterrows():
            ax.barh(i, r["ci95_high"] - r["ci95_low"], left=r["ci95_low"], height=0.6, color="tab:blue", alpha=0.6)
            ax.plot([r["point"]] * 2, [i - 0.3, i + 0.3], color="black", lw=1.5)
            ax.plot(r["point"], i, "o", color="black", ms=5)
        ax.axvline(0.5, color="grey", ls="--", lw=1)
        ax.invert_yaxis()
        ax.set_yticks(range(len(part)), [f"P({method_name(REFERENCE_METHOD)} > {v})" for v in part["versus"]])
        ax.set_xlim(0, 1)
        ax.set_xlabel("probability of improvement")
        ax.set_title("SMAX stand-in" if env == "smax" else env_label(env), fontsize=10)
    seeds = ", ".join(sorted(set(poi["seeds_per_map"].astype(str)))) or len(suite.seeds)
    figure_title(
        fig,
        [
            f"Suite '{suite.name}' \u2014 probability that {REFERENCE_METHOD} beats each method on a map",
            f"eval: {suite.eval_mode} mode; seeds per map ({REFERENCE_METHOD} vs other): {seeds}; final score = "
            f"{evidence.final_label}; bar: {CI_LABEL}",
        ],
    )
    fit_titles(fig)
    return fig


def plot_aggregates(table: pd.DataFrame, evidence: Evidence, notes: list[str], outputs: list[Path]) -> None:
    save(aggregates_figure(table, evidence, notes), outputs)


def plot_probability_of_improvement(table: pd.DataFrame, evidence: Evidence, outputs: list[Path]) -> None:
    save(poi_figure(table, evidence), outputs)
