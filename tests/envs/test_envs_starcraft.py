"""SMAC adapter driven by a fake SMAC: deaths, ends, wins, invalid actions, crash-restart, process vectorisation."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # fake_smac, also for spawned workers (they inherit sys.path)

from fake_smac import CrashingFactory, FakeStarCraft2Env  # noqa: E402

from marie.envs import make_env  # noqa: E402
from marie.envs.starcraft import StarCraftEnv  # noqa: E402


def spread_attack(avail: np.ndarray) -> np.ndarray:
    """Agent i attacks enemy i when it can (action 6 + i), else the first attackable enemy, else stops (1) or
    takes the no-op (0) when dead."""
    n_agents = avail.shape[-2]
    own = 6 + np.arange(n_agents)
    can_own = np.take_along_axis(avail, np.broadcast_to(own[:, None], avail.shape[:-1] + (1,)), -1)[..., 0]
    attacks = avail[..., 6:]
    fallback = np.where(attacks.any(-1), 6 + attacks.argmax(-1), np.where(avail[..., 1], 1, 0))
    return np.where(can_own, own, fallback)


def play(env, seeds, n_steps=20, policy=spread_attack):
    first = env.reset(seeds)
    outs, avail = [], first.avail
    for _ in range(n_steps):
        out = env.step(policy(avail))
        outs.append(out)
        avail = out.avail
    return first, outs


def test_spec_shapes_and_a_won_episode():
    env = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    spec = env.spec
    assert (spec.env, spec.map_name, spec.n_agents, spec.n_actions, spec.episode_limit) == ("starcraft", "3m", 3, 9, 12)
    assert (spec.obs_dim, spec.state_dim) == (25, 24) and spec.discrete and spec.has_avail and spec.has_win
    first, outs = play(env, [0])
    assert first.obs.shape == (1, 3, 25) and first.state.shape == (1, 24) and first.avail.shape == (1, 3, 9)
    ends = [t for t, o in enumerate(outs) if o.terminated[0] or o.truncated[0]]
    assert len(ends) == 1
    end = outs[ends[0]]
    # each enemy loses 0.25 health per step: all dead on step 4 unless allies died first (seed 0: none do)
    assert ends[0] == 3 and end.terminated[0] and end.won[0] == 1.0 and end.agent_done.all()
    assert all(np.isnan(o.won[0]) for o in outs[:3])
    assert (end.reward[0] == end.reward[0, 0]).all() and end.reward[0, 0] > 20
    assert not outs[ends[0] + 1].active[0]
    assert env.versions()["smac_env"].endswith("FakeStarCraft2Env")


def test_time_limit_is_truncation_and_dead_agents_are_done():
    env = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    stop = lambda avail: np.where(avail[..., 1], 1, 0)  # noqa: E731  (stop when alive, no-op when dead)
    _, outs = play(env, [3], n_steps=13, policy=stop)
    ends = [t for t, o in enumerate(outs) if o.terminated[0] or o.truncated[0]]
    last = outs[ends[0]]
    if last.truncated[0]:
        assert ends[0] == 11 and last.won[0] == 0.0
    dead_seen = False
    for out in outs[: ends[0]]:
        dead = out.agent_done[0]
        if dead.any():
            dead_seen = True
            assert (out.avail[0, dead] == np.eye(9, dtype=bool)[0]).all()  # a dead agent: no-op only
            assert (out.obs[0, dead] == 0).all()
    assert dead_seen and any(o.truncated[0] for o in outs)


def test_invalid_action_is_a_value_error_not_a_crash():
    env = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    env.reset([0])
    with pytest.raises(ValueError, match="agent 0 cannot take action 0"):
        env.step(np.zeros((1, 3), dtype=np.int64))  # no-op is only for the dead
    assert env.discarded_episodes == 0


def test_crash_restarts_and_discards_the_episode(capsys):
    env = StarCraftEnv("3m", env_factory=CrashingFactory(crash_at_step=2))
    env.reset([5])
    before = FakeStarCraft2Env.instances
    stop = np.ones((1, 3), dtype=np.int64)
    assert env.step(stop).active[0]
    crashed = env.step(stop)
    assert not crashed.active[0] and not crashed.terminated[0] and not crashed.truncated[0]
    assert env.discarded[0] and env.discarded_episodes == 1
    assert FakeStarCraft2Env.instances == before + 1  # a fresh SC2
    assert "restarting" in capsys.readouterr().err
    assert not env.step(stop).active[0]
    env.reset([6])  # the next episode runs on the new instance
    assert not env.discarded[0]
    _, outs = play(env, [7], n_steps=5)
    assert outs[0].active[0] and env.discarded_episodes == 1


def test_seed_is_used_at_launch():
    a = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    b = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    c = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    ra, rb, rc = a.reset([1]), b.reset([1]), c.reset([2])
    np.testing.assert_array_equal(ra.state, rb.state)
    assert not np.array_equal(ra.state, rc.state)
    assert a._sc2.seed == 1


def test_process_vectorisation_and_discard_flags():
    factory = CrashingFactory(crash_at_step=3)  # each worker gets its own copy: both crash once
    vec = make_env("starcraft", "3m", num_envs=2, env_factory=factory)
    assert type(vec).__name__ == "ProcVecEnv"  # SC2 is slow: auto picks worker processes
    singles = [StarCraftEnv("3m", env_factory=FakeStarCraft2Env) for _ in range(2)]
    try:
        first = vec.reset([1, 2])
        refs = [s.reset([seed]) for s, seed in zip(singles, [1, 2])]
        np.testing.assert_array_equal(first.obs, np.concatenate([r.obs for r in refs]))
        stop = np.ones((2, 3), dtype=np.int64)
        for _ in range(2):
            out = vec.step(stop)
            ref = [s.step(stop[:1]) for s in singles]
            np.testing.assert_array_equal(out.state, np.concatenate([r.state for r in ref]))
        assert not vec.discarded.any()
        out = vec.step(stop)
        assert not out.active.any() and vec.discarded.all() and vec.discarded_episodes == 2
        vec.reset([3, 4])
        assert not vec.discarded.any()
    finally:
        vec.close()
