"""The algorithm registry: built-ins and entry-point algorithms, each with its own typed config section."""

from __future__ import annotations

import importlib.metadata

import pytest
import yaml

from marie import registry
from marie.config import build_config, dump_yaml, train_config_class
from marie.contract import ENV_FAMILIES, PRESETS
from marie.errors import UsageError
from tests.conftest import has_module


def _entry(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=registry.ENTRY_POINT_GROUP)


@pytest.fixture
def installed(monkeypatch):
    """Pretend other packages registered algorithms through the entry point; forget them afterwards."""

    def install(*entries: importlib.metadata.EntryPoint) -> None:
        monkeypatch.setattr(registry, "_entry_points", lambda: list(entries))
        registry.refresh()

    yield install
    monkeypatch.undo()
    registry.refresh()


def test_builtins_have_sections_and_consistent_tables():
    assert registry.names()[:2] == ("marie", "mappo")
    fields = [f.name for f in train_config_class().__dataclass_fields__.values()]
    assert fields[:5] == ["env", "run", "eval", "marie", "mappo"]
    for spec in registry.specs().values():
        assert set(spec.env_defaults) <= set(ENV_FAMILIES), spec.name
        assert set(spec.presets) <= set(PRESETS), spec.name
        assert all(p in PRESETS and e in ENV_FAMILIES for p, e in spec.preset_env), spec.name


def test_an_entry_point_algorithm_gets_its_own_section(installed):
    installed(_entry("toyalgo", "tests.harness.toy_algorithm:ALGORITHM"))
    cfg = build_config("pettingzoo", "simple_spread_v3", preset="smoke", flags={"run.algo": "toyalgo"},
                       overrides=["toyalgo.alpha=3.5"])  # fmt: skip
    assert (cfg.toyalgo.alpha, cfg.toyalgo.beta, cfg.toyalgo.width) == (3.5, 1, 3)  # --set, preset_env, preset
    assert build_config("pettingzoo", "simple_spread_v3").toyalgo.alpha == 2.0  # its per-env default
    assert build_config("smax", "3m").toyalgo.alpha == 1.0
    assert cfg.marie.tokenizer.kind == "bins" and cfg.mappo.hidden == 32  # the other sections resolve as before
    assert yaml.safe_load(dump_yaml(cfg))["toyalgo"] == {"alpha": 3.5, "beta": 1, "width": 3}
    with pytest.raises(UsageError, match="'gamma' is not in toyalgo; valid: alpha, beta, width"):
        build_config("smax", "3m", overrides=["toyalgo.gamma=1"])


def test_a_legacy_bare_factory_still_registers_without_a_section(installed):
    installed(_entry("legacyalgo", "tests.harness.toy_algorithm:make"))
    assert registry.spec("legacyalgo").config is None
    assert registry.factory("legacyalgo").__name__ == "make"
    cfg = build_config("smax", "3m", flags={"run.algo": "legacyalgo"})
    assert "legacyalgo" not in yaml.safe_load(dump_yaml(cfg))


def test_entry_points_cannot_replace_a_builtin_or_take_a_generic_section(installed):
    installed(_entry("marie", "tests.harness.toy_algorithm:make"))
    assert registry.spec("marie").factory == "marie.algos.marie.agent:make"
    installed(_entry("eval", "tests.harness.toy_algorithm:make"))
    with pytest.raises(UsageError, match="'eval' is taken by a config section"):
        registry.specs()


def test_unknown_algo_names_the_choices():
    with pytest.raises(UsageError, match="unknown --algo 'qmix'; valid choices: marie, mappo"):
        registry.spec("qmix")


@pytest.mark.skipif(not has_module("mpe2"), reason="mpe2 not installed")
def test_an_entry_point_algorithm_trains_and_records_its_section(installed, tmp_path):
    from marie.training.loop import train

    installed(_entry("toyalgo", "tests.harness.toy_algorithm:ALGORITHM"))
    cfg = build_config("pettingzoo", "simple_spread_v3", preset="smoke",
                       flags={"run.algo": "toyalgo", "run.steps": 60, "run.progress": "none"},
                       overrides=["toyalgo.beta=5"])  # fmt: skip
    assert train(cfg, tmp_path, ["train"]) == 0
    resolved = yaml.safe_load((tmp_path / "config.resolved.yaml").read_text())
    assert resolved["toyalgo"] == {"alpha": 2.0, "beta": 5, "width": 3} and resolved["run"]["algo"] == "toyalgo"
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert any(",toyalgo,1," in row and "eval/return" in row for row in rows)
    assert any("toyalgo/episodes" in row for row in rows)
