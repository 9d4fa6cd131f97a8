"""The low layers: the contract's names (defined once, used by marie, analysis and the workflow), errors and their
exit codes, the atomic writer and torch-free imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marie import contract
from marie.config import EVAL_MODE_DEFAULTS, PRESET_DEFAULTS
from marie.errors import EnvUnavailableError, TrainingDivergedError, UsageError, exit_status
from marie.fileio import atomic_write_bytes, atomic_write_text

REPO = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_config_contract_and_cli_import_without_torch():
    code = (
        "import sys, marie.config, marie.contract, marie.registry, marie.errors, marie.fileio, marie.runtime\n"
        "import marie.cli\n"
        "from marie.config import TrainConfig, build_config, dump_yaml\n"
        "dump_yaml(build_config('mamujoco', 'HalfCheetah', preset='quick'))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'jax' not in sys.modules, 'jax imported'\n"
    )  # fmt: skip
    result = _python(code)
    assert result.returncode == 0, result.stderr


def test_a_usage_error_loads_neither_torch_nor_the_training_loop(tmp_path):
    code = (
        "import sys\nfrom marie.cli import main\n"
        "code = main(['train', '--env', 'smax', '--env_name', '3m', '--set', 'marie.nope=1',\n"
        f"             '--out-dir', {str(tmp_path)!r}])\n"
        "assert code == 2, code\n"
        "assert 'torch' not in sys.modules and 'marie.training.loop' not in sys.modules\n"
    )  # fmt: skip
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("marie: error: unknown config key 'marie.nope'")


def test_exit_codes_are_defined_in_one_place():
    assert exit_status(UsageError("bad")) == (2, "bad")
    assert exit_status(EnvUnavailableError("no smac")) == (3, "no smac")
    assert exit_status(TrainingDivergedError("nan")) == (4, "nan")
    assert exit_status(KeyboardInterrupt())[0] == 130
    assert exit_status(ValueError("a bug")) is None and exit_status(RuntimeError("a bug")) is None
    from marie.envs.base import EnvUnavailableError as from_envs

    assert from_envs is EnvUnavailableError


@pytest.mark.parametrize("env", contract.ENV_FAMILIES)
def test_split_and_join_are_inverse_on_every_canonical_map(env):
    for map_name in contract.list_scenarios(env):
        env_name, agent_conf = contract.split_map(env, map_name)
        assert (agent_conf is not None) == (env == "mamujoco")
        assert contract.join_map(env, env_name, agent_conf) == map_name


def test_split_refuses_aliases_and_join_resolves_them(capsys):
    with pytest.raises(UsageError, match="'simple_spread_v2' is not a canonical pettingzoo map; valid: simple_v3"):
        contract.split_map("pettingzoo", "simple_spread_v2")
    assert contract.join_map("pettingzoo", "simple_spread_v2") == "simple_spread_v3"
    assert contract.join_map("mamujoco", "HalfCheetah-v2", "3x2") == "HalfCheetah-3x2"
    assert capsys.readouterr().err == ""  # join is quiet; validate_env notes the rename


def test_run_layout_round_trip_and_wildcard_pattern():
    key = contract.run_key("mamujoco", "HalfCheetah-2x3", "marie", 3)
    assert key == "mamujoco/HalfCheetah-2x3/marie/seed3"
    assert contract.parse_run_key(Path("results/runs/quick") / key) == {
        "env": "mamujoco", "map": "HalfCheetah-2x3", "algo": "marie", "seed": "3"}  # fmt: skip
    assert contract.run_key("{env}", "{map}", "{algo}", "{seed}") == "{env}/{map}/{algo}/seed{seed}"
    assert Path(key).match(contract.RUN_GLOB)
    with pytest.raises(ValueError, match="not a run directory"):
        contract.parse_run_key("smax/3m/marie/run1")


def test_every_table_keyed_by_a_contract_name_covers_exactly_its_names():
    from analysis import labels

    assert tuple(EVAL_MODE_DEFAULTS) == contract.EVAL_MODES
    assert tuple(PRESET_DEFAULTS) == contract.PRESETS
    assert set(labels.ENV_LABELS) == set(labels.PRIMARY_METRIC) == set(contract.ENV_FAMILIES)
    assert set(labels.EVAL_MODE_LABELS) == set(contract.EVAL_MODES)


def test_atomic_write_replaces_whole_files_with_ordinary_permissions(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert path.read_text() == "second"
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    with pytest.raises(TypeError):
        atomic_write_bytes(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_text() == "second" and sorted(p.name for p in path.parent.iterdir()) == ["file.txt"]


def test_resume_ignores_sections_of_other_algorithms():
    from marie.training.resume import changed_keys as _changed_keys

    old = {"run": {"steps": 10, "threads": 1}, "marie": {"a": 1}, "mappo": {"b": 1}}
    new = {"run": {"steps": 10, "threads": 2}, "marie": {"a": 1}, "mappo": {"b": 2}, "mamba": {"c": 0}}
    assert _changed_keys(old, new, "marie") == []
    assert _changed_keys(old, new, "mappo") == ["mappo.b"]
    assert _changed_keys(old, {**new, "run": {"steps": 20}}, "marie") == ["run.steps"]


def test_resume_accepts_a_run_from_before_the_heap_setting_existed():
    """run.heap_keep_mb changes no number: a run directory written before the key existed still resumes."""
    from marie.training.resume import changed_keys

    old = {"run": {"steps": 10, "threads": 1}}
    assert changed_keys(old, {"run": {"steps": 10, "threads": 1, "heap_keep_mb": 256}}, "marie") == []
    assert changed_keys({"run": {"heap_keep_mb": 0}}, {"run": {"heap_keep_mb": 256}}, "marie") == []


def test_earlier_cpu_models_are_carried_and_a_change_gets_one_note():
    from marie.training.provenance import with_earlier_cpus

    current = {"cpu_model": "B"}
    assert with_earlier_cpus(None, current) == (current, None)
    assert with_earlier_cpus({"host": "x"}, current) == (current, None)  # written before CPU models were recorded
    same, note = with_earlier_cpus({"cpu_model": "B"}, current)
    assert same["cpu_models_before"] == ["B"] and note is None
    moved, note = with_earlier_cpus({"cpu_model": "A", "cpu_models_before": ["B"]}, current)
    assert moved["cpu_models_before"] == ["B", "A"] and moved["cpu_model"] == "B"
    assert note is not None and "another CPU model (B;" in note and "on A" in note
    again, _ = with_earlier_cpus({"cpu_model": "B", "cpu_models_before": ["A", "B"]}, current)
    assert again["cpu_models_before"] == ["A", "B"]  # a start on the same model adds no entry
