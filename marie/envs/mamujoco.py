"""Multi-agent MuJoCo through gymnasium-robotics ``mamujoco_v1`` (MuJoCo v5 tasks), one copy per object.

Observations (keyword ``obs``):
- ``"marie"`` (default, faithful to spec §8.4): every agent sees the FULL global observation ``env.state()``
  (the single-agent task's observation, 17 numbers for HalfCheetah) plus a one-hot agent id, z-scored within
  the vector, ``(v - mean(v)) / std(v)``. MARIE's MAMuJoCo is therefore fully observable (d = 19 for
  HalfCheetah 2x3).
- ``"state"`` (an opt-in deviation, ``--set env.obs=state``): the same global state and one-hot agent id,
  NOT z-scored. Z-scoring within the vector divides the velocities by a per-step spread, so the forward velocity
  (HalfCheetah's reward) survives only through the id entries' tiny gap and a lossy tokenizer loses it.
- ``"local"``: the library's k-nearest-joint observation (``agent_obsk``, default 1), zero-padded at the end to
  the largest agent's size.
``state`` is ``env.state()`` in every mode.

Actions are passed on unclipped, as the original did (the simulator clamps controls to the box; the control cost
sees the raw action); ``clip_actions=True`` clips them to the box first.

The paper's tasks were the old ``-v2`` ones (gym 0.14 / mujoco-py); only v5 exists here, so ``HalfCheetah-v2``
is accepted as ``HalfCheetah`` with a note. HalfCheetah ``3x2`` (a paper scenario) is missing from
gymnasium-robotics; we build it from the library's joint nodes with the original partition
(bfoot+bshin, bthigh+ffoot, fshin+fthigh). The time limit (``episode_limit``, default 1000) is ``truncated``;
a fall (Walker2d, Hopper, Ant) is ``terminated``. Team reward copied to every agent; no action masks.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from marie.contract import MAMUJOCO_OBS_MODES
from marie.envs.base import EnvSpec, EnvUnavailableError
from marie.envs.procvec import CopyStep, SingleCopyEnv

EPISODE_LIMIT = 1000
# partitions the library lacks, as joint-label groups over the task's finest ("6x1") partition
OWN_PARTITIONS = {("HalfCheetah", "3x2"): (("bfoot", "bshin"), ("bthigh", "ffoot"), ("fshin", "fthigh"))}


def _import_mamujoco():
    try:
        # farama-notifications prints an unrelated Adroit notice on import; keep the console clean.
        with contextlib.redirect_stderr(io.StringIO()):
            from gymnasium_robotics import mamujoco_v1
            from gymnasium_robotics.envs.multiagent_mujoco import obsk
    except ImportError as exc:
        raise EnvUnavailableError(
            f"MAMuJoCo needs gymnasium-robotics and mujoco, not importable here ({exc}): "
            "pip install 'mujoco==4.0.0' 'gymnasium-robotics==1.4.2'"
        ) from None
    return mamujoco_v1, obsk


def own_factorization(obsk, task: str, agent_conf: str) -> dict:
    """An ``agent_factorization`` for a partition of OWN_PARTITIONS, built from the library's joint graph."""
    singles, edges, globals_ = obsk.get_parts_and_edges(task, "6x1")
    node = {part[0].label: part[0] for part in singles}
    groups = OWN_PARTITIONS[(task, agent_conf)]
    return {
        "partition": [tuple(node[label] for label in group) for group in groups],
        "edges": edges,
        "globals": globals_,
    }


def state_with_id(state: np.ndarray, n_agents: int) -> np.ndarray:
    """Per agent, concat(state, one_hot(agent)) in float64: (S,) -> (N, S+N)."""
    v = np.zeros((n_agents, state.shape[0] + n_agents))
    v[:, : state.shape[0]] = state
    v[:, state.shape[0] :][np.diag_indices(n_agents)] = 1.0
    return v


def zscore_with_id(state: np.ndarray, n_agents: int) -> np.ndarray:
    """MARIE's MAMuJoCo observation: per agent, z-score(concat(state, one_hot(agent))) -> (N, S+N)."""
    v = state_with_id(state, n_agents)
    # numpy's mean and population std, spelled out as numpy computes them (the same bits, a third of the time):
    # sum / n; sqrt(sum((v - mean)^2) / n)
    centred = v - v.sum(axis=1, keepdims=True) / v.shape[1]
    std = np.sqrt(np.square(centred).sum(axis=1, keepdims=True) / v.shape[1])
    return (centred / std).astype(np.float32)


def global_action_index(env) -> np.ndarray | None:
    """(N, A) positions of each agent's action entries in the single-agent action vector, as the library's
    ``map_local_actions_to_global_action`` places them; None unless they cover every position exactly once."""
    try:
        index = np.array([[part.act_ids for part in parts] for parts in env.agent_action_partitions], dtype=np.int64)
    except (AttributeError, TypeError, ValueError):  # no partition (agent_obsk=None) or ragged / non-integer ids
        return None
    size = int(env.single_agent_env.action_space.shape[0])
    return index if np.array_equal(np.sort(index.ravel()), np.arange(size)) else None


class MaMuJoCoEnv(SingleCopyEnv):
    """One MAMuJoCo task; ``map_name`` is canonical, ``"HalfCheetah-2x3"``."""

    def __init__(
        self,
        map_name: str,
        agent_conf: str | None = None,
        obs: str = "marie",
        agent_obsk: int = 1,
        episode_limit: int = EPISODE_LIMIT,
        clip_actions: bool = False,
    ) -> None:
        super().__init__()
        if obs not in MAMUJOCO_OBS_MODES:
            raise ValueError(f"unknown MAMuJoCo obs mode {obs!r}; valid: {', '.join(MAMUJOCO_OBS_MODES)}")
        task, _, conf = map_name.partition("-")
        agent_conf = agent_conf or conf
        mamujoco_v1, obsk = _import_mamujoco()
        extra = {}
        if (task, agent_conf) in OWN_PARTITIONS:
            extra["agent_factorization"] = own_factorization(obsk, task, agent_conf)
        self._env = mamujoco_v1.parallel_env(
            task, agent_conf, agent_obsk=agent_obsk, max_episode_steps=episode_limit, **extra
        )
        self._obs_mode = obs
        self._clip = clip_actions
        self._agents = list(self._env.possible_agents)
        self._act_spaces = [self._env.action_space(a) for a in self._agents]
        act_sizes = {int(s.shape[0]) for s in self._act_spaces}
        if len(act_sizes) != 1:  # the original raised too: one shared actor needs one action size
            raise ValueError(f"MAMuJoCo {map_name}: agents have different action sizes {sorted(act_sizes)}")
        self._local_sizes = [int(self._env.observation_space(a).shape[0]) for a in self._agents]
        n = len(self._agents)
        state_dim = int(np.asarray(self._env.state()).shape[0])
        obs_dim = max(self._local_sizes) if obs == "local" else state_dim + n
        self.spec = EnvSpec(
            env="mamujoco",
            map_name=f"{task}-{agent_conf}",
            n_agents=n,
            obs_dim=obs_dim,
            state_dim=state_dim,
            n_actions=act_sizes.pop(),
            discrete=False,
            episode_limit=episode_limit,
            has_win=False,
            has_avail=False,
            action_low=float(self._act_spaces[0].low.min()),
            action_high=float(self._act_spaces[0].high.max()),
        )
        self._avail = np.ones((n, self.spec.n_actions), dtype=bool)
        # With the global-state observations the library's per-agent observations are never read, and
        # building them is ~a third of a step: step the single-agent task directly (same numbers, tested).
        self._action_index = global_action_index(self._env) if obs != "local" else None

    def _observe(self, local_obs: dict, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``state``: the task's observation when the caller has it (``env.state()`` computes the same again)."""
        state = np.asarray(self._env.state() if state is None else state, dtype=np.float64)
        if self._obs_mode == "marie":
            obs = zscore_with_id(state, self.spec.n_agents)
        elif self._obs_mode == "state":
            obs = state_with_id(state, self.spec.n_agents).astype(np.float32)
        else:
            obs = np.zeros((self.spec.n_agents, self.spec.obs_dim), dtype=np.float32)
            for i, agent in enumerate(self._agents):
                obs[i, : self._local_sizes[i]] = local_obs[agent]
        return obs, state.astype(np.float32)

    def _reset(self, seed: int):
        local_obs, _ = self._env.reset(seed=seed)
        obs, state = self._observe(local_obs)
        return obs, state, self._avail

    def _step(self, action: np.ndarray) -> CopyStep:
        action = np.asarray(action, dtype=np.float32).reshape(self.spec.n_agents, self.spec.n_actions)
        if self._clip:
            action = np.clip(action, self.spec.action_low, self.spec.action_high)
        if self._action_index is not None:
            global_action = np.empty(self._action_index.size)  # float64, as the library's
            global_action[self._action_index] = action
            task_obs, reward, terminated, truncated, _ = self._env.single_agent_env.step(global_action)
            obs, state = self._observe({}, state=task_obs)  # the task's observation is what state() returns
        else:
            local_obs, rewards, terminations, truncations, _ = self._env.step(
                {agent: action[i] for i, agent in enumerate(self._agents)}
            )
            obs, state = self._observe(local_obs)
            agent0 = self._agents[0]  # the library copies the team values to every agent
            reward, terminated, truncated = rewards[agent0], terminations[agent0], truncations[agent0]
        terminated, truncated = bool(terminated), bool(truncated)
        return CopyStep(
            obs=obs,
            state=state,
            avail=self._avail,
            reward=np.full(self.spec.n_agents, float(reward), dtype=np.float32),
            agent_done=np.full(self.spec.n_agents, terminated or truncated),
            terminated=terminated,
            truncated=truncated and not terminated,
        )

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"gymnasium-robotics": version("gymnasium-robotics"), "mujoco": version("mujoco")}

    def close(self) -> None:
        self._env.close()
