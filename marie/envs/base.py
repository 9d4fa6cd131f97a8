"""The one environment interface every adapter implements.

All adapters are *vectorised*: they hold ``num_envs`` copies of one scenario and take/return arrays with a
leading env axis ``B``. There is **no auto-reset**: the collector runs exactly one episode per env copy
between two ``reset`` calls (as the original MARIE runs one episode per worker per dispatch). Once an env
copy's episode is over, further ``step`` calls leave it untouched and return its last values with
``active=False``; the collector ignores those rows.

Shapes (N agents, d obs dim, S state dim, A actions or action dims):
  obs (B,N,d) float32, state (B,S) float32, avail (B,N,A) bool (all True where the env has no masks),
  actions: (B,N) int64 for discrete envs, (B,N,A) float32 for continuous ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from marie.errors import EnvUnavailableError

__all__ = ["EnvSpec", "EnvUnavailableError", "Reset", "Step", "VecEnv"]  # the error is raised by every adapter


@dataclass(frozen=True)
class EnvSpec:
    """Static facts about a scenario, probed once (the original's ``get_env_info``)."""

    env: str  # family key: smax, starcraft, pettingzoo, mamujoco, football
    map_name: str  # canonical scenario name used in run keys, e.g. "3m", "simple_spread_v3", "HalfCheetah-2x3"
    n_agents: int
    obs_dim: int
    state_dim: int
    n_actions: int  # discrete: number of actions; continuous: action dimensions per agent
    discrete: bool
    episode_limit: int
    has_win: bool  # defines battle_won (SMAC/SMAX) or a GRF score
    has_avail: bool  # the env provides available-action masks
    action_low: float = -1.0  # continuous only: box bounds (original: low.min(), high.max())
    action_high: float = 1.0


@dataclass
class Reset:
    obs: np.ndarray  # (B,N,d) float32
    state: np.ndarray  # (B,S) float32
    avail: np.ndarray  # (B,N,A) bool


@dataclass
class Step:
    """Result of one vectorised step. ``obs/state/avail`` are the *next* values (the final ones when over)."""

    obs: np.ndarray  # (B,N,d)
    state: np.ndarray  # (B,S)
    avail: np.ndarray  # (B,N,A)
    reward: np.ndarray  # (B,N) float32, the team reward copied to every agent
    agent_done: np.ndarray  # (B,N) bool: agent dead (SMAX/SMAC) or episode over
    terminated: np.ndarray  # (B,) bool: true end of the episode (win, loss, fall)
    truncated: np.ndarray  # (B,) bool: time limit reached without a true end
    won: np.ndarray  # (B,) float32: 1/0 battle won at the episode end, NaN where undefined or not over
    score: np.ndarray  # (B,) float32: extra per-step score (GRF score_reward of agent 0); 0 elsewhere
    active: np.ndarray  # (B,) bool: this env copy was still running when the step was taken


class VecEnv(Protocol):
    spec: EnvSpec
    num_envs: int

    def reset(self, seeds: Sequence[int]) -> Reset:
        """Start one new episode in every env copy, copy i seeded with ``seeds[i]``."""
        ...

    def step(self, actions: np.ndarray) -> Step: ...

    def close(self) -> None: ...

    def versions(self) -> dict[str, str]:
        """Simulator package versions (and e.g. the SC2 build) for provenance.json."""
        ...

