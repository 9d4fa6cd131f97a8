"""Suites that must stay copies of another apart from named keys."""

from __future__ import annotations

from analysis.suite import load_suite


def test_heldout_suite_is_the_quick_suite_on_other_seeds():
    quick, heldout = load_suite("quick"), load_suite("quick_heldout")
    assert not set(quick.seeds) & set(heldout.seeds)
    strip = lambda runs: sorted((r.env, r.map, r.algo, r.steps) for r in runs)  # noqa: E731
    assert strip(quick.runs) == strip(heldout.runs)
    assert (quick.preset, quick.eval_mode, quick.algos) == (heldout.preset, heldout.eval_mode, heldout.algos)
