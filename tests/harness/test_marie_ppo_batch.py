"""MarieAgent's PPO batch on a hand-made imagined rollout (spec §5.3-5.5) and the paper evaluation protocol (§1.2:
discrete actions sampled at T = 1 whatever --temperature is, greedy in the standard protocol).

The critics are replaced by known functions of the features, so every return, advantage and old value can be
recomputed here with the spec's recursion written out independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from marie.algos.marie.agent import MarieAgent
from marie.config import build_config
from marie.models.imagination import ImaginedRollout
from marie.training.loop import evaluate, evaluation_mode
from tests.harness.test_episode import ScriptedEnv
from tests.harness.test_marie_agent import SPEC

H, S, N, A = 5, 3, SPEC.n_agents, SPEC.n_actions


class KnownCritic(nn.Module):
    """V(feat) = scale * sum(feat): a value the test can recompute."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.scale * feats.sum(-1, keepdim=True)


def _agent(*overrides: str) -> MarieAgent:
    cfg = build_config("smax", "3m", preset="smoke", overrides=["marie.ppo.normalize_advantages=false", *overrides])
    agent = MarieAgent(SPEC, cfg, torch.device("cpu"))
    agent.critic = KnownCritic(1.0)
    return agent


def _rollout(seed: int = 0) -> ImaginedRollout:
    gen = torch.Generator().manual_seed(seed)
    return ImaginedRollout(
        feats=torch.randn(H, S, N, SPEC.obs_dim, generator=gen),
        obs=torch.zeros(H, S, N, SPEC.obs_dim),
        obs_tokens=torch.zeros(H, S, N, 1, dtype=torch.long),
        actions=torch.randint(0, A, (H, S, N), generator=gen),
        avail=torch.ones(H, S, N, A, dtype=torch.bool),
        logits_or_logp=torch.randn(H, S, N, A, generator=gen),
        rewards=torch.randn(H, S, N, generator=gen),
        continuations=torch.rand(H, S, N, generator=gen),
    )


def _spec_returns(rewards, continuations, values, gamma, lam):
    """§5.3 for steps 0..H-2: R_{H-1} := V_{H-1}; R_t = r_t + gamma c_t ((1 - lam) V_{t+1} + lam R_{t+1})."""
    returns = np.zeros((H - 1, S, N))
    following = values[H - 1]
    for t in range(H - 2, -1, -1):
        following = rewards[t] + gamma * continuations[t] * ((1 - lam) * values[t + 1] + lam * following)
        returns[t] = following
    return returns


def _flat(array) -> np.ndarray:
    return np.asarray(array)[: H - 1].reshape((H - 1) * S, N)


def test_returns_cover_steps_0_to_h_minus_2_bootstrapped_with_the_last_value():
    agent, rollout = _agent(), _rollout()
    ppo = agent.cfg.ppo
    batch, stats = agent.ppo_batch(rollout)
    values = rollout.feats.sum(-1).numpy()
    want = _spec_returns(rollout.rewards.numpy(), rollout.continuations.numpy(), values, ppo.gamma, ppo.lam)
    assert len(batch) == (H - 1) * S
    np.testing.assert_allclose(batch.returns.numpy(), _flat(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch.advantages.numpy(), _flat(want - values[: H - 1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.old_values.numpy(), _flat(values), rtol=1e-6)
    logp = torch.log_softmax(rollout.logits_or_logp, -1).gather(-1, rollout.actions[..., None]).squeeze(-1)
    np.testing.assert_allclose(batch.old_logp.numpy(), _flat(logp.numpy()), rtol=1e-6)
    assert torch.equal(batch.actions, rollout.actions[: H - 1].reshape(-1, N))
    assert stats["returns"] == pytest.approx(float(want.mean()), rel=1e-5)


def test_the_last_step_is_only_a_bootstrap():
    agent, rollout = _agent(), _rollout()
    base = agent.ppo_batch(rollout)[0].returns
    rollout.rewards[H - 1] += 100.0  # the last step's reward and continuation are never used
    rollout.continuations[H - 1] = 0.0
    assert torch.equal(agent.ppo_batch(rollout)[0].returns, base)
    rollout.feats[H - 1] += 1.0  # its value is the bootstrap: every return moves
    moved = agent.ppo_batch(rollout)[0].returns - base
    assert bool((moved.abs() > 0).all())


def test_average_r_replaces_each_agents_reward_by_the_mean_over_agents():
    agent, rollout = _agent("marie.average_r=true"), _rollout(1)
    ppo = agent.cfg.ppo
    mean_r = rollout.rewards.mean(-1, keepdim=True).expand(H, S, N).numpy()
    values = rollout.feats.sum(-1).numpy()
    want = _spec_returns(mean_r, rollout.continuations.numpy(), values, ppo.gamma, ppo.lam)
    np.testing.assert_allclose(agent.ppo_batch(rollout)[0].returns.numpy(), _flat(want), rtol=1e-5, atol=1e-6)
    plain = _agent().ppo_batch(rollout)[0].returns
    assert not torch.allclose(plain, agent.ppo_batch(rollout)[0].returns)


def test_the_old_critic_gives_the_return_targets_and_the_current_critic_the_baseline():
    agent, rollout = _agent("marie.use_old_critic=true"), _rollout(2)
    agent.old_critic = KnownCritic(3.0)
    ppo = agent.cfg.ppo
    current, old = rollout.feats.sum(-1).numpy(), 3.0 * rollout.feats.sum(-1).numpy()
    want = _spec_returns(rollout.rewards.numpy(), rollout.continuations.numpy(), old, ppo.gamma, ppo.lam)
    batch = agent.ppo_batch(rollout)[0]
    np.testing.assert_allclose(batch.returns.numpy(), _flat(want), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.advantages.numpy(), _flat(want - current[: H - 1]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.old_values.numpy(), _flat(current), rtol=1e-6)


class RecordingActor(nn.Module):
    """Records the temperature it is asked for; ``sample()`` and ``mode()`` give distinguishable actions."""

    def __init__(self):
        super().__init__()
        self.temperatures: list[float] = []

    def distribution(self, feat, mask, temperature=1.0):
        self.temperatures.append(temperature)
        shape = feat.shape[:-1]
        return type("Dist", (), {"sample": lambda _: torch.full(shape, 1), "mode": lambda _: torch.full(shape, 0)})()


@pytest.mark.parametrize(
    "mode,action,temperature", [("sample", 1, 1.0), ("greedy", 0, 1.0), ("collect", 1, 0.25)]
)  # fmt: skip
def test_acting_modes_sample_at_t1_or_take_the_mode(mode, action, temperature):
    agent = _agent("marie.temperature=0.25")
    agent.actor = RecordingActor()
    agent.begin_episodes(2)
    obs, avail = np.zeros((2, N, SPEC.obs_dim), np.float32), np.ones((2, N, A), bool)
    assert (agent.act(obs, avail, mode) == action).all()
    assert agent.actor.temperatures == [temperature]  # --temperature is for collection only


@pytest.mark.parametrize(
    "eval_mode,discrete,expected",
    [("paper", True, "sample"), ("paper", False, "greedy"), ("standard", True, "greedy"),
     ("standard", False, "greedy")],
)  # fmt: skip
def test_the_paper_protocol_samples_discrete_actions_and_the_standard_one_is_greedy(eval_mode, discrete, expected):
    cfg = build_config("smax", "3m", eval_mode=eval_mode)
    assert evaluation_mode(cfg, discrete) == expected


def test_evaluation_acts_in_the_protocols_mode_and_counts_its_episodes():
    cfg = build_config("smax", "3m", preset="smoke")  # paper protocol: 2 episodes in smoke
    modes = []

    class Agent:
        def begin_episodes(self, n):
            pass

        def act(self, obs, avail, mode):
            modes.append(mode)
            return np.zeros(obs.shape[:2], np.int64)

    result = evaluate(ScriptedEnv(), Agent(), cfg, eval_index=0)
    assert set(modes) == {"sample"} and cfg.eval.episodes == 2
    assert result["eval/episode_length"] == 2.5  # copy 0 ends after 2 steps, copy 1 at its 3-step limit
