"""MPE adapter (mpe2): team reward, padding, clipping, truncation at 25, seeding, process vectorisation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("mpe2", reason="mpe2 not installed")

from marie.envs import make_env  # noqa: E402
from marie.envs.mpe import MPEEnv  # noqa: E402
from marie.envs.procvec import EnvFactory, ProcVecEnv, SerialVecEnv  # noqa: E402


def rollout(env, seeds, n_steps, seed=0):
    rng = np.random.default_rng(seed)
    first = env.reset(seeds)
    shape = (env.num_envs, env.spec.n_agents, env.spec.n_actions)
    outs = [env.step(rng.normal(0.5, 1.0, size=shape).astype(np.float32)) for _ in range(n_steps)]
    return first, outs


def test_simple_spread_spec_and_episode():
    env = make_env("pettingzoo", "simple_spread_v3")
    spec = env.spec
    assert (spec.n_agents, spec.obs_dim, spec.state_dim, spec.n_actions) == (3, 18, 54, 5)
    assert not spec.discrete and not spec.has_avail and (spec.action_low, spec.action_high) == (0.0, 1.0)
    assert spec.episode_limit == 25
    first, outs = rollout(env, [3], 27)
    assert first.obs.shape == (1, 3, 18) and first.obs.dtype == np.float32 and first.avail.all()
    np.testing.assert_array_equal(first.state[0], first.obs[0].ravel())
    for t, out in enumerate(outs[:25]):
        assert out.active[0]
        assert out.truncated[0] == (t == 24) and not out.terminated[0]
        assert (out.reward[0] == out.reward[0, 0]).all()
    assert out.agent_done.all() and np.isnan(outs[24].won).all()
    for out in outs[25:]:  # over: frozen, inactive, silent
        assert not out.active[0] and (out.reward == 0).all() and not out.truncated[0]
        np.testing.assert_array_equal(out.obs, outs[24].obs)
    env.close()


def test_reward_is_the_sum_over_agents_and_actions_are_clipped():
    from mpe2 import simple_spread_v3

    env = MPEEnv("simple_spread_v3")
    raw = simple_spread_v3.parallel_env(continuous_actions=True, max_cycles=25)
    env.reset([7])
    raw.reset(seed=7)
    rng = np.random.default_rng(1)
    for _ in range(5):
        action = rng.normal(0.5, 1.5, size=(1, 3, 5)).astype(np.float32)  # often outside [0, 1]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # our clipping means mpe2 never has to warn
            out = env.step(action)
        _, rewards, _, _, _ = raw.step({a: np.clip(action[0, i], 0, 1) for i, a in enumerate(raw.possible_agents)})
        assert out.reward[0, 0] == pytest.approx(sum(rewards.values()), rel=1e-6)


def test_heterogeneous_scenario_is_padded():
    env = make_env("pettingzoo", "simple_speaker_listener_v4")
    assert (env.spec.n_agents, env.spec.obs_dim, env.spec.n_actions) == (2, 11, 5)
    first, outs = rollout(env, [0], 3)
    assert (first.obs[0, 0, 3:] == 0).all() and (first.obs[0, 0, :3] != 0).any()  # speaker: 3 real numbers
    assert outs[-1].obs.shape == (1, 2, 11)


def test_old_name_is_mapped_with_a_note(capsys):
    env = make_env("pettingzoo", "simple_spread_v2")
    assert env.spec.map_name == "simple_spread_v3"
    assert "simple_spread_v3" in capsys.readouterr().err


def test_seeding_and_short_time_limit():
    env = make_env("pettingzoo", "simple_spread_v3", episode_limit=4)
    a_first, a = rollout(env, [11], 4)
    b_first, b = rollout(env, [11], 4)
    c_first, _ = rollout(env, [12], 1)
    np.testing.assert_array_equal(a_first.obs, b_first.obs)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.reward, y.reward)
    assert not np.array_equal(a_first.obs, c_first.obs)
    assert a[3].truncated[0] and not a[2].truncated[0]


def test_process_and_serial_vectorisation_equal_single_copies():
    seeds = [21, 22, 23]
    singles = [MPEEnv("simple_spread_v3") for _ in seeds]
    expected = [rollout(env, [s], 26, seed=5 + i) for i, (env, s) in enumerate(zip(singles, seeds))]

    def check(vec):
        rngs = [np.random.default_rng(5 + i) for i in range(3)]
        first = vec.reset(seeds)
        for i in range(3):
            np.testing.assert_array_equal(first.obs[i], expected[i][0].obs[0])
        for t in range(26):
            action = np.stack([rng.normal(0.5, 1.0, size=(3, 5)).astype(np.float32) for rng in rngs])
            out = vec.step(action)
            for i in range(3):
                ref = expected[i][1][t]
                np.testing.assert_array_equal(out.obs[i], ref.obs[0])
                np.testing.assert_array_equal(out.reward[i], ref.reward[0])
                assert out.truncated[i] == ref.truncated[0] and out.active[i] == ref.active[0]

    factories = [EnvFactory(MPEEnv, "simple_spread_v3", {})] * 3
    serial = SerialVecEnv(factories)
    check(serial)
    serial.close()
    procs = ProcVecEnv(factories, num_workers=2)  # copies {0} and {1, 2}
    workers = list(procs._procs)
    try:
        assert procs.spec == singles[0].spec and procs._blocks == [(0, 1), (1, 3)]
        check(procs)
    finally:
        procs.close()
    assert len(workers) == 2 and not any(p.is_alive() for p in workers)
