"""MARIE's learner glue, in process: what reaches the replay stores."""

import numpy as np
import pytest
import torch

from marie.algos.marie.agent import MarieAgent
from marie.config import build_config
from marie.envs.base import EnvSpec
from tests.harness.test_marie_buffers import make_episode

SPEC = EnvSpec(env="smax", map_name="toy", n_agents=2, obs_dim=3, state_dim=1, n_actions=4, discrete=True,
               episode_limit=10, has_win=True, has_avail=True)  # fmt: skip


def _agent(*overrides: str) -> MarieAgent:
    cfg = build_config("smax", "3m", preset="smoke", overrides=list(overrides))
    cfg.marie.schedule.min_buffer = 10_000  # store only: no training round in these tests
    return MarieAgent(SPEC, cfg, torch.device("cpu"))


def _rewarded_episode():
    episode = make_episode(6)
    episode.reward[:] = np.linspace(0.0, 0.5, 6, dtype=np.float32)[:, None]
    return episode


def test_reward_scale_multiplies_what_the_world_model_learns_and_nothing_else():
    plain, scaled = _agent(), _agent("marie.reward_scale=10")
    episode = _rewarded_episode()
    before = episode.reward.copy()
    plain.observe(episode)
    scaled.observe(episode)
    np.testing.assert_allclose(scaled.buffer.arrays["reward"][:6], 10 * plain.buffer.arrays["reward"][:6])
    np.testing.assert_array_equal(episode.reward, before)  # the caller's episode (and its logged return) untouched


def test_time_limit_switch_reaches_the_buffer():
    episode = make_episode(6)
    episode.truncated, episode.terminated = True, False
    faithful, fixed = _agent(), _agent("marie.time_limit_as_termination=false")
    faithful.observe(episode)
    fixed.observe(episode)
    assert not faithful.buffer.arrays["timeout"][:6].any()
    assert fixed.buffer.arrays["timeout"][5].all() and not fixed.buffer.arrays["timeout"][:5].any()


def test_reward_mae_is_logged_in_env_units_whatever_the_scale():
    """The world model learns reward x scale; its logged MAE must be divided back (the losses are not)."""
    results = {}
    for scale in ("1", "10"):
        torch.manual_seed(0)
        agent = _agent(f"marie.reward_scale={scale}")
        for start in range(4):
            agent.observe(_rewarded_episode())
        sample = agent.buffer.sample(4, 4, "model", float("inf"), torch.Generator().manual_seed(0))
        results[scale] = agent._world_model_passes(sample, "wm/", backward=False)
    # an untrained head predicts ~0, so its MAE is ~the mean |reward| in env units under either scale
    assert results["10"]["wm/reward_mae"] == pytest.approx(results["1"]["wm/reward_mae"], rel=0.05)
    assert results["10"]["wm/reward_mae_median"] == pytest.approx(results["1"]["wm/reward_mae_median"], rel=1e-5)
    assert results["10"]["wm/reward"] > 5 * results["1"]["wm/reward"]  # the loss stays in learned units


def test_the_public_phases_train_what_they_name():
    """What ``observe`` runs in a round, one phase at a time (``marie bench`` times them this way)."""
    torch.manual_seed(0)
    agent = _agent()
    for _ in range(4):
        agent.store(make_episode(6))
    assert agent.buffer.size == 24 and len(agent.episodes.episodes) == 4 and agent.rounds == 0

    def snapshot(module):
        return [p.detach().clone() for p in module.parameters()]

    def changed(before, module):
        return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))

    tok, wm, actor = snapshot(agent.tokenizer), snapshot(agent.world_model), snapshot(agent.actor)
    assert {"tokenizer/total", "tokenizer/reconstruction"} <= set(agent.train_tokenizer(updates=2))
    assert changed(tok, agent.tokenizer) and not changed(wm, agent.world_model)
    assert {"world_model/total", "world_model/obs"} <= set(agent.train_world_model(updates=1))
    assert changed(wm, agent.world_model) and not agent.world_model.training
    rollout = agent.imagine(agent.start_states(5))
    batch, stats = agent.ppo_batch(rollout)
    assert rollout.feats.shape[1] == 5 and {"returns", "value"} <= set(stats)
    assert "policy_loss" in agent.update_policy(batch) and changed(actor, agent.actor)
    assert "actor_critic/policy_loss" in agent.train_actor_critic()
