"""The names that cross the run-directory contract, defined once (docs/architecture.md, "Run directory").

``marie`` (training writes run directories), ``analysis`` (reads them) and the Snakemake rules (lay them out) all
take these from here: environment families and their canonical scenario names (with the old aliases the original
used), the split of a map name into the ``--env_name``/``--agent_conf`` pair and back, presets, evaluation modes,
the metrics.csv columns and eval metric names, the run directory's file names and its layout
``<env>/<map>/<algo>/seed<k>``.

Plain data and string functions only: no torch, no simulator, no other marie module except the errors.
"""

from __future__ import annotations

import re
import sys
from pathlib import PurePath

from marie.errors import UsageError

ENV_FAMILIES = ("starcraft", "smax", "football", "pettingzoo", "mamujoco")
PRESETS = ("paper", "quick", "smoke")  # paper: the published sizes; quick: the CPU suite; smoke: tests
EVAL_MODES = ("paper", "standard")  # paper: 10 sampled episodes every 500 steps; standard: 32 greedy episodes

# --- run directory ----------------------------------------------------------------------------------------------
CONFIG_FILE = "config.resolved.yaml"
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FILE = "checkpoints/latest.pt"
COMPLETED_FILE = "COMPLETED"
LOCK_FILE = ".lock"  # flock of the process writing the run (gone when it ends)
WANDB_ID_FILE = "wandb_run_id"  # the wandb run this run logs to, resumed after a restart
METRIC_COLUMNS = ("env", "map", "algo", "seed", "step", "metric", "value", "n_episodes", "eval_mode")
RUN_KEYS = ("env", "map", "algo", "seed")
RUN_LAYOUT = "{env}/{map}/{algo}/seed{seed}"  # a run directory below a suite's root
RUN_GLOB = "*/*/*/seed*"  # RUN_LAYOUT as a glob pattern

# Eval rows of metrics.csv (they carry n_episodes and eval_mode; other rows leave both empty).
EVAL_PREFIX = "eval/"
EVAL_WIN_RATE = "eval/win_rate"  # SMAC/SMAX only
EVAL_RETURN = "eval/return"  # mean over episodes of the per-agent-averaged episode return
EVAL_SCORE = "eval/score"  # the original's eval_win_rate: won (SMAC/SMAX), mean step reward (MPE/MuJoCo), GRF score
EVAL_EPISODE_LENGTH = "eval/episode_length"


def run_key(env: str, map_name: str, algo: str, seed: int | str) -> str:
    """The relative path of one run directory, e.g. ``smax/3m/marie/seed1``. With the placeholders
    ``("{env}", "{map}", "{algo}", "{seed}")`` it is the Snakemake wildcard pattern of the same layout."""
    return RUN_LAYOUT.format(env=env, map=map_name, algo=algo, seed=seed)


def parse_run_key(path: str | PurePath) -> dict[str, str]:
    """The run keys a run directory's path states (its last four parts); ``seed`` as written, without ``seed``."""
    parts = PurePath(path).parts[-4:]
    if len(parts) < 4 or not parts[3].startswith("seed"):
        raise ValueError(f"{path}: not a run directory laid out as {RUN_LAYOUT}")
    env, map_name, algo, seed_dir = parts
    return {"env": env, "map": map_name, "algo": algo, "seed": seed_dir.removeprefix("seed")}


# --- environment families and their scenarios --------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------------------------
# SMAX (JaxMARL 0.2.0). Unit type ids: marine 0, marauder 1, stalker 2, zealot 3, zergling 4, hydralisk 5.
SMAX_BUILTIN_MAPS = (
    "3m", "2s3z", "25m", "3s5z", "8m", "5m_vs_6m", "10m_vs_11m", "27m_vs_30m", "3s5z_vs_3s6z", "3s_vs_5z",
    "6h_vs_8z", "smacv2_5_units", "smacv2_10_units", "smacv2_20_units",
)  # fmt: skip
# SMAC maps whose units SMAX has, built from SMAC's unit lists: (ally unit ids, enemy unit ids).
SMAX_CUSTOM_UNITS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "2m_vs_1z": ((0, 0), (3,)),
    "3s_vs_3z": ((2, 2, 2), (3, 3, 3)),
    "3s_vs_4z": ((2, 2, 2), (3, 3, 3, 3)),
    # SMAC's corridor is 6 zealots vs 24 zerglings in a walled corridor; SMAX has the units but no terrain.
    "corridor_noterrain": ((3,) * 6, (4,) * 24),
}
SMAX_REFUSED = {
    "MMM": "needs medivacs, which SMAX does not have",
    "MMM2": "needs medivacs, which SMAX does not have",
    "1c3s5z": "needs a colossus, which SMAX does not have",
    "2c_vs_64zg": "needs colossi and cliff terrain, which SMAX does not have",
    "so_many_baneling": "needs banelings, which SMAX does not have",
    "bane_vs_bane": "needs banelings, which SMAX does not have",
    "2s_vs_1sc": "needs a spine crawler, which SMAX does not have",
    "corridor": "needs the corridor terrain, which SMAX does not have; use corridor_noterrain (same units, open map)",
}
SMAX_MAPS = SMAX_BUILTIN_MAPS + tuple(SMAX_CUSTOM_UNITS)

# ---------------------------------------------------------------------------------------------------------------
# SMAC (oxwhirl, StarCraft II): the maps of smac/env/starcraft2/maps/smac_maps.py.
SMAC_MAPS = (
    "3m", "8m", "25m", "5m_vs_6m", "8m_vs_9m", "10m_vs_11m", "27m_vs_30m", "MMM", "MMM2", "2s3z", "3s5z",
    "3s5z_vs_3s6z", "3s_vs_3z", "3s_vs_4z", "3s_vs_5z", "1c3s5z", "2m_vs_1z", "corridor", "6h_vs_8z",
    "2s_vs_1sc", "so_many_baneling", "bane_vs_bane", "2c_vs_64zg",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------------------------
# MPE through mpe2 (PettingZoo 1.27 removed pettingzoo.mpe). Old PettingZoo names used by the original map here.
MPE_SCENARIOS = (
    "simple_v3", "simple_adversary_v3", "simple_crypto_v3", "simple_push_v3", "simple_reference_v3",
    "simple_speaker_listener_v4", "simple_spread_v3", "simple_tag_v3", "simple_world_comm_v3",
    "simple_formation_v1", "simple_line_v1", "collect_treasure_v1",
)  # fmt: skip
MPE_OLD_NAMES = {
    "simple_v2": "simple_v3",
    "simple_adversary_v2": "simple_adversary_v3",
    "simple_crypto_v2": "simple_crypto_v3",
    "simple_push_v2": "simple_push_v3",
    "simple_reference_v2": "simple_reference_v3",
    "simple_speaker_listener_v3": "simple_speaker_listener_v4",
    "simple_spread_v2": "simple_spread_v3",
    "simple_tag_v2": "simple_tag_v3",
    "simple_world_comm_v2": "simple_world_comm_v3",
}

# ---------------------------------------------------------------------------------------------------------------
# MAMuJoCo (gymnasium-robotics 1.4.2, MuJoCo v5 tasks): agent_conf partitions the library defines per task,
# plus HalfCheetah 3x2 (a paper scenario the library lacks), which marie.envs.mamujoco builds itself.
MAMUJOCO_CONFS: dict[str, tuple[str, ...]] = {
    "HalfCheetah": ("2x3", "3x2", "6x1"),
    "Ant": ("2x4", "2x4d", "4x2"),
    "Hopper": ("3x1",),
    "Walker2d": ("2x3",),
    "Humanoid": ("9|8",),
    "HumanoidStandup": ("9|8",),
    "Reacher": ("2x1",),
    "Swimmer": ("2x1",),
    "Pusher": ("3p",),
}
# MAMuJoCo observation modes (``env.obs``; marie/envs/mamujoco.py): MARIE's z-scored global state with agent id, the
# raw global state with agent id, the library's per-agent local observation.
MAMUJOCO_OBS_MODES = ("marie", "state", "local")

# ---------------------------------------------------------------------------------------------------------------
# Google Research Football: number of controlled players per scenario (the original's table).
FOOTBALL_AGENTS = {
    "academy_pass_and_shoot_with_keeper": 2,
    "academy_run_pass_and_shoot_with_keeper": 2,
    "academy_3_vs_1_with_keeper": 3,
    "academy_counterattack_easy": 4,
    "academy_counterattack_hard": 4,
    "academy_corner": 11,
    "academy_single_goal_versus_lazy": 11,
    "academy_empty_goal_close": 3,
    "academy_empty_goal": 3,
    "academy_run_to_score": 3,
    "academy_run_to_score_with_keeper": 3,
}


def _choices(values) -> str:
    return ", ".join(values)


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _mujoco_task(env_name: str) -> str:
    """'HalfCheetah-v2' -> 'HalfCheetah' (the library only has the v5 tasks)."""
    match = re.fullmatch(r"(\w+?)-v(\d+)", env_name)
    return match.group(1) if match else env_name


def list_scenarios(env: str) -> list[str]:
    """The scenario names ``validate_env`` accepts for a family (canonical names; old aliases left out)."""
    if env == "smax":
        return list(SMAX_MAPS)
    if env == "starcraft":
        return list(SMAC_MAPS)
    if env == "pettingzoo":
        return list(MPE_SCENARIOS)
    if env == "mamujoco":
        return [f"{task}-{conf}" for task, confs in MAMUJOCO_CONFS.items() for conf in confs]
    if env == "football":
        return list(FOOTBALL_AGENTS)
    raise UsageError(f"unknown env {env!r}; valid: {_choices(ENV_FAMILIES)}")


def validate_env(env: str, env_name: str, agent_conf: str | None = None, *, quiet: bool = False) -> str:
    """Check a family/scenario/agent_conf triple against static tables and return the canonical map name.

    Raises ``UsageError`` with one line naming the bad value and the valid choices. Old names (MPE ``*_v2``,
    MuJoCo ``*-v2``) are accepted with a one-line note on stderr unless ``quiet``.
    """
    if env not in ENV_FAMILIES:
        raise UsageError(f"unknown env {env!r}; valid: {_choices(ENV_FAMILIES)}")
    if env != "mamujoco" and agent_conf is not None:
        raise UsageError(f"agent_conf {agent_conf!r} only applies to env mamujoco, not {env!r}")
    if env == "smax":
        if env_name in SMAX_REFUSED:
            raise UsageError(f"SMAX cannot express map {env_name!r}: {SMAX_REFUSED[env_name]}")
        if env_name not in SMAX_MAPS:
            raise UsageError(f"unknown SMAX map {env_name!r}; valid: {_choices(SMAX_MAPS)}")
        return env_name
    if env == "starcraft":
        if env_name not in SMAC_MAPS:
            raise UsageError(f"unknown SMAC map {env_name!r}; valid: {_choices(SMAC_MAPS)}")
        return env_name
    if env == "pettingzoo":
        if env_name in MPE_OLD_NAMES:
            new = MPE_OLD_NAMES[env_name]
            if not quiet:
                _note(f"MPE scenario {env_name} is called {new} in mpe2; using {new}")
            return new
        if env_name not in MPE_SCENARIOS:
            raise UsageError(f"unknown MPE scenario {env_name!r}; valid: {_choices(MPE_SCENARIOS)}")
        return env_name
    if env == "mamujoco":
        task, _, conf = env_name.partition("-")
        if task in MAMUJOCO_CONFS and conf in MAMUJOCO_CONFS[task] and agent_conf in (None, conf):
            return env_name  # already canonical, e.g. "HalfCheetah-2x3" from list_scenarios
        task = _mujoco_task(env_name)
        if task not in MAMUJOCO_CONFS:
            raise UsageError(f"unknown MAMuJoCo task {env_name!r}; valid: {_choices(MAMUJOCO_CONFS)}")
        if task != env_name and not quiet:
            _note(f"MuJoCo task {env_name} is only available as the v5 task here; using {task}-v5")
        if agent_conf is None:
            raise UsageError(f"MAMuJoCo needs agent_conf for {task}; valid: {_choices(MAMUJOCO_CONFS[task])}")
        if agent_conf not in MAMUJOCO_CONFS[task]:
            raise UsageError(f"unknown agent_conf {agent_conf!r} for {task}; valid: {_choices(MAMUJOCO_CONFS[task])}")
        return f"{task}-{agent_conf}"
    # football
    if env_name not in FOOTBALL_AGENTS:
        raise UsageError(f"unknown football scenario {env_name!r}; valid: {_choices(FOOTBALL_AGENTS)}")
    return env_name


def split_map(env: str, map_name: str) -> tuple[str, str | None]:
    """A canonical map name -> the ``(--env_name, --agent_conf)`` pair that ``marie train`` takes for it."""
    if map_name not in list_scenarios(env):
        raise UsageError(f"{map_name!r} is not a canonical {env} map; valid: {_choices(list_scenarios(env))}")
    if env == "mamujoco":
        task, agent_conf = map_name.rsplit("-", 1)
        return task, agent_conf
    return map_name, None


def join_map(env: str, env_name: str, agent_conf: str | None = None) -> str:
    """The inverse of ``split_map``: the canonical map name of an ``--env_name``/``--agent_conf`` pair (old names
    resolved silently; ``validate_env`` is the same with a note about them)."""
    return validate_env(env, env_name, agent_conf, quiet=True)

