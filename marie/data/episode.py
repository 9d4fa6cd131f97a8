"""The ``Episode`` type every algorithm learns from, and its collection from a vectorised env with any agent's acting
policy. Sits below the algorithms, training and bench, and needs nothing but the env interface."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from marie.envs.base import VecEnv


@dataclass
class Episode:
    """One finished episode, time-major. Step t holds what the agent acted on and what the env returned.

    obs (T,N,d): observation acted upon (all-zero "absorbing" observation for an agent already done, as the original);
    state (T,S); avail (T,N,A) bool; actions (T,N) long or (T,N,A) float (the raw sample sent to the env);
    reward (T,N); done (T,N): agent done after this step (dead, or the episode over); fake (T,N): agent was already
    done when acting. ``next_obs/next_state`` are the observation and state after the final step (for bootstrapping a
    truncated episode; the original never stores them).
    """

    obs: np.ndarray
    state: np.ndarray
    avail: np.ndarray
    actions: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    fake: np.ndarray
    next_obs: np.ndarray
    next_state: np.ndarray
    terminated: bool
    truncated: bool
    won: float  # NaN where the env has no notion of winning
    score: float  # the original's per-episode score (see ``episode_score``)

    def __len__(self) -> int:
        return self.obs.shape[0]

    @property
    def team_return(self) -> float:
        """Sum over time of the reward averaged over agents (the original's ``returns``)."""
        return float(self.reward.mean(axis=1).sum())


class ActingAgent(Protocol):
    def begin_episodes(self, num_envs: int) -> None: ...

    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray: ...


def collect_episodes(env: VecEnv, agent: ActingAgent, seeds: Sequence[int], mode: str) -> list[Episode]:
    """Run one episode in every env copy (seeded ``seeds[i]``) and return the finished ones in copy order.

    A copy that goes inactive without an end (a simulator crash and restart) is dropped with a warning."""
    spec = env.spec
    reset = env.reset(seeds)
    n_envs = env.num_envs
    agent.begin_episodes(n_envs)
    obs, state, avail = reset.obs, reset.state, reset.avail
    agent_done = np.zeros((n_envs, spec.n_agents), dtype=bool)
    buffers: list[dict[str, list]] = [
        {k: [] for k in ("obs", "state", "avail", "actions", "reward", "done", "fake")} for _ in range(n_envs)
    ]
    finished: list[Episode | None] = [None] * n_envs
    dropped = np.zeros(n_envs, dtype=bool)  # episodes a simulator crash discarded (SMAC restarts SC2)
    score_sum = np.zeros(n_envs, dtype=np.float64)
    while any(ep is None and not drop for ep, drop in zip(finished, dropped)):
        acting_obs = np.where(agent_done[..., None], 0.0, obs).astype(np.float32)
        actions = agent.act(acting_obs, avail, mode)
        step = env.step(actions)
        for i in range(n_envs):
            if finished[i] is not None or dropped[i]:
                continue
            if not step.active[i]:
                dropped[i] = True
                print(f"warning: env copy {i} discarded its episode (simulator restart)", file=sys.stderr)
                continue
            buf = buffers[i]
            over = bool(step.terminated[i] or step.truncated[i])
            done_now = step.agent_done[i] | over
            buf["obs"].append(acting_obs[i])
            buf["state"].append(state[i])
            buf["avail"].append(avail[i])
            buf["actions"].append(actions[i])
            buf["reward"].append(step.reward[i])
            buf["done"].append(done_now)
            buf["fake"].append(agent_done[i].copy())
            score_sum[i] += float(step.score[i])
            if over:
                finished[i] = _finish(buf, step, i, score_sum[i], spec.has_win, spec.env == "football")
        agent_done = agent_done | step.agent_done
        obs, state, avail = step.obs, step.state, step.avail
    return [ep for ep in finished if ep is not None]


def _finish(buf: dict[str, list], step, i: int, score_sum: float, has_win: bool, summed_score: bool) -> Episode:
    arrays = {k: np.stack(v) for k, v in buf.items()}
    won = float(step.won[i]) if has_win else float("nan")
    reward = arrays["reward"].astype(np.float32)
    if has_win and not np.isnan(won):
        score = won
    elif summed_score:
        score = score_sum  # GRF: summed score_reward of agent 0
    else:
        score = float(reward.mean())  # MPE / MAMuJoCo: mean per-step reward, as the original's worker score
    return Episode(
        obs=arrays["obs"].astype(np.float32),
        state=arrays["state"].astype(np.float32),
        avail=arrays["avail"].astype(bool),
        actions=arrays["actions"],
        reward=reward,
        done=arrays["done"].astype(bool),
        fake=arrays["fake"].astype(bool),
        next_obs=np.asarray(step.obs[i], dtype=np.float32),
        next_state=np.asarray(step.state[i], dtype=np.float32),
        terminated=bool(step.terminated[i]),
        truncated=bool(step.truncated[i] and not step.terminated[i]),
        won=won,
        score=score,
    )
