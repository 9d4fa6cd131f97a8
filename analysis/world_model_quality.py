"""World-model quality on held-out data, for the reproduction report.

Once per training round a MARIE run scores its world model on the env steps collected since the previous round,
before training on them, and logs `world_model_holdout/...` in its metrics.csv. This module reduces those rows
to one line per (env, map, algo): the mean over seeds of each run's mean over its last rounds.
"""

from __future__ import annotations

import math

import pandas as pd

from analysis.io import markdown_table
from analysis.labels import env_label, method_name
from analysis.suite import Suite

HOLDOUT = "world_model_holdout/"
# The logged quality measures, in the units a reader expects (the holdout losses are not comparable across envs).
QUALITY = ("obs_accuracy", "reward_mae", "reward_mae_median", "continuation_accuracy")
QUALITY_METRICS = [HOLDOUT + name for name in QUALITY]
LAST_ROUNDS = 5
# A held-out reward MAE at least this share of the median's MAE: the world model has not learned the reward.
NOT_LEARNED = 0.9
# Round boundaries and the training episodes, for the per-step reward shown beside the MAE.
CONTEXT = ("marie/round", "train/return", "train/episode_length")
COLUMNS = ["env", "map", "algo", "n_seeds", "rounds", *QUALITY, "reward_per_step"]


def _run_summary(run: pd.DataFrame) -> dict[str, float]:
    """Means over the last LAST_ROUNDS held-out measurements of one run, and the per-step reward of their data."""
    measured = run[run["metric"].isin(QUALITY_METRICS)]
    last = sorted(set(measured["step"]))[-LAST_ROUNDS:]  # one held-out measurement per round, at the round's step
    recent = measured[measured["step"].isin(last)]
    out = {name: float(recent.loc[recent["metric"] == HOLDOUT + name, "value"].mean()) for name in QUALITY}
    out["rounds"] = len(last)
    # Those rounds were scored on the steps collected after the round before them, up to the last one: the
    # training episodes that ended in (previous round, last round]. Without any logged earlier round (and no
    # `marie/round` rows to show there was none) the window's start is unknown, so the reward is left out.
    rounds = run[run["metric"] == "marie/round"]
    before = [s for s in sorted(set(rounds["step"]) | set(measured["step"])) if s < last[0]]
    out["reward_per_step"] = math.nan
    if before or not rounds.empty:
        window = run[(run["step"] > (before[-1] if before else -1)) & (run["step"] <= last[-1])]
        returns = window.loc[window["metric"] == "train/return", "value"]
        lengths = window.loc[window["metric"] == "train/episode_length", "value"]
        # sum of returns / sum of lengths = mean over steps; only where every episode logged both
        if len(returns) and len(returns) == len(lengths) and lengths.sum() > 0:
            out["reward_per_step"] = float(returns.sum() / lengths.sum())
    return out


def world_model_quality(metrics: pd.DataFrame, suite: Suite | None = None) -> pd.DataFrame:
    """One row per (env, map, algo) with held-out world-model metrics (COLUMNS); empty if no run logs them.

    `metrics` is a tidy table (env, map, algo, seed, step, metric, value). With a suite, only its runs count.
    The reward MAE is logged in the env's reward units (the agent undoes `marie.reward_scale` itself).
    """
    if suite is not None:
        keys = {(r.env, r.map, r.algo, r.seed) for r in suite.runs}
        run_keys = zip(metrics["env"], metrics["map"], metrics["algo"], metrics["seed"].astype(int))
        metrics = metrics[pd.Series([k in keys for k in run_keys], index=metrics.index, dtype=bool)]
    # Only the rows a summary reads, grouped once per run (a suite's table holds a row per training episode).
    used = metrics[metrics["metric"].str.startswith(HOLDOUT) | metrics["metric"].isin(CONTEXT)]
    per_seed: dict[tuple, list[dict[str, float]]] = {}
    if suite is not None:  # rows in the suite's order, like the rest of the report
        per_seed = {(r.env, r.map, r.algo): [] for r in suite.runs}
    for (env, map_name, algo, seed), run in used.groupby(["env", "map", "algo", "seed"], sort=True):
        if run["metric"].isin(QUALITY_METRICS).any():
            per_seed.setdefault((env, map_name, algo), []).append(_run_summary(run))
    rows = []
    for (env, map_name, algo), summaries in per_seed.items():
        if not summaries:
            continue
        seeds = pd.DataFrame(summaries)
        means = seeds[[*QUALITY, "reward_per_step"]].mean()  # skips a seed only where it lacks that metric
        counts = {"n_seeds": len(seeds), "rounds": int(seeds["rounds"].min())}
        rows.append({"env": env, "map": map_name, "algo": algo, **counts, **means})
    return pd.DataFrame(rows, columns=COLUMNS)


def _number(value: float, fmt: str) -> str:
    return "n/a" if pd.isna(value) else format(value, fmt)


def world_model_quality_section(metrics: pd.DataFrame | None, suite: Suite | None = None) -> list[str]:
    """The report's 'World-model quality' section as Markdown lines (a one-line note when there is nothing)."""
    lines = ["## World-model quality (held-out data)", ""]
    if metrics is None:
        return lines + ["No collected metrics table was given (`--metrics`), so world-model quality is not shown.", ""]
    table = world_model_quality(metrics, suite)
    if table.empty:
        return lines + ["No run of this suite logs held-out world-model metrics (`world_model_holdout/...`).", ""]
    shown = pd.DataFrame(
        {
            "env": table["env"].map(env_label),
            "map": table["map"],
            "method": table["algo"].map(method_name),
            "seeds": table["n_seeds"],
            "rounds per seed": table["rounds"],
            "next-token accuracy (%)": [_number(100 * v, ".1f") for v in table["obs_accuracy"]],
            "reward MAE": [_number(v, ".4g") for v in table["reward_mae"]],
            "reward MAE of the median": [_number(v, ".4g") for v in table["reward_mae_median"]],
            "continuation accuracy (%)": [_number(100 * v, ".1f") for v in table["continuation_accuracy"]],
            "mean per-step reward (train episodes)": [_number(v, ".4g") for v in table["reward_per_step"]],
        }
    )
    if table["reward_per_step"].isna().all():  # not computable from the logged metrics: leave it out
        shown = shown.drop(columns=["mean per-step reward (train episodes)"])
    if table["reward_mae_median"].isna().all():  # runs from before the baseline was logged
        shown = shown.drop(columns=["reward MAE of the median"])
    lines += [
        "Once per training round the world model is scored on the env steps collected since the previous round, "
        "before it trains on them: these numbers are measured on data the model was not trained on. Each number is "
        f"the mean over seeds of each run's mean over its last {LAST_ROUNDS} rounds with a held-out measurement "
        "(fewer where a run has fewer; *rounds per seed* gives the smallest count). *Next-token accuracy*: share of "
        "next observation tokens (the tokenizer's codes) predicted by argmax. *Reward MAE*: mean absolute error of "
        "the predicted per-agent reward, in the env's reward units. *Continuation accuracy*: share of agent-steps "
        "whose episode-continues flag is predicted correctly.",
        "",
    ]
    if "reward MAE of the median" in shown.columns:
        lines += [
            "*Reward MAE of the median* is the same error for the best constant guess, each batch's median reward: "
            "a reward MAE near it means the world model has not learned the reward, so imagination gives the "
            "policy little reward signal.",
            "",
        ]
        flat = table[table["reward_mae"] >= NOT_LEARNED * table["reward_mae_median"]]
        if not flat.empty:
            names = [f"{env_label(r.env)} {r.map} ({method_name(r.algo)})" for r in flat.itertuples()]
            lines += [
                f"**Reward not learned**: on {', '.join(names)} the reward MAE is at least {NOT_LEARNED:.0%} of the "
                "median's.",
                "",
            ]
    if "mean per-step reward (train episodes)" in shown.columns:
        lines += [
            "For scale, *mean per-step reward (train episodes)* is the env reward averaged over agents and over the "
            "steps of the training episodes collected in those same rounds (sum of `train/return` / sum of "
            "`train/episode_length`). It is a signed mean, not a mean absolute reward (which the logged metrics "
            "cannot give), so positive and negative rewards may cancel in it.",
            "",
        ]
    if (table["env"] == "smax").any():
        lines += [f"SMAX rows are {env_label('smax')} stand-ins: SMAX is not SMAC, and these are not SMAC numbers.", ""]
    return lines + [markdown_table(shown)]
