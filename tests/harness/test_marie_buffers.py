"""MARIE's replay stores: ring writes, balanced sampling, the write-pointer rule, start sampling, held-out data."""

import numpy as np
import torch

from marie.algos.marie.buffers import EpisodeStore, FlatBuffer, timeout_mask
from marie.data.episode import Episode


def make_episode(length: int, n_agents: int = 2, dim: int = 3, start: float = 0.0, agent0_dies_at: int | None = None):
    obs = (start + np.arange(length, dtype=np.float32))[:, None, None] * np.ones((1, n_agents, dim), np.float32)
    done = np.zeros((length, n_agents), bool)
    done[-1] = True
    if agent0_dies_at is not None:
        done[agent0_dies_at:, 0] = True
    return Episode(obs=obs, state=np.zeros((length, 1), np.float32), avail=np.ones((length, n_agents, 4), bool),
                   actions=np.zeros((length, n_agents), np.int64), reward=np.zeros((length, n_agents), np.float32),
                   done=done, fake=np.zeros((length, n_agents), bool), next_obs=obs[-1], next_state=np.zeros(1),
                   terminated=True, truncated=False, won=0.0, score=0.0)  # fmt: skip


def test_ring_buffer_wraps_and_never_samples_across_the_write_pointer():
    buf = FlatBuffer(capacity=10, n_agents=2, obs_dim=3, n_actions=4, discrete=True)
    buf.add(make_episode(7, start=0))
    buf.add(make_episode(6, start=100))  # wraps: slots 7,8,9,0,1,2 hold 100..105, slots 3..6 hold 3..6
    assert buf.size == 10 and buf.pos == 3
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        sample = buf.sample(3, 4, "model", float("inf"), gen)
        values = sample.obs[:, :, 0, 0]
        # a sequence is consecutive in write order: it never jumps from the newest step (105) to the oldest (3)
        assert not np.any((values[:, :-1] == 105) & (values[:, 1:] == 3))


def test_balanced_sampling_prefers_unvisited_starts():
    buf = FlatBuffer(capacity=50, n_agents=1, obs_dim=1, n_actions=4, discrete=True)
    buf.add(make_episode(20, n_agents=1, dim=1))
    buf.visits["tokenizer"][:10] = 100  # the first half was sampled a lot
    gen = torch.Generator().manual_seed(0)
    sample = buf.sample(5, 1, "tokenizer", 1.0, gen)  # finite temperature: softmax(-visits / T)
    assert np.all(sample.obs[:, 0, 0, 0] >= 10)
    assert buf.visits["tokenizer"][10:].sum() == 5 and buf.visits["model"].sum() == 0


def test_episode_store_samples_starts_with_history_and_the_agent0_length_bug():
    rng = np.random.default_rng(0)
    faithful = EpisodeStore(agent0_length_bug=True, start_sampling="episode")
    faithful.add(make_episode(10, agent0_dies_at=2))  # agent 0 done at steps 2..9: length 10 - 8 + 1 = 3
    starts = faithful.sample(200, n_hist=2, rng=rng)
    steps = starts.obs[:, 0, 0]
    assert set(np.unique(steps)) <= {0.0, 1.0, 2.0}
    first = steps == 0
    assert not starts.history_filled[first].any() and np.all(starts.history[first] == 0)
    one = steps == 1
    assert np.all(starts.history_filled[one] == [False, True]) and np.all(starts.history[one][:, 1] == 0.0)
    fixed = EpisodeStore(agent0_length_bug=False, start_sampling="step")
    fixed.add(make_episode(10, agent0_dies_at=2))
    assert fixed.sample(300, 0, rng).obs[:, 0, 0].max() == 9.0


def test_recent_returns_only_the_newest_steps():
    buf = FlatBuffer(capacity=30, n_agents=1, obs_dim=1, n_actions=4, discrete=True)
    buf.add(make_episode(20, n_agents=1, dim=1, start=0))
    buf.add(make_episode(8, n_agents=1, dim=1, start=100))
    sample = buf.recent(count=10, seq_len=4, n_recent=8, rng=np.random.default_rng(0))
    assert sample.obs.shape[:2] == (5, 4) and np.all(sample.obs >= 100)
    assert buf.recent(count=3, seq_len=9, n_recent=8, rng=np.random.default_rng(0)) is None


def test_timeout_mask_marks_only_live_agents_at_a_time_limit_end():
    ended = make_episode(5, agent0_dies_at=2)
    assert timeout_mask(ended) is None  # a real end: nothing to relabel
    truncated = make_episode(5, agent0_dies_at=2)
    truncated.truncated, truncated.terminated = True, False
    truncated.fake[3:, 0] = True  # agent 0 died at step 2 and acted as an absorbing agent afterwards
    mask = timeout_mask(truncated)
    assert mask.shape == (5, 2)
    assert mask[:-1].sum() == 0
    assert mask[-1].tolist() == [False, True]  # only agent 1 was alive when the clock ran out
    buf = FlatBuffer(capacity=10, n_agents=2, obs_dim=3, n_actions=4, discrete=True)
    buf.add(truncated, mask)
    sample = buf.recent(count=1, seq_len=5, n_recent=5, rng=np.random.default_rng(0))
    assert sample.timeout[0, -1].tolist() == [False, True] and sample.done[0, -1].all()
