"""Statistics over seeds and maps (Agarwal et al. 2021 style), with numpy/scipy only.

Scores of one method are a dict map -> 1-D array of per-seed final scores. Aggregates pool every (map, seed)
score, as rliable does; confidence intervals come from a stratified bootstrap that resamples seeds within each
map. Each method's resampling stream is seeded from (base seed, method name), so adding a method never changes
another method's numbers.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from scipy import stats as sps

Scores = Mapping[str, np.ndarray]


def iqm(values: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50 % (scipy's trim_mean with 25 % cut at each end)."""
    return float(sps.trim_mean(np.asarray(values, dtype=float).ravel(), proportiontocut=0.25))


def median(values: np.ndarray) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def mean(values: np.ndarray) -> float:
    return float(np.mean(np.asarray(values, dtype=float)))


AGGREGATES: dict[str, Callable[[np.ndarray], float]] = {"IQM": iqm, "median": median, "mean": mean}


def pooled(scores: Scores) -> np.ndarray:
    return np.concatenate([np.asarray(scores[m], dtype=float).ravel() for m in sorted(scores)])


def rng_for(base_seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the base seed and the given names (stable across runs and methods)."""
    return np.random.default_rng([base_seed, *(zlib.crc32(n.encode()) for n in names)])


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float


def stratified_bootstrap(
    scores: Scores, statistic: Callable[[np.ndarray], float], n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> Interval:
    """Percentile CI of statistic(pooled scores), resampling seeds with replacement within each map."""
    maps = sorted(scores)
    arrays = [np.asarray(scores[m], dtype=float).ravel() for m in maps]
    point = statistic(np.concatenate(arrays))
    samples = np.empty(n_boot)
    for b in range(n_boot):
        resampled = [a[rng.integers(0, len(a), size=len(a))] for a in arrays]
        samples[b] = statistic(np.concatenate(resampled))
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return Interval(point, float(low), float(high))


def bootstrap_mean_ci(values: np.ndarray, n_boot: int, rng: np.random.Generator, alpha: float = 0.05) -> Interval:
    """Percentile bootstrap CI of the mean over seeds of one map (one stratum)."""
    return stratified_bootstrap({"_": np.asarray(values, dtype=float)}, mean, n_boot, rng, alpha)


def prob_improvement_one(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of runs (the Mann-Whitney U statistic divided by |X||Y|)."""
    x = np.asarray(x, dtype=float).ravel()[:, None]
    y = np.asarray(y, dtype=float).ravel()[None, :]
    return float(np.mean((x > y) + 0.5 * (x == y)))


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """Average over maps of P(X > Y) on that map; both methods must cover the same maps."""
    if set(x) != set(y):
        raise ValueError(f"probability of improvement needs the same maps, got {sorted(x)} and {sorted(y)}")
    return float(np.mean([prob_improvement_one(x[m], y[m]) for m in sorted(x)]))


def probability_of_improvement_ci(
    x: Scores, y: Scores, n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> Interval:
    maps = sorted(x)
    point = probability_of_improvement(x, y)
    xs = [np.asarray(x[m], dtype=float).ravel() for m in maps]
    ys = [np.asarray(y[m], dtype=float).ravel() for m in maps]
    samples = np.empty(n_boot)
    for b in range(n_boot):
        vals = []
        for a, c in zip(xs, ys):
            vals.append(
                prob_improvement_one(a[rng.integers(0, len(a), size=len(a))], c[rng.integers(0, len(c), size=len(c))])
            )
        samples[b] = np.mean(vals)
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return Interval(point, float(low), float(high))


def normalise(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fixed min-max normalisation with constants from the config (never from the data being compared)."""
    if high == low:
        raise ValueError(f"normalisation range [{low}, {high}] is empty")
    return (np.asarray(values, dtype=float) - low) / (high - low)
