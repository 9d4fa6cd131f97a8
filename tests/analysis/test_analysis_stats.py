"""Statistics against values computed by hand, exact enumerations of the bootstrap, scipy and rliable itself."""

import itertools

import numpy as np
import pytest
import scipy.stats
from rliable import library as rly
from rliable import metrics as rlm

from analysis import stats

# Four maps x four seeds, chosen so that the median of per-map means (rliable) differs from the median of all
# pooled scores (what the aggregates used to compute): per-map means 0.25, 0.5, 1, 1 -> median 0.75;
# pooled 16 values: five 0s, eleven 1s -> pooled median 1.
HAND = {
    "a": np.array([0.0, 0.0, 0.0, 1.0]),
    "b": np.array([0.0, 0.0, 1.0, 1.0]),
    "c": np.array([1.0, 1.0, 1.0, 1.0]),
    "d": np.array([1.0, 1.0, 1.0, 1.0]),
}


def test_aggregates_of_a_hand_made_matrix():
    # IQM: sorted 16 values = five 0s, eleven 1s; cut 4 at each end -> middle 8 = one 0 and seven 1s -> 0.875
    assert stats.aggregate_iqm(HAND) == pytest.approx(0.875)
    assert stats.aggregate_median(HAND) == pytest.approx(0.75)
    assert np.median(np.concatenate(list(HAND.values()))) == pytest.approx(1.0)  # the pooled median is not it
    assert stats.aggregate_mean(HAND) == pytest.approx((0.25 + 0.5 + 1.0 + 1.0) / 4)


def test_iqm_ignores_outliers_where_mean_does_not():
    scores = {"a": np.array([0.0, 1.0, 2.0, 100.0])}
    assert stats.aggregate_iqm(scores) == pytest.approx(1.5)
    assert stats.aggregate_mean(scores) == pytest.approx(25.75)


def test_unequal_seed_counts_within_a_method():
    """Ragged: median and mean weigh maps equally (per-map means), IQM pools the runs."""
    ragged = {"a": np.array([0.0, 0.2]), "b": np.array([1.0, 1.0, 1.0, 1.0, 0.0]), "c": np.array([0.4])}
    means = [0.1, 0.8, 0.4]
    assert stats.aggregate_mean(ragged) == pytest.approx(np.mean(means))
    assert stats.aggregate_median(ragged) == pytest.approx(0.4)
    # pooled 8 values 0, 0, 0.2, 0.4, 1, 1, 1, 1: cut 2 each end -> 0.2, 0.4, 1, 1
    assert stats.aggregate_iqm(ragged) == pytest.approx(0.65)
    assert stats.seed_counts(ragged) == "1-5" and stats.seed_counts(HAND) == "4"


@pytest.mark.parametrize("runs_x, runs_y", [(5, 5), (3, 5), (4, 2)])
def test_aggregates_and_poi_equal_rliable(runs_x, runs_y):
    """Methods with different seed counts: each aggregate equals rliable.metrics on that method's runs x maps
    matrix, and the probability of improvement equals rliable's (which takes matrices with different run counts)."""
    rng = np.random.default_rng(runs_x * 10 + runs_y)
    x = rng.uniform(size=(runs_x, 7)).round(1)  # rounding makes ties, which both count as 1/2
    y = rng.uniform(size=(runs_y, 7)).round(1)
    as_dict = lambda m: {f"map{j}": m[:, j] for j in range(m.shape[1])}  # noqa: E731
    for matrix in (x, y):
        assert stats.aggregate_iqm(matrix) == pytest.approx(rlm.aggregate_iqm(matrix))
        assert stats.aggregate_iqm(as_dict(matrix)) == pytest.approx(rlm.aggregate_iqm(matrix))
        assert stats.aggregate_median(as_dict(matrix)) == pytest.approx(rlm.aggregate_median(matrix))
        assert stats.aggregate_mean(as_dict(matrix)) == pytest.approx(rlm.aggregate_mean(matrix))
    assert stats.probability_of_improvement(as_dict(x), as_dict(y)) == pytest.approx(
        rlm.probability_of_improvement(x, y)
    )


def test_probability_of_improvement_counts_ties_as_half():
    # pairs: 1>0 (1), 1<2 (0), 2>0 (1), 2=2 (0.5) -> 2.5 / 4
    assert stats.prob_improvement_one(np.array([1, 2]), np.array([0, 2])) == pytest.approx(0.625)


def test_probability_of_improvement_averages_over_maps():
    x = {"a": np.array([1.0, 1.0]), "b": np.array([0.0, 0.0])}
    y = {"a": np.array([0.0, 0.0]), "b": np.array([0.0, 0.0])}
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same maps"):
        stats.probability_of_improvement(x, {"a": y["a"]})


def _exact_quantiles(values: np.ndarray, weights: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Inverse-CDF quantiles of a discrete distribution, checking that neither lies on a step of the CDF (where a
    Monte Carlo quantile could fall on either side)."""
    values, inverse = np.unique(np.round(values, 12), return_inverse=True)
    cdf = np.cumsum(np.bincount(inverse, weights=weights))
    out = []
    for q in (alpha / 2, 1 - alpha / 2):
        assert np.min(np.abs(cdf - q)) > 0.003, "test case too close to a CDF step; pick other values"
        out.append(float(values[np.searchsorted(cdf, q)]))
    return out[0], out[1]


def test_stratified_bootstrap_matches_exact_enumeration():
    """Two maps with 3 and 4 seeds: all 3^3 * 4^4 stratified resamples are equally likely, so the percentile
    interval of the IQM is known exactly."""
    scores = {"a": np.array([0.05, 0.3, 0.8]), "b": np.array([0.0, 0.2, 0.5, 1.0])}
    draws = []
    for ia in itertools.product(range(3), repeat=3):
        for ib in itertools.product(range(4), repeat=4):
            pooled = np.concatenate([scores["a"][list(ia)], scores["b"][list(ib)]])
            draws.append(scipy.stats.trim_mean(pooled, 0.25))
    low, high = _exact_quantiles(np.array(draws), np.full(len(draws), 1 / len(draws)))
    ci = stats.stratified_bootstrap(scores, stats.AGGREGATES["IQM"], 40000, np.random.default_rng(3))
    assert ci.point == pytest.approx(stats.aggregate_iqm(scores))
    assert (ci.low, ci.high) == pytest.approx((low, high))


def test_bootstrap_of_one_map_equals_scipy_percentile_bootstrap():
    values = np.array([0.1, 0.5, 0.9, 0.3, 0.35])
    ours = stats.stratified_bootstrap({"m": values}, stats.AGGREGATES["mean"], 40000, np.random.default_rng(1))
    theirs = scipy.stats.bootstrap(
        (values,), np.mean, method="percentile", n_resamples=40000, rng=np.random.default_rng(2)
    ).confidence_interval
    assert ours.point == pytest.approx(values.mean())
    assert ours.low == pytest.approx(theirs.low, abs=0.01) and ours.high == pytest.approx(theirs.high, abs=0.01)


def test_bootstrap_is_stratified_by_map():
    # map a is all 0, map b all 1, so every stratified resample has mean exactly 0.5
    scores = {"a": np.zeros(3), "b": np.ones(3)}
    ci = stats.stratified_bootstrap(scores, stats.AGGREGATES["mean"], 500, np.random.default_rng(0))
    assert (ci.point, ci.low, ci.high) == (0.5, 0.5, 0.5)


def test_probability_of_improvement_interval_matches_exact_enumeration():
    """One map, 3 seeds each: both methods resampled independently, 27 * 27 equally likely pairs of resamples."""
    x, y = np.array([0.2, 0.5, 0.9]), np.array([0.1, 0.4, 0.6])
    draws = [
        stats.prob_improvement_one(x[list(i)], y[list(j)])
        for i in itertools.product(range(3), repeat=3)
        for j in itertools.product(range(3), repeat=3)
    ]
    low, high = _exact_quantiles(np.array(draws), np.full(len(draws), 1 / len(draws)))
    ci = stats.probability_of_improvement_ci({"m": x}, {"m": y}, 40000, np.random.default_rng(5))
    assert ci.point == pytest.approx(6 / 9)  # 0.2 > 0.1; 0.5 > 0.1, 0.4; 0.9 > all three
    assert (ci.low, ci.high) == pytest.approx((low, high))


def test_probability_of_improvement_interval_agrees_with_rliable():
    rng = np.random.default_rng(7)
    x, y = rng.uniform(size=(4, 3)), rng.uniform(size=(3, 3)) * 0.8
    np.random.seed(0)  # rliable's bootstrap draws from numpy's global generator
    _, rl = rly.get_interval_estimates(
        {"xy": [x, y]}, lambda a, b: np.array([rlm.probability_of_improvement(a, b)]), reps=4000
    )
    as_dict = lambda m: {f"map{j}": m[:, j] for j in range(3)}  # noqa: E731
    ours = stats.probability_of_improvement_ci(as_dict(x), as_dict(y), 20000, np.random.default_rng(0))
    assert ours.low == pytest.approx(rl["xy"][0, 0], abs=0.04) and ours.high == pytest.approx(rl["xy"][1, 0], abs=0.04)


def test_t_interval_is_honest_at_small_n():
    ci = stats.t_interval(np.array([0.6, 0.8]))
    # mean 0.7, sd 0.1414, se 0.1, t(0.975, 1) = 12.706
    assert (ci.point, ci.low, ci.high) == pytest.approx((0.7, 0.7 - 1.27062, 0.7 + 1.27062), abs=1e-4)
    clipped = stats.t_interval(np.array([0.6, 0.8]), bounds=(0, 1))
    assert (clipped.low, clipped.high) == (0.0, 1.0)
    values = np.array([0.2, 0.4, 0.5, 0.9])
    low, high = scipy.stats.t.interval(0.95, 3, loc=values.mean(), scale=scipy.stats.sem(values))
    ci = stats.t_interval(values)
    assert (ci.low, ci.high) == pytest.approx((low, high))
    one = stats.t_interval(np.array([0.5]))
    assert one.point == 0.5 and np.isnan(one.low) and np.isnan(one.high)


def test_percentile_bootstrap_of_two_seeds_is_their_range():
    """Why per-map intervals do not use it: with 2 seeds the 'CI' is [min, max] (coverage 50 % for a symmetric
    distribution), while the t-interval is honest about how little 2 seeds say."""
    two = {"m": np.array([0.6, 0.8])}
    boot = stats.stratified_bootstrap(two, stats.AGGREGATES["mean"], 4000, np.random.default_rng(0))
    assert (boot.low, boot.high) == (0.6, 0.8)
    t = stats.t_interval(np.array([0.6, 0.8]))
    assert t.high - t.low > 10 * (boot.high - boot.low)


def test_rng_depends_only_on_seed_and_names():
    a = stats.rng_for(0, "smax", "MARIE").integers(0, 1000, 5)
    b = stats.rng_for(0, "smax", "MARIE").integers(0, 1000, 5)
    c = stats.rng_for(0, "smax", "MAPPO").integers(0, 1000, 5)
    assert (a == b).all() and not (a == c).all()


def test_fixed_normalisation():
    assert stats.normalise(np.array([-50.0, 0.0, 50.0]), -50, 50).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError):
        stats.normalise(np.array([1.0]), 1, 1)
