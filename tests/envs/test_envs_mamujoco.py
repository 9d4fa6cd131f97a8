"""MAMuJoCo adapter: MARIE's full observation, local obs, 3x2 partition, truncation vs falls, seeding, procvec."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("gymnasium_robotics", reason="gymnasium-robotics not installed")

from marie.envs import make_env  # noqa: E402


def rollout(env, seeds, n_steps, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    first = env.reset(seeds)
    shape = (env.num_envs, env.spec.n_agents, env.spec.n_actions)
    return first, [env.step((scale * rng.normal(size=shape)).astype(np.float32)) for _ in range(n_steps)]


def test_halfcheetah_marie_observation():
    env = make_env("mamujoco", "HalfCheetah", "2x3", episode_limit=10)
    spec = env.spec
    assert spec.map_name == "HalfCheetah-2x3"
    assert (spec.n_agents, spec.obs_dim, spec.state_dim, spec.n_actions) == (2, 19, 17, 3)
    assert (spec.action_low, spec.action_high) == (-1.0, 1.0) and not spec.discrete
    first, outs = rollout(env, [0], 11)
    obs = first.obs[0]
    assert obs.dtype == np.float32 and first.state.shape == (1, 17)
    np.testing.assert_allclose(obs.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(obs.std(-1), 1, atol=1e-4)
    # the rows differ only in the one-hot id, which z-scores to the largest value at the agent's own slot
    np.testing.assert_allclose(obs[0, :17], obs[1, :17], atol=1e-6)
    assert obs[0, 17] > obs[0, 18] and obs[1, 18] > obs[1, 17]
    # z-scoring is (v - mean) / std of [state, one_hot] (numpy's population std, as the original)
    v = np.concatenate([first.state[0].astype(np.float64), [1.0, 0.0]])
    np.testing.assert_allclose(obs[0], (v - v.mean()) / v.std(), atol=1e-5)
    for t, out in enumerate(outs[:10]):
        assert out.truncated[0] == (t == 9) and not out.terminated[0]
        assert out.reward[0, 0] == out.reward[0, 1] != 0
    assert not outs[10].active[0]


def test_local_observation_mode():
    env = make_env("mamujoco", "HalfCheetah", "2x3", obs="local")
    from gymnasium_robotics import mamujoco_v1

    raw = mamujoco_v1.parallel_env("HalfCheetah", "2x3", agent_obsk=1)
    raw_obs, _ = raw.reset(seed=4)
    first = env.reset([4])
    assert env.spec.obs_dim == max(raw.observation_space(a).shape[0] for a in raw.possible_agents)
    np.testing.assert_allclose(first.obs[0, 0], raw_obs["agent_0"], rtol=1e-6)


def test_halfcheetah_3x2_partition():
    env = make_env("mamujoco", "HalfCheetah-v2", "3x2")
    assert env.spec.map_name == "HalfCheetah-3x2"
    assert (env.spec.n_agents, env.spec.n_actions, env.spec.obs_dim) == (3, 2, 20)
    groups = [tuple(node.label for node in part) for part in env._env.agent_action_partitions]
    assert groups == [("bfoot", "bshin"), ("bthigh", "ffoot"), ("fshin", "fthigh")]
    rollout(env, [1], 2)


def test_fall_is_termination_and_seeding():
    env = make_env("mamujoco", "Hopper", "3x1")
    a_first, a = rollout(env, [5], 200, scale=1.0)
    ends = [t for t, out in enumerate(a) if out.terminated[0] or out.truncated[0]]
    assert len(ends) == 1 and a[ends[0]].terminated[0] and not a[ends[0]].truncated[0]
    b_first, b = rollout(env, [5], 200, scale=1.0)
    np.testing.assert_array_equal(a_first.obs, b_first.obs)
    np.testing.assert_array_equal(a[ends[0]].obs, b[ends[0]].obs)
    c_first, _ = rollout(env, [6], 1)
    assert not np.array_equal(a_first.state, c_first.state)


def test_process_vectorisation_equals_single_copies():
    seeds = [31, 32]
    singles = [make_env("mamujoco", "HalfCheetah", "2x3", episode_limit=5) for _ in seeds]
    expected = [rollout(env, [s], 6, seed=9) for env, s in zip(singles, seeds)]
    vec = make_env("mamujoco", "HalfCheetah", "2x3", num_envs=2, vectorize="process", episode_limit=5)
    assert type(vec).__name__ == "ProcVecEnv"
    try:
        rng = np.random.default_rng(9)
        first = vec.reset(seeds)
        np.testing.assert_array_equal(first.obs, np.concatenate([e[0].obs for e in expected]))
        for t in range(6):
            a = rng.normal(size=(1, 2, 3)).astype(np.float32)
            out = vec.step(np.concatenate([a, a]))  # each single copy drew the same action stream
            np.testing.assert_array_equal(out.obs, np.concatenate([e[1][t].obs for e in expected]))
            np.testing.assert_array_equal(out.reward, np.concatenate([e[1][t].reward for e in expected]))
            np.testing.assert_array_equal(out.active, np.concatenate([e[1][t].active for e in expected]))
        assert vec.versions()["mujoco"]
    finally:
        vec.close()


@pytest.mark.parametrize(
    ("task", "conf", "obs"),
    [("HalfCheetah", "2x3", "marie"), ("HalfCheetah", "3x2", "marie"), ("Hopper", "3x1", "marie"), ("HalfCheetah", "2x3", "state")],
)
def test_direct_step_equals_the_library_step(task, conf, obs):
    """MARIE's observation steps the single-agent task directly; the library's multi-agent step gives the same
    observations, states, rewards and ends: two episodes (the first ends at the time limit or by a fall, then a
    reset), actions outside the box included."""
    direct = make_env("mamujoco", task, conf, episode_limit=60, obs=obs)
    library = make_env("mamujoco", task, conf, episode_limit=60, obs=obs)
    assert direct._action_index is not None
    library._action_index = None  # the library's step
    outputs = {}
    for name, env in (("direct", direct), ("library", library)):
        first, steps = rollout(env, [3], 60, scale=1.5)
        second, more = rollout(env, [4], 30, seed=1, scale=1.5)
        outputs[name] = [first, *steps, second, *more]
        assert any(out.terminated[0] or out.truncated[0] for out in steps)
    for x, y in zip(outputs["direct"], outputs["library"], strict=True):
        for field in dataclasses.fields(x):
            np.testing.assert_array_equal(getattr(x, field.name), getattr(y, field.name), err_msg=field.name)


def test_direct_step_is_not_used_for_local_observations():
    assert make_env("mamujoco", "HalfCheetah", "2x3", obs="local")._action_index is None


def test_zscore_is_numpy_mean_and_std_bit_for_bit():
    from marie.envs.mamujoco import zscore_with_id

    rng = np.random.default_rng(0)
    for n_agents, size in ((2, 17), (3, 17), (6, 11), (4, 27)):
        for scale in (1e-3, 1.0, 30.0):
            state = rng.normal(size=size) * scale
            v = np.concatenate([np.repeat(state[None], n_agents, axis=0), np.eye(n_agents)], axis=1)
            expected = ((v - v.mean(axis=1, keepdims=True)) / v.std(axis=1, keepdims=True)).astype(np.float32)
            np.testing.assert_array_equal(zscore_with_id(state, n_agents), expected)


def test_state_observation_is_the_raw_state_and_agent_id():
    env = make_env("mamujoco", "HalfCheetah", "2x3", obs="state")
    assert (env.spec.obs_dim, env.spec.state_dim) == (19, 17)
    first, outs = rollout(env, [2], 3)
    for out in [first, *outs]:
        assert out.obs.dtype == np.float32
        for agent in range(2):
            np.testing.assert_array_equal(out.obs[0, agent, :17], out.state[0])
            np.testing.assert_array_equal(out.obs[0, agent, 17:], np.eye(2)[agent])
    zscored = make_env("mamujoco", "HalfCheetah", "2x3").reset([2])
    np.testing.assert_array_equal(zscored.state, first.state)  # the same task, another view of it
