"""The episode collector against a scripted two-copy env: absorbing obs, fake flags, done, truncation, drops."""

import numpy as np

from marie.envs.base import EnvSpec, Reset, Step
from marie.data.episode import collect_episodes

SPEC = EnvSpec("smax", "fake", n_agents=2, obs_dim=3, state_dim=4, n_actions=2, discrete=True, episode_limit=3,
               has_win=True, has_avail=True)  # fmt: skip


class ScriptedEnv:
    """Copy 0: agent 1 dies at step 0, the episode is won at step 1. Copy 1: runs to the time limit (3 steps).
    With ``crash=True`` copy 1 goes inactive at step 1 without an end (a simulator restart)."""

    spec, num_envs = SPEC, 2

    def __init__(self, crash=False):
        self.crash = crash

    def reset(self, seeds):
        self.t = 0
        return Reset(np.ones((2, 2, 3), np.float32), np.zeros((2, 4), np.float32), np.ones((2, 2, 2), bool))

    def step(self, actions):
        t = self.t
        self.t += 1
        agent_done = np.zeros((2, 2), bool)
        agent_done[0, 1] = True
        term = np.array([t == 1, False])
        trunc = np.array([False, t == 2 and not self.crash])
        active = np.array([t <= 1, t <= 2 and not (self.crash and t >= 1)])
        won = np.array([1.0 if t == 1 else np.nan, np.nan], np.float32)
        obs = np.full((2, 2, 3), t + 2, np.float32)
        return Step(obs, np.zeros((2, 4), np.float32), np.ones((2, 2, 2), bool), np.full((2, 2), 0.5, np.float32),
                    agent_done, term, trunc, won, np.zeros(2, np.float32), active)  # fmt: skip


class ZeroAgent:
    def begin_episodes(self, n):
        self.seen = []

    def act(self, obs, avail, mode):
        self.seen.append(obs.copy())
        return np.zeros(obs.shape[:2], np.int64)


def test_collector_records_deaths_terminations_and_truncations():
    agent = ZeroAgent()
    won, limit = collect_episodes(ScriptedEnv(), agent, [1, 2], "collect")
    assert len(won) == 2 and won.terminated and not won.truncated and won.won == 1.0 and won.score == 1.0
    assert np.all(won.obs[1, 1] == 0) and np.all(won.obs[1, 0] == 2)  # dead agent acts on an all-zero observation
    assert won.fake.tolist() == [[False, False], [False, True]]
    assert won.done.tolist() == [[False, True], [True, True]]
    assert len(limit) == 3 and limit.truncated and not limit.terminated
    assert limit.done[-1].all() and not limit.done[:-1].any()
    assert np.isclose(limit.team_return, 1.5) and limit.next_obs[0, 0] == 4


def test_collector_drops_an_episode_lost_to_a_simulator_restart(capsys):
    episodes = collect_episodes(ScriptedEnv(crash=True), ZeroAgent(), [1, 2], "collect")
    assert len(episodes) == 1 and episodes[0].won == 1.0
    assert "discarded" in capsys.readouterr().err
