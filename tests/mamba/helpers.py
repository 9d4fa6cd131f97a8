"""Tiny MAMBA configs, specs and fake episodes for the unit tests."""

from __future__ import annotations

import types

import numpy as np

from marie.algos.mamba.config import PRESETS, MambaConfig
from marie.config import set_dotted
from marie.envs.base import EnvSpec
from marie.data.episode import Episode

SMAX_LIKE = EnvSpec("smax", "3m", n_agents=3, obs_dim=7, state_dim=12, n_actions=5, discrete=True,
                    episode_limit=30, has_win=True, has_avail=True)  # fmt: skip
MUJOCO_LIKE = EnvSpec("mamujoco", "HalfCheetah-2x3", n_agents=2, obs_dim=6, state_dim=10, n_actions=3,
                      discrete=False, episode_limit=30, has_win=False, has_avail=False)  # fmt: skip


def smoke_config(**overrides) -> MambaConfig:
    cfg = MambaConfig()
    for key, value in (PRESETS["smoke"] | overrides).items():
        set_dotted(cfg, key, value)
    return cfg


def train_config(mamba: MambaConfig) -> types.SimpleNamespace:
    """The agent reads only the ``mamba`` section of the run config."""
    return types.SimpleNamespace(mamba=mamba)


def fake_episode(spec: EnvSpec, length: int, rng: np.random.Generator, terminated: bool = True) -> Episode:
    n, d, a = spec.n_agents, spec.obs_dim, spec.n_actions
    done = np.zeros((length, n), bool)
    done[-1] = True
    fake = np.zeros((length, n), bool)
    if length > 3:  # agent 0 dies two steps before the end
        done[length - 3, 0] = True
        fake[length - 2 :, 0] = True
    avail = rng.random((length, n, a)) < 0.7
    avail[..., 0] = True
    if spec.discrete:
        actions = np.stack([[rng.choice(np.flatnonzero(avail[t, i])) for i in range(n)] for t in range(length)])
    else:
        actions = rng.normal(size=(length, n, a)).astype(np.float32)
    return Episode(
        obs=rng.normal(size=(length, n, d)).astype(np.float32), state=np.zeros((length, spec.state_dim), np.float32),
        avail=avail, actions=actions, reward=np.repeat(rng.random((length, 1)), n, 1).astype(np.float32),
        done=done, fake=fake, next_obs=np.zeros((n, d), np.float32), next_state=np.zeros(spec.state_dim, np.float32),
        terminated=terminated, truncated=not terminated, won=float("nan"), score=0.0,
    )  # fmt: skip
