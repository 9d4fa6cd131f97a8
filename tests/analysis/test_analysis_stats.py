"""Statistics against values computed by hand."""

import numpy as np
import pytest

from analysis import stats


def test_iqm_of_eight_values_is_mean_of_middle_four():
    # sorted 1..8: the middle 50 % is 3, 4, 5, 6 -> 4.5
    assert stats.iqm(np.array([8, 1, 7, 2, 6, 3, 5, 4])) == pytest.approx(4.5)


def test_iqm_ignores_outliers_where_mean_does_not():
    values = np.array([0.0, 1.0, 2.0, 100.0])
    assert stats.iqm(values) == pytest.approx(1.5)
    assert stats.mean(values) == pytest.approx(25.75)
    assert stats.median(values) == pytest.approx(1.5)


def test_probability_of_improvement_counts_ties_as_half():
    # pairs: 1>0 (1), 1<2 (0), 2>0 (1), 2=2 (0.5) -> 2.5 / 4
    assert stats.prob_improvement_one(np.array([1, 2]), np.array([0, 2])) == pytest.approx(0.625)


def test_probability_of_improvement_averages_over_maps():
    x = {"a": np.array([1.0, 1.0]), "b": np.array([0.0, 0.0])}
    y = {"a": np.array([0.0, 0.0]), "b": np.array([0.0, 0.0])}
    assert stats.probability_of_improvement(x, y) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same maps"):
        stats.probability_of_improvement(x, {"a": y["a"]})


def test_bootstrap_is_stratified_by_map():
    # Resampling seeds within each map keeps one 0 and one 1 per draw... only if strata are respected:
    # map a is all 0, map b all 1, so every stratified resample has mean exactly 0.5.
    scores = {"a": np.zeros(3), "b": np.ones(3)}
    ci = stats.stratified_bootstrap(scores, stats.mean, 500, np.random.default_rng(0))
    assert (ci.point, ci.low, ci.high) == (0.5, 0.5, 0.5)


def test_bootstrap_interval_contains_point_and_has_width():
    values = np.array([0.1, 0.5, 0.9, 0.3])
    ci = stats.bootstrap_mean_ci(values, 2000, np.random.default_rng(1))
    assert ci.point == pytest.approx(0.45)
    assert ci.low < ci.point < ci.high
    assert 0.1 <= ci.low and ci.high <= 0.9


def test_rng_depends_only_on_seed_and_names():
    a = stats.rng_for(0, "smax", "MARIE").integers(0, 1000, 5)
    b = stats.rng_for(0, "smax", "MARIE").integers(0, 1000, 5)
    c = stats.rng_for(0, "smax", "MAPPO").integers(0, 1000, 5)
    assert (a == b).all() and not (a == c).all()


def test_fixed_normalisation():
    assert stats.normalise(np.array([-50.0, 0.0, 50.0]), -50, 50).tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError):
        stats.normalise(np.array([1.0]), 1, 1)
