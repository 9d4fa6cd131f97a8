"""A fake of the part of oxwhirl SMAC's ``StarCraft2Env`` API that marie.envs.starcraft calls.

Dynamics are a toy, but deterministic given the launch seed: allies die at random, attacks (action >= 6) hurt the
targeted enemy, the battle is won when all enemies are dead, lost when all allies are; ``episode_limit`` steps
without a decision end with ``info["episode_limit"] = True``. Like SMAC, it asserts that actions are available and
only "launches" on the first reset. ``CrashingFactory`` makes the first instance raise mid-episode, as a dying SC2
process would.
"""

from __future__ import annotations

import numpy as np

UNITS = {"3m": (3, 3), "2m_vs_1z": (2, 1), "5m_vs_6m": (5, 6)}


class FakeStarCraft2Env:
    instances = 0  # per process: lets tests see restarts

    def __init__(self, map_name="3m", continuing_episode=False, difficulty="7", seed=None, episode_limit=12,
                 crash_at_step=None):  # fmt: skip
        FakeStarCraft2Env.instances += 1
        self.n_agents, self.n_enemies = UNITS[map_name]
        self.n_actions = 6 + self.n_enemies
        self.episode_limit = episode_limit
        self.seed = seed
        self.crash_at_step = crash_at_step
        self.launched = False
        self.closed = False
        self.total_steps = 0

    def get_env_info(self):
        return {
            "state_shape": 4 * (self.n_agents + self.n_enemies),
            "obs_shape": 5 + 4 * (self.n_agents - 1 + self.n_enemies),
            "n_actions": self.n_actions,
            "n_agents": self.n_agents,
            "episode_limit": self.episode_limit,
        }

    def reset(self):
        if not self.launched:
            self.rng = np.random.default_rng(self.seed)
            self.launched = True
        self.t = 0
        self.ally_health = np.ones(self.n_agents)
        self.enemy_health = np.ones(self.n_enemies)
        self.death_tracker_ally = np.zeros(self.n_agents)
        self.noise = self.rng.normal(size=self.get_env_info()["state_shape"]).astype(np.float32)
        return self.get_obs(), self.get_state()

    def get_state(self):
        health = np.concatenate([self.ally_health, self.enemy_health])
        return (self.noise + np.repeat(health, 4) + self.t).astype(np.float32)

    def get_obs(self):
        d = self.get_env_info()["obs_shape"]
        state = self.get_state()
        return [
            np.zeros(d, np.float32) if self.ally_health[i] <= 0 else np.resize(state, d) * (i + 1)
            for i in range(self.n_agents)
        ]

    def get_avail_agent_actions(self, i):
        avail = np.zeros(self.n_actions, dtype=int)
        if self.ally_health[i] <= 0:
            avail[0] = 1  # dead: no-op only
            return avail
        avail[1:6] = 1  # stop and moves
        avail[6:] = self.enemy_health > 0
        return avail

    def get_avail_actions(self):
        return [self.get_avail_agent_actions(i) for i in range(self.n_agents)]

    def step(self, actions):
        self.total_steps += 1
        if self.crash_at_step is not None and self.total_steps >= self.crash_at_step:
            raise ConnectionError("fake SC2 process died")
        for i, a in enumerate(actions):
            assert self.get_avail_agent_actions(i)[a] == 1, f"Agent {i} cannot perform action {a}"
        damage = 0.0
        for a in actions:
            if a >= 6 and self.enemy_health[a - 6] > 0:
                hit = min(0.25, self.enemy_health[a - 6])
                self.enemy_health[a - 6] -= hit
                damage += hit
        alive = self.ally_health > 0
        killed = alive & (self.rng.random(self.n_agents) < 0.08)
        self.ally_health[killed] = 0.0
        self.death_tracker_ally[killed] = 1
        self.t += 1
        won = bool(np.all(self.enemy_health <= 0))
        lost = bool(np.all(self.ally_health <= 0))
        info = {"battle_won": won, "dead_allies": int(self.death_tracker_ally.sum())}
        terminated = won or lost
        if not terminated and self.t >= self.episode_limit:
            terminated = True
            info["episode_limit"] = True
        return 20.0 * damage / self.n_enemies + (20.0 if won else 0.0), terminated, info

    def close(self):
        self.closed = True


class CrashingFactory:
    """Builds fake SMAC envs; the first one built with a launch seed crashes at its ``crash_at_step``-th step."""

    def __init__(self, crash_at_step: int, episode_limit: int = 12) -> None:
        self.crash_at_step = crash_at_step
        self.episode_limit = episode_limit
        self.built = 0

    def __call__(self, **kwargs):
        crash = self.crash_at_step if (kwargs.get("seed") is not None and self.built == 0) else None
        if kwargs.get("seed") is not None:
            self.built += 1
        return FakeStarCraft2Env(**kwargs, episode_limit=self.episode_limit, crash_at_step=crash)
