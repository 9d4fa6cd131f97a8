"""Learning curves of one env family: one panel per map, env steps vs the primary eval metric, one line per
method (mean across seeds) with a stated band. Seeds evaluate at slightly different steps, so each seed's curve is
interpolated onto a common grid (never extrapolated past its last evaluation)."""

from __future__ import annotations

import math
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
    BAND_LABELS,
    BOUNDED_METRICS,
    EVAL_MODE_LABELS,
    METRIC_LABELS,
    env_label,
    figure_title,
    format_steps,
    map_label,
    primary_metric,
)
from analysis.plots import fit_titles, save  # noqa: E402


def on_grid(curve: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """One seed's (step, value) curve on the grid; NaN outside the steps it evaluated."""
    curve = curve.groupby("step", as_index=False)["value"].mean().sort_values("step")
    steps, values = curve["step"].to_numpy(float), curve["value"].to_numpy(float)
    out = np.interp(grid, steps, values)
    out[(grid < steps[0]) | (grid > steps[-1])] = np.nan
    return out


def band_curves(curves: pd.DataFrame, grid: np.ndarray, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Mean and band across seeds on the grid, where every seed has data; returns (mean, low, high, n_seeds)."""
    stacked = np.stack([on_grid(c, grid) for _, c in curves.groupby("seed")])
    complete = ~np.isnan(stacked).any(axis=0)
    stacked = np.where(complete, stacked, np.nan)
    mean = np.nanmean(stacked, axis=0) if complete.any() else np.full(grid.shape, np.nan)
    if band == "sd":
        sd = np.nanstd(stacked, axis=0, ddof=1) if len(stacked) > 1 else np.zeros(grid.shape)
        low, high = mean - sd, mean + sd
    elif band == "minmax":
        low, high = np.nanmin(stacked, axis=0), np.nanmax(stacked, axis=0)
    else:
        raise ValueError(f"unknown band {band!r}; valid: {', '.join(BAND_LABELS)}")
    return mean, low, high, len(stacked)


def curves_figure(evidence: Evidence, env: str, band: str = "sd", points: int = 100) -> Figure:
    suite = evidence.suite
    metric = primary_metric(env)
    scale = 100.0 if metric in BOUNDED_METRICS else 1.0
    maps = suite.maps(env)
    curves = evidence.curves[evidence.curves["env"] == env]
    methods = evidence.methods(env)
    palette = dict(zip(methods, sns.color_palette("colorblind", max(1, len(methods)))))
    ncols = min(4, len(maps))
    nrows = math.ceil(len(maps) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows + 1.3), squeeze=False)
    seeds_seen: dict[str, set[int]] = {}
    for ax, map_name in zip(axes.flat, maps):
        budget = suite.budget(env, map_name)
        grid = np.linspace(0, budget, points)
        for method in methods:
            mine = curves[(curves["map"] == map_name) & (curves["method"] == method)]
            if mine.empty:
                continue
            mean, low, high, n = band_curves(mine, grid, band)
            seeds_seen.setdefault(method, set()).add(n)
            ax.plot(grid, scale * mean, color=palette[method], label=f"{method} ({n} seeds)", lw=1.8)
            ax.fill_between(grid, scale * low, scale * high, color=palette[method], alpha=0.2, lw=0)
        ax.set_title(f"{map_label(env, map_name)}, budget {format_steps(budget)}", fontsize=10)
        ax.set_xlabel("env steps")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        ax.set_xlim(0, budget)
        if metric in BOUNDED_METRICS:
            ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    for ax in list(axes.flat)[len(maps):]:
        ax.set_visible(False)
    seeds = ", ".join(f"{m}: {'/'.join(map(str, sorted(n)))}" for m, n in seeds_seen.items()) or "none"
    stand_in = " (stand-in for SMAC maps; not SMAC)" if env == "smax" else ""
    figure_title(
        fig,
        [
            f"Suite '{suite.name}' \u2014 {env_label(env)}{stand_in} \u2014 learning curves",
            f"eval: {EVAL_MODE_LABELS.get(suite.eval_mode, suite.eval_mode)}; seeds per method: {seeds}; "
            f"line: mean across seeds, band: {BAND_LABELS[band]}",
        ],
    )
    fit_titles(fig)
    return fig


def plot_learning_curves(evidence: Evidence, env: str, outputs: list[Path], band: str = "sd", points: int = 100) -> None:
    save(curves_figure(evidence, env, band, points), outputs)
