"""Suites that must stay copies of another apart from named keys."""

from __future__ import annotations

import pytest

from analysis.suite import ConfigError, load_suite


def test_heldout_suite_is_the_quick_suite_on_other_seeds():
    quick, heldout = load_suite("quick"), load_suite("quick_heldout")
    assert not set(quick.seeds) & set(heldout.seeds)
    strip = lambda runs: sorted((r.env, r.map, r.algo, r.steps) for r in runs)  # noqa: E731
    assert strip(quick.runs) == strip(heldout.runs)
    assert (quick.preset, quick.eval_mode, quick.algos) == (heldout.preset, heldout.eval_mode, heldout.algos)


BASE = """description: base
preset: quick
seeds: [1, 2]
algos: {mappo: {}}
maps:
  - {env: smax, map: 3m, steps: 1000}
"""


def test_extends_starts_from_the_named_suite_and_replaces_whole_keys(tmp_path):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "child.yaml").write_text("description: child\nextends: base\nseeds: [5]\n")
    child = load_suite(tmp_path / "child.yaml")
    assert child.seeds == (5,) and child.description == "child" and child.preset == "quick"
    assert [(r.map, r.seed) for r in child.runs] == [("3m", 5)]
    assert child.files == (tmp_path / "child.yaml", tmp_path / "base.yaml")


def test_extends_names_an_unknown_suite_or_a_cycle_in_one_line(tmp_path):
    (tmp_path / "child.yaml").write_text("description: child\nextends: nothere\n")
    (tmp_path / "base.yaml").write_text(BASE)
    with pytest.raises(ConfigError, match=r"child.yaml: extends: unknown suite 'nothere'; valid suites: base, child"):
        load_suite(tmp_path / "child.yaml")
    (tmp_path / "a.yaml").write_text("description: a\nextends: b\n")
    (tmp_path / "b.yaml").write_text("description: b\nextends: a\n")
    with pytest.raises(ConfigError, match=r"b.yaml: extends: 'a' makes a cycle \(a -> b -> a\)"):
        load_suite(tmp_path / "a.yaml")
