"""Google Research Football (gfootball 2.10), one copy per object; runs where gfootball is built (containers/football).

As the original's wrapper (whose gfootball import was commented out, spec §8.5): ``create_environment`` with
``representation="simple115v2"``, ``rewards="scoring,checkpoints"`` and N controlled players from the
scenario table in ``marie.contract.FOOTBALL_AGENTS`` (for ``academy_run_to_score*`` the original controls the
right team; we keep that). The reward of agent 0 is copied to every agent; all 19 actions are always available.

We call the raw env's ``reset``/``step`` ourselves and accept both the old gym 4-tuple and the 5-tuple API, so no
particular gym version is needed beyond what gfootball imports itself.

- ``obs``: each controlled player's simple115v2 vector; ``state``: all players' vectors concatenated (N*115).
- ``score``: ``info["score_reward"]`` per step (the original's episode score is its sum).
- ``won`` at the end: 1 if the controlled team scored in the episode (summed score reward > 0), else 0.
- ``truncated``: the episode reached the scenario's ``game_duration`` (400 steps in the academy scenarios);
  ending on a goal, ball out of play or lost possession is ``terminated``.
- Seeding: each reset writes the seed into gfootball's ``game_engine_random_seed`` config value.

NOT run on the machine this was written on (gfootball absent there): the code follows gfootball 2.10's API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from marie.contract import FOOTBALL_AGENTS
from marie.envs.base import EnvSpec, EnvUnavailableError
from marie.envs.procvec import CopyStep, SingleCopyEnv

ACADEMY_GAME_DURATION = 400
RIGHT_TEAM_SCENARIOS = ("academy_run_to_score", "academy_run_to_score_with_keeper")


def _import_gfootball():
    try:
        import gfootball.env as football_env
    except ImportError as exc:
        raise EnvUnavailableError(
            f"Google Research Football is not installed here ({exc}): run inside the football container "
            "(containers/football) or build gfootball==2.10.2 from source (see docs)"
        ) from None
    return football_env


def _old_api_reset(result):
    """gym<0.26 returns obs; newer wrappers return (obs, info)."""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        return result[0]
    return result


def _old_api_step(result):
    """-> (obs, reward, done, info) from a 4- or 5-tuple step result."""
    if len(result) == 5:
        obs, reward, terminated, truncated, info = result
        return obs, reward, bool(terminated or truncated), info
    return result


class FootballEnv(SingleCopyEnv):
    """One GRF academy scenario as a single-copy ``VecEnv``."""

    def __init__(self, map_name: str, episode_limit: int = ACADEMY_GAME_DURATION) -> None:
        super().__init__()
        football_env = _import_gfootball()
        n = FOOTBALL_AGENTS[map_name]
        left, right = (0, n) if map_name in RIGHT_TEAM_SCENARIOS else (n, 0)
        self._env = football_env.create_environment(
            env_name=map_name,
            representation="simple115v2",
            rewards="scoring,checkpoints",
            stacked=False,
            number_of_left_players_agent_controls=left,
            number_of_right_players_agent_controls=right,
            write_goal_dumps=False,
            write_full_episode_dumps=False,
            render=False,
            dump_frequency=1,
            logdir="",
            other_config_options={},
        )
        obs_dim = int(self._env.observation_space.shape[-1])
        n_actions = int(np.asarray(self._env.action_space.nvec).ravel()[0]) if n > 1 else int(self._env.action_space.n)
        self.spec = EnvSpec(
            env="football",
            map_name=map_name,
            n_agents=n,
            obs_dim=obs_dim,
            state_dim=n * obs_dim,
            n_actions=n_actions,
            discrete=True,
            episode_limit=episode_limit,
            has_win=True,
            has_avail=False,
        )
        self._avail = np.ones((n, n_actions), dtype=bool)
        self._steps = 0
        self._scored = 0.0

    def _as_obs(self, raw) -> tuple[np.ndarray, np.ndarray]:
        obs = np.asarray(raw, dtype=np.float32).reshape(self.spec.n_agents, self.spec.obs_dim)
        return obs, obs.ravel()

    def _reset(self, seed: int):
        config = getattr(self._env.unwrapped, "_config", None)
        if config is not None:
            config["game_engine_random_seed"] = int(seed) % 2**31
        obs, state = self._as_obs(_old_api_reset(self._env.reset()))
        self._steps, self._scored = 0, 0.0
        return obs, state, self._avail

    def _step(self, action: np.ndarray) -> CopyStep:
        action = np.asarray(action).astype(np.int64).reshape(self.spec.n_agents)
        env_action = action.tolist() if self.spec.n_agents > 1 else int(action[0])
        raw_obs, reward, done, info = _old_api_step(self._env.step(env_action))
        self._steps += 1
        score = float(info.get("score_reward", 0.0))
        self._scored += score
        obs, state = self._as_obs(raw_obs)
        truncated = bool(done) and self._steps >= self.spec.episode_limit
        return CopyStep(
            obs=obs,
            state=state,
            avail=self._avail,
            reward=np.full(self.spec.n_agents, float(np.asarray(reward, dtype=np.float32).ravel()[0])),
            agent_done=np.full(self.spec.n_agents, bool(done)),
            terminated=bool(done) and not truncated,
            truncated=truncated,
            won=float(self._scored > 0),
            score=score,
        )

    def versions(self) -> dict[str, str]:
        try:
            return {"gfootball": version("gfootball")}
        except PackageNotFoundError:
            return {"gfootball": "unknown"}

    def close(self) -> None:
        self._env.close()
