"""MAMBA's sequence buffer: absorbing steps, ``last`` flags, the shifted model window, wrap-around, checkpoints."""

import numpy as np
import torch

from marie.algos.mamba.buffer import SequenceBuffer, model_window
from tests.mamba.helpers import MUJOCO_LIKE, SMAX_LIKE, fake_episode


def _buffer(capacity=200, spec=SMAX_LIKE):
    return SequenceBuffer(capacity, spec.n_agents, spec.obs_dim, spec.n_actions, spec.discrete)


def test_absorbing_steps_follow_true_terminations_only():
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    buf = _buffer()
    assert buf.add(fake_episode(SMAX_LIKE, 10, rng, terminated=True), 2, gen) == 12
    assert buf.add(fake_episode(SMAX_LIKE, 7, rng, terminated=False), 2, gen) == 7
    arr = buf.arrays
    assert arr["fake"][10:12].all() and arr["done"][10:12].all() and arr["avail"][10:12].all()
    assert not arr["obs"][10:12].any() and not arr["reward"][10:12].any()
    assert 0 <= arr["actions"][10:12].min() and arr["actions"][10:12].max() < SMAX_LIKE.n_actions
    assert np.flatnonzero(arr["last"][:19, 0]).tolist() == [11, 18]  # the final stored step of each episode
    assert buf.size == 19 and buf.pos == 19


def test_continuous_absorbing_actions_lie_in_the_box():
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    buf = _buffer(spec=MUJOCO_LIKE)
    buf.add(fake_episode(MUJOCO_LIKE, 5, rng), 3, gen)
    absorbing = buf.arrays["actions"][5:8]
    assert absorbing.shape == (3, 2, 3) and absorbing.min() >= -1.0 and absorbing.max() <= 1.0


def test_model_window_is_shifted_as_mamba():
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    buf = _buffer()
    ep = fake_episode(SMAX_LIKE, 40, rng, terminated=False)
    ep.obs[:] = np.arange(40, dtype=np.float32)[:, None, None]  # o_t = t
    ep.reward[:] = np.arange(40, dtype=np.float32)[:, None]  # r_t = t
    ep.fake[:] = (np.arange(40) % 3 == 0)[:, None]
    buf.add(ep, 2, gen)
    window = buf.sample(5, 6, gen)
    batch = model_window(window, lambda a: torch.nn.functional.one_hot(a, SMAX_LIKE.n_actions).float(),
                         torch.device("cpu"))  # fmt: skip
    assert batch.obs.shape == (5, 5, 3, SMAX_LIKE.obs_dim)  # T = L - 1 steps, time-major
    starts = window["reward"][:, 0, 0]
    for b, s in enumerate(starts.astype(int)):
        k = np.arange(5)
        assert np.array_equal(batch.obs[:, b, 0, 0].numpy(), s + k + 1)  # o_{k+1}
        assert np.array_equal(batch.reward[:, b, 0, 0].numpy(), s + k)  # r_k: reward of the action before it
        assert np.array_equal(batch.action_targets[:, b].numpy(), ep.actions[s + k])  # a_k
        assert np.array_equal(batch.fake[:, b, 0, 0].numpy(), ep.fake[s + k + 1, 0])  # fake of o_{k+1}
        assert np.array_equal(batch.avail[:, b].numpy(), ep.avail[s + k + 1])
    assert torch.equal(batch.actions.argmax(-1), batch.action_targets)


def test_windows_never_cross_the_write_position():
    rng, gen = np.random.default_rng(1), torch.Generator().manual_seed(1)
    buf = _buffer(capacity=50)
    for _ in range(9):  # wraps around several times
        ep = fake_episode(SMAX_LIKE, 9, rng, terminated=False)
        buf.add(ep, 0, gen)
    stamp = np.arange(50)
    order = (stamp - buf.pos) % 50  # age order: 0 = oldest
    assert buf.size == 50
    window = buf.sample(200, 8, gen)["obs"]
    flat = buf.arrays["obs"].reshape(50, -1)
    rows = [[int(np.flatnonzero((flat == step.reshape(-1)).all(1))[0]) for step in seq] for seq in window]
    ages = order[np.array(rows)]
    assert (np.diff(ages, axis=1) == 1).all()  # consecutive in time, never from newest back to oldest


def test_state_dict_round_trip():
    rng, gen = np.random.default_rng(2), torch.Generator().manual_seed(2)
    buf = _buffer()
    for _ in range(3):
        buf.add(fake_episode(SMAX_LIKE, 8, rng), 2, gen)
    other = _buffer()
    other.load_state_dict(buf.state_dict())
    assert (other.pos, other.size) == (buf.pos, buf.size)
    for key in buf.FIELDS:
        assert np.array_equal(other.arrays[key], buf.arrays[key])


def test_recent_windows_lie_inside_the_newest_steps_also_across_the_wrap():
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    buf = _buffer(capacity=50)
    for start in (0, 30):  # 30 + 30 steps into 50 slots: the second episode wraps to the front
        ep = fake_episode(SMAX_LIKE, 30, rng, terminated=False)
        ep.obs[:] = np.arange(start, start + 30, dtype=np.float32)[:, None, None]  # o_t = global step t
        buf.add(ep, 2, gen)
    window = buf.recent(64, 8, 20, gen)
    steps = window["obs"][:, :, 0, 0]
    assert steps.min() >= 40 and steps.max() <= 59  # only the newest 20 steps
    assert (np.diff(steps, axis=1) == 1).all()  # consecutive
    assert buf.recent(4, 8, 5, gen) is None  # fewer new steps than one window


def test_reward_scale_multiplies_the_stored_reward_only():
    rng, gen = np.random.default_rng(0), torch.Generator().manual_seed(0)
    buf = _buffer()
    ep = fake_episode(SMAX_LIKE, 6, rng, terminated=False)
    buf.add(ep, 2, gen, reward_scale=10.0)
    assert np.allclose(buf.arrays["reward"][:6], 10.0 * ep.reward) and np.array_equal(buf.arrays["obs"][:6], ep.obs)
