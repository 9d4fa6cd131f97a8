"""MPE (multi-agent particle environments) through ``mpe2``, one copy per object (family key ``pettingzoo``).

Faithful to the original wrapper (spec §8.3) where that is well defined:
- PettingZoo parallel API with ``continuous_actions=True`` and ``max_cycles=25`` (the original truncated at step
  25); the time limit is reported as ``truncated``, a scenario's own end as ``terminated``.
- Reward: the SUM of all agents' rewards, copied to every agent.
- Heterogeneous scenarios (e.g. speaker/listener) are padded like SuperSuit's pad wrappers: observations are
  zero-padded at the end to the largest observation, actions to the largest action box, and each agent's action
  is cut back to its own size before the env sees it.
- Actions: the raw Gaussian sample of a policy may leave the action box. We clip to the box before the env
  (mpe2 would clip too, but with a warning per step). ``spec.action_low/high`` are agent 0's box min/max, as in
  the original.
- ``state`` is the concatenation of all agents' padded observations (N*d); the original never used a state.
- No action masks: ``avail`` is all True.
- Seeding: every reset passes its seed to ``env.reset(seed=...)`` (the original ignored seeds).
"""

from __future__ import annotations

import importlib

import numpy as np

from marie.envs.base import EnvSpec, EnvUnavailableError
from marie.envs.procvec import CopyStep, SingleCopyEnv

MAX_CYCLES = 25


def _import_scenario(map_name: str):
    try:
        return importlib.import_module(f"mpe2.{map_name}")
    except ImportError as exc:
        raise EnvUnavailableError(
            f"MPE needs mpe2, which is not importable here ({exc}): pip install 'mpe2==1.1.1' 'pettingzoo==1.27.0'"
        ) from None


class MPEEnv(SingleCopyEnv):
    """One MPE scenario (canonical mpe2 name, e.g. ``simple_spread_v3``) as a single-copy ``VecEnv``."""

    def __init__(self, map_name: str, episode_limit: int = MAX_CYCLES, **scenario_kwargs) -> None:
        super().__init__()
        module = _import_scenario(map_name)
        self._env = module.parallel_env(continuous_actions=True, max_cycles=episode_limit, **scenario_kwargs)
        self._agents = list(self._env.possible_agents)
        obs_spaces = [self._env.observation_space(a) for a in self._agents]
        self._act_spaces = [self._env.action_space(a) for a in self._agents]
        self._obs_sizes = [int(np.prod(s.shape)) for s in obs_spaces]
        self._act_sizes = [int(np.prod(s.shape)) for s in self._act_spaces]
        n = len(self._agents)
        obs_dim = max(self._obs_sizes)
        self.spec = EnvSpec(
            env="pettingzoo",
            map_name=map_name,
            n_agents=n,
            obs_dim=obs_dim,
            state_dim=n * obs_dim,
            n_actions=max(self._act_sizes),
            discrete=False,
            episode_limit=episode_limit,
            has_win=False,
            has_avail=False,
            action_low=float(self._act_spaces[0].low.min()),
            action_high=float(self._act_spaces[0].high.max()),
        )
        self._avail = np.ones((n, self.spec.n_actions), dtype=bool)

    def _pad_obs(self, obs: dict) -> np.ndarray:
        out = np.zeros((self.spec.n_agents, self.spec.obs_dim), dtype=np.float32)
        for i, agent in enumerate(self._agents):
            out[i, : self._obs_sizes[i]] = np.asarray(obs[agent], dtype=np.float32).ravel()
        return out

    def _reset(self, seed: int):
        obs, _ = self._env.reset(seed=seed)
        padded = self._pad_obs(obs)
        return padded, padded.ravel(), self._avail

    def _step(self, action: np.ndarray) -> CopyStep:
        action = np.asarray(action, dtype=np.float32).reshape(self.spec.n_agents, self.spec.n_actions)
        env_actions = {
            agent: np.clip(action[i, : self._act_sizes[i]], space.low, space.high).astype(space.dtype)
            for i, (agent, space) in enumerate(zip(self._agents, self._act_spaces))
        }
        obs, rewards, terminations, truncations, _ = self._env.step(env_actions)
        padded = self._pad_obs(obs)
        team_reward = float(sum(rewards[a] for a in self._agents))
        terminated = any(terminations[a] for a in self._agents)
        truncated = any(truncations[a] for a in self._agents)
        return CopyStep(
            obs=padded,
            state=padded.ravel(),
            avail=self._avail,
            reward=np.full(self.spec.n_agents, team_reward, dtype=np.float32),
            agent_done=np.full(self.spec.n_agents, terminated or truncated),
            terminated=terminated,
            truncated=truncated and not terminated,
        )

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"mpe2": version("mpe2"), "pettingzoo": version("pettingzoo")}

    def close(self) -> None:
        self._env.close()
