"""Imagination from every posterior state: start count, shapes, avail masking, agent-averaged rewards, PPO rows."""

import numpy as np
import pytest
import torch

from marie.algos.mamba.agent import MambaAgent
from marie.algos.mamba.imagination import imagine, posterior_starts, ppo_batch
from marie.rl.ppo import lambda_returns
from tests.mamba.helpers import MUJOCO_LIKE, SMAX_LIKE, fake_episode, smoke_config, train_config


def _agent(spec, **overrides):
    torch.manual_seed(0)
    cfg = smoke_config(**{"world_model.predict_avail": spec.discrete} | overrides)
    if not spec.discrete:
        cfg.actor_critic.kind = "mappo_style"
    agent = MambaAgent(spec, train_config(cfg), torch.device("cpu"))
    rng = np.random.default_rng(0)
    for _ in range(5):
        agent.buffer.add(fake_episode(spec, 15, rng), 2, agent._gen)
    return agent


@pytest.mark.parametrize("spec", [SMAX_LIKE, MUJOCO_LIKE], ids=["discrete", "continuous"])
def test_rollout_from_every_posterior_state(spec):
    agent = _agent(spec, **{"buffer.seq_len": 7, "imagination.horizon": 5})
    batch_size, seq_len, horizon, n = 3, 7, 5, spec.n_agents
    window = agent._window(batch_size)
    steps = seq_len - 1  # model steps T
    start = posterior_starts(agent.model, window, agent._gen)
    assert start.deter.shape == ((steps - 1) * batch_size, n, agent.cfg.rssm.deter)  # (T-1)*B starts
    rollout = imagine(agent.model, agent._policy, start, horizon, average_reward=True, generator=agent._gen)
    s = (steps - 1) * batch_size
    assert rollout.feats.shape == (horizon, s, n, agent.model.feat_dim)
    assert rollout.actions.shape == ((horizon, s, n) if spec.discrete else (horizon, s, n, spec.n_actions))
    assert rollout.logits_or_logp.shape == (horizon, s, n, spec.n_actions)
    assert rollout.rewards.shape == rollout.continuations.shape == (horizon - 1, s, n)
    assert torch.allclose(rollout.rewards, rollout.rewards[..., :1].expand_as(rollout.rewards))  # agent average
    assert ((rollout.continuations > 0) & (rollout.continuations < 1)).all()
    # The first imagined state is the start itself.
    assert torch.equal(rollout.feats[0], start.features())


def test_imagined_actions_respect_the_sampled_avail_mask():
    agent = _agent(SMAX_LIKE)
    start = posterior_starts(agent.model, agent._window(4), agent._gen)
    rollout = imagine(agent.model, agent._policy, start, 4, True, agent._gen)
    avail = rollout.avail
    assert avail is not None and avail.dtype == torch.bool and avail.shape == rollout.logits_or_logp.shape
    chosen = avail.gather(-1, rollout.actions[..., None]).squeeze(-1)
    has_any = avail.any(-1)
    assert has_any.float().mean() > 0.5 and chosen[has_any].all()
    assert (rollout.logits_or_logp[~avail] < -1e9).all()  # masked logits are what PPO's old log-probs use


def test_ppo_rows_and_returns():
    agent = _agent(SMAX_LIKE)
    start = posterior_starts(agent.model, agent._window(2), agent._gen)
    horizon = 4
    rollout = imagine(agent.model, agent._policy, start, horizon, True, agent._gen)
    batch, stats = ppo_batch(rollout, agent.critic, None, None, agent.cfg.ppo, discrete=True)
    s = start.deter.shape[0]
    assert len(batch) == (horizon - 1) * s and batch.feat.shape[1:] == (SMAX_LIKE.n_agents, agent.model.feat_dim)
    with torch.no_grad():
        values = agent.critic(rollout.feats).squeeze(-1)
    expected = lambda_returns(rollout.rewards, rollout.continuations, values, 0.99, 0.95)
    assert torch.allclose(batch.returns, expected.reshape(-1, SMAX_LIKE.n_agents), atol=1e-6)
    assert batch.advantages.mean().abs() < 1e-5  # normalised
    logp = torch.log_softmax(rollout.logits_or_logp[: horizon - 1], -1)
    picked = logp.gather(-1, rollout.actions[: horizon - 1, ..., None]).squeeze(-1).reshape(-1, SMAX_LIKE.n_agents)
    assert torch.allclose(batch.old_logp, picked)
    assert set(stats) == {"returns", "imagined_reward", "imagined_continuation", "value"}
