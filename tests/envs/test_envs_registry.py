"""Registry: lazy imports, static name tables (checked against the libraries), one-line usage errors."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from marie import contract
from marie.envs import EnvUnavailableError, list_scenarios, make_env, validate_env
from marie.errors import UsageError


def _one_line_error(*args, **kwargs) -> str:
    with pytest.raises(UsageError) as info:
        validate_env(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_import_marie_envs_imports_no_simulator():
    code = (
        "import sys, marie.envs; "
        "heavy = [m for m in ('jax', 'torch', 'mujoco', 'gfootball', 'smac', 'jaxmarl', 'mpe2', 'gymnasium_robotics')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_env_families_and_canonical_names():
    assert contract.ENV_FAMILIES == ("starcraft", "smax", "football", "pettingzoo", "mamujoco")
    assert validate_env("smax", "3m") == "3m"
    assert validate_env("smax", "corridor_noterrain") == "corridor_noterrain"
    assert validate_env("starcraft", "corridor") == "corridor"
    assert validate_env("pettingzoo", "simple_spread_v3") == "simple_spread_v3"
    assert validate_env("mamujoco", "HalfCheetah", "2x3") == "HalfCheetah-2x3"
    for family in contract.ENV_FAMILIES:  # every listed scenario is accepted as it is listed
        for name in list_scenarios(family):
            assert validate_env(family, name) == name
    assert validate_env("football", "academy_3_vs_1_with_keeper") == "academy_3_vs_1_with_keeper"


def test_unknown_env_lists_families():
    message = _one_line_error("smac", "3m")
    assert "'smac'" in message and all(f in message for f in contract.ENV_FAMILIES)


def test_unknown_smax_map_lists_smax_maps():
    message = _one_line_error("smax", "4m")
    assert "'4m'" in message and "3s_vs_5z" in message and "2m_vs_1z" in message


@pytest.mark.parametrize(
    "map_name", ["MMM", "MMM2", "1c3s5z", "2c_vs_64zg", "so_many_baneling", "2s_vs_1sc", "bane_vs_bane"]
)
def test_unexpressible_smax_maps_are_refused_with_reason(map_name):
    message = _one_line_error("smax", map_name)
    assert map_name in message and "SMAX does not have" in message


def test_corridor_points_to_noterrain():
    assert "corridor_noterrain" in _one_line_error("smax", "corridor")


def test_bad_agent_conf():
    assert "2x4" in _one_line_error("mamujoco", "HalfCheetah", "2x4")  # names the bad value; lists 2x3, 3x2, 6x1
    assert "2x3" in _one_line_error("mamujoco", "HalfCheetah", None)
    assert "agent_conf" in _one_line_error("smax", "3m", "2x3")
    assert "Cheetah" in _one_line_error("mamujoco", "Cheetah", "2x3")


def test_old_names_map_with_a_note(capsys):
    assert validate_env("pettingzoo", "simple_spread_v2") == "simple_spread_v3"
    assert validate_env("pettingzoo", "simple_speaker_listener_v3") == "simple_speaker_listener_v4"
    assert validate_env("mamujoco", "HalfCheetah-v2", "3x2") == "HalfCheetah-3x2"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "simple_spread_v3" in err[0] and "v5" in err[2]
    assert validate_env("pettingzoo", "simple_spread_v2", quiet=True) == "simple_spread_v3"
    assert capsys.readouterr().err == ""


def test_list_scenarios():
    assert "3m" in list_scenarios("smax") and "MMM" not in list_scenarios("smax")
    assert "MMM" in list_scenarios("starcraft")
    assert "HalfCheetah-3x2" in list_scenarios("mamujoco")
    assert "simple_spread_v3" in list_scenarios("pettingzoo")
    with pytest.raises(UsageError):
        list_scenarios("flatland")


def test_make_env_rejects_bad_num_envs_before_importing():
    with pytest.raises(UsageError, match="num_envs"):
        make_env("smax", "3m", num_envs=0)


def test_smax_table_matches_jaxmarl():
    pytest.importorskip("jaxmarl", reason="jaxmarl not installed")
    from marie.envs.smax import map_name_to_scenario  # noqa: F401  (import through the adapter: quiet import)
    from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO

    assert set(contract.SMAX_BUILTIN_MAPS) == set(MAP_NAME_TO_SCENARIO)
    assert not set(contract.SMAX_CUSTOM_UNITS) & set(MAP_NAME_TO_SCENARIO)


def test_mpe_table_matches_mpe2():
    mpe2_modules = pytest.importorskip("mpe2.all_modules", reason="mpe2 not installed")
    assert {k.split("/")[1] for k in mpe2_modules.mpe_environments} == set(contract.MPE_SCENARIOS)
    assert set(contract.MPE_OLD_NAMES.values()) <= set(contract.MPE_SCENARIOS)


def test_mamujoco_table_matches_library():
    pytest.importorskip("gymnasium_robotics", reason="gymnasium-robotics not installed")
    from marie.envs.mamujoco import OWN_PARTITIONS, _import_mamujoco

    _, obsk = _import_mamujoco()
    for task, confs in contract.MAMUJOCO_CONFS.items():
        for conf in confs:
            if (task, conf) in OWN_PARTITIONS:  # ours because the library lacks it
                with pytest.raises(Exception, match="UNKNOWN partitioning"):
                    obsk.get_parts_and_edges(task, conf)
            else:
                parts, _, _ = obsk.get_parts_and_edges(task, conf)
                assert len(parts) >= 2, (task, conf)
        with pytest.raises(Exception, match="UNKNOWN partitioning"):
            obsk.get_parts_and_edges(task, "7x7")


@pytest.mark.skipif(importlib.util.find_spec("gfootball") is not None, reason="gfootball is installed here")
def test_missing_gfootball_is_one_clear_line():
    with pytest.raises(EnvUnavailableError) as info:
        make_env("football", "academy_3_vs_1_with_keeper")
    assert "\n" not in str(info.value) and "football container" in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("smac") is not None, reason="a smac package is installed here")
def test_missing_smac_is_one_clear_line():
    with pytest.raises(EnvUnavailableError) as info:
        make_env("starcraft", "3m")
    assert "\n" not in str(info.value) and "smac container" in str(info.value)


def test_auto_vectorisation_choice():
    pytest.importorskip("mpe2", reason="mpe2 not installed")
    vec = make_env("pettingzoo", "simple_spread_v3", num_envs=2)  # cheap steps: serial in this process
    assert type(vec).__name__ == "SerialVecEnv" and vec.num_envs == 2
    vec.close()
    with pytest.raises(UsageError, match="vectorize"):
        make_env("pettingzoo", "simple_spread_v3", num_envs=2, vectorize="threads")
