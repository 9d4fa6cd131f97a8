"""Statistics over seeds and maps, defined as rliable (Agarwal et al. 2021) defines them, with numpy/scipy only.

Scores of one method are a dict map -> 1-D array of per-seed final scores; with the same number of seeds on every
map this is rliable's (runs x maps) matrix, and every aggregate equals `rliable.metrics` on it:
- IQM: the 25 %-trimmed mean of all (map, seed) scores pooled (`scipy.stats.trim_mean`, as `aggregate_iqm`);
- median: the median over maps of each map's mean score (`aggregate_median`);
- mean: the mean over maps of each map's mean score (`aggregate_mean`).
Unequal seed counts across maps (a ragged "matrix"): median and mean still weigh every map equally (per-map means);
IQM pools the runs, so a map with more seeds weighs more in it. Different methods may have different seed counts.

Aggregate CIs come from a stratified percentile bootstrap (seeds resampled with replacement within each map), as
rliable's `StratifiedBootstrap`. With 2-4 seeds per map such intervals are too narrow (a percentile bootstrap of 2
values can only return values between them); per-map intervals therefore use Student's t instead (`t_interval`).
Each method's resampling stream is seeded from (base seed, names), so adding a method never changes another's numbers.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as sps

Scores = Mapping[str, np.ndarray]
# A statistic over maps: per-map score samples, each of shape (n_draws, n_seeds of that map) -> (n_draws,)
Statistic = Callable[[Sequence[np.ndarray]], np.ndarray]


def _iqm(per_map: Sequence[np.ndarray]) -> np.ndarray:
    return sps.trim_mean(np.concatenate(per_map, axis=1), proportiontocut=0.25, axis=1)


def _map_means(per_map: Sequence[np.ndarray]) -> np.ndarray:
    return np.stack([m.mean(axis=1) for m in per_map], axis=1)


def _median(per_map: Sequence[np.ndarray]) -> np.ndarray:
    return np.median(_map_means(per_map), axis=1)


def _mean(per_map: Sequence[np.ndarray]) -> np.ndarray:
    return _map_means(per_map).mean(axis=1)


AGGREGATES: dict[str, Statistic] = {"IQM": _iqm, "median": _median, "mean": _mean}


def _columns(scores: Scores | np.ndarray) -> list[np.ndarray]:
    """Per-map 1-D score arrays (maps in sorted order); a 2-D array is rliable's (runs x maps) matrix."""
    if isinstance(scores, np.ndarray):
        if scores.ndim != 2:
            raise ValueError(f"a score matrix is (runs x maps), got shape {scores.shape}")
        return [scores[:, j].astype(float) for j in range(scores.shape[1])]
    columns = [np.asarray(scores[m], dtype=float).ravel() for m in sorted(scores)]
    empty = [m for m, c in zip(sorted(scores), columns) if c.size == 0]
    if not columns or empty:
        raise ValueError(f"no scores for map(s) {', '.join(empty) or '(none given)'}")
    return columns


def aggregate(name: str, scores: Scores | np.ndarray) -> float:
    """One aggregate ("IQM", "median" or "mean") of a method's scores across maps."""
    return float(AGGREGATES[name]([c[None, :] for c in _columns(scores)])[0])


def aggregate_iqm(scores: Scores | np.ndarray) -> float:
    return aggregate("IQM", scores)


def aggregate_median(scores: Scores | np.ndarray) -> float:
    return aggregate("median", scores)


def aggregate_mean(scores: Scores | np.ndarray) -> float:
    return aggregate("mean", scores)


def seed_counts(scores: Scores) -> str:
    """Seeds per map as people read it: '4', or '2-5' when maps have unequal counts."""
    counts = sorted({len(np.asarray(v).ravel()) for v in scores.values()})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def rng_for(base_seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on the base seed and the given names (stable across runs and methods)."""
    return np.random.default_rng([base_seed, *(zlib.crc32(n.encode()) for n in names)])


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float


def _percentile(point: float, draws: np.ndarray, alpha: float) -> Interval:
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return Interval(float(point), float(low), float(high))


def _resample(columns: Sequence[np.ndarray], n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n_boot stratified resamples: seeds drawn with replacement within each map, shape (n_boot, n_seeds)."""
    return [c[rng.integers(0, len(c), size=(n_boot, len(c)))] for c in columns]


def stratified_bootstrap(
    scores: Scores | np.ndarray, statistic: Statistic, n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> Interval:
    """Percentile CI of statistic(scores), resampling seeds with replacement within each map (rliable's method)."""
    columns = _columns(scores)
    point = statistic([c[None, :] for c in columns])[0]
    return _percentile(point, statistic(_resample(columns, n_boot, rng)), alpha)


def t_interval(values: np.ndarray, alpha: float = 0.05, bounds: tuple[float, float] | None = None) -> Interval:
    """Mean over seeds with Student's t interval (n - 1 degrees of freedom), clipped to `bounds` if given.

    Unlike a percentile bootstrap, it widens as n shrinks (t_0.975 = 12.7 at n = 2, 4.3 at n = 3, 3.2 at n = 4).
    Clipping to the metric's range (e.g. a win rate's [0, 1]) keeps its coverage since the true mean lies there.
    With one seed there is no interval: low and high are NaN.
    """
    values = np.asarray(values, dtype=float).ravel()
    point = float(values.mean())
    if len(values) < 2:
        return Interval(point, math.nan, math.nan)
    half = float(sps.t.ppf(1 - alpha / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    low, high = point - half, point + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Interval(point, low, high)


def prob_improvement_one(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + 0.5 P(X = Y) over all pairs of runs (the Mann-Whitney U statistic divided by |X||Y|)."""
    return float(_poi_draws(np.asarray(x, dtype=float).ravel()[None], np.asarray(y, dtype=float).ravel()[None])[0])


def _poi_draws(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per draw: P(X > Y) + 0.5 P(X = Y); x is (n_draws, n_x), y is (n_draws, n_y)."""
    a, b = x[:, :, None], y[:, None, :]
    return ((a > b) + 0.5 * (a == b)).mean(axis=(1, 2))


def _check_same_maps(x: Scores, y: Scores) -> None:
    if set(x) != set(y):
        raise ValueError(f"probability of improvement needs the same maps, got {sorted(x)} and {sorted(y)}")


def probability_of_improvement(x: Scores, y: Scores) -> float:
    """Average over maps of P(X > Y) on that map (rliable's `probability_of_improvement`); seed counts may differ."""
    _check_same_maps(x, y)
    return float(np.mean([prob_improvement_one(x[m], y[m]) for m in sorted(x)]))


def probability_of_improvement_ci(
    x: Scores, y: Scores, n_boot: int, rng: np.random.Generator, alpha: float = 0.05
) -> Interval:
    """Percentile CI with both methods' seeds resampled independently within each map (rliable's
    `StratifiedIndependentBootstrap`)."""
    _check_same_maps(x, y)
    xs, ys = _columns(x), _columns(y)
    draws = np.zeros(n_boot)
    for a, b in zip(_resample(xs, n_boot, rng), _resample(ys, n_boot, rng)):
        draws += _poi_draws(a, b)
    return _percentile(probability_of_improvement(x, y), draws / len(xs), alpha)


def normalise(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fixed min-max normalisation with constants from the config (never from the data being compared)."""
    if high == low:
        raise ValueError(f"normalisation range [{low}, {high}] is empty")
    return (np.asarray(values, dtype=float) - low) / (high - low)
