"""Imagination in MAMBA's RSSM and the PPO batch built from it (MAMBA ``actor_rollout``, ``rollout_policy``,
``critic_rollout``; spec §11.1).

Starts are *every* posterior state of the sampled windows but the last: (T-1)*B states of N agents for T model
steps. From each, the prior is rolled out ``horizon`` steps with the actor acting on the RSSM features [z, h]; on
SMAC/SMAX the policy is masked by a Bernoulli sample of the avail head. Rewards and continuation probabilities come
from the heads on [z_t, h_{t+1}]; lambda-returns over steps 0..H-2 bootstrap with V(s_{H-1}).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from marie.algos.mamba.heads import MambaWorldModel
from marie.algos.mamba.losses import ModelBatch
from marie.algos.mamba.rssm import RSSMState
from marie.rl.ppo import PPOBatch, PPOConfig, ValueNorm, lambda_returns, normalize_advantages

# policy(feat (S,N,F), avail (S,N,A) bool or None) -> (action, masked logits (S,N,A) | per-dim log-probs (S,N,A))
Policy = Callable[[Tensor, Tensor | None], tuple[Tensor, Tensor]]


@dataclass
class Rollout:
    feats: Tensor  # (H,S,N,F) features of the states the actor acted on
    actions: Tensor  # (H,S,N) long or (H,S,N,A)
    logits_or_logp: Tensor  # (H,S,N,A): masked logits (discrete) or per-dimension log-probabilities (continuous)
    avail: Tensor | None  # (H,S,N,A) bool, sampled from the avail head
    rewards: Tensor  # (H-1,S,N) reward of the action at step t
    continuations: Tensor  # (H-1,S,N) probability of continuing after it


@torch.no_grad()
def posterior_starts(model: MambaWorldModel, batch: ModelBatch, generator: torch.Generator | None = None) -> RSSMState:
    """Filter the windows and return all posterior states but the last step's, flattened: ((T-1)*B, N, ·)."""
    embeds = model.encoder(batch.obs)
    _, posts = model.rssm.observe_sequence(embeds, batch.actions, batch.last, generator)
    return posts.map(lambda x: x[:-1].reshape(-1, *x.shape[2:]))


@torch.no_grad()
def imagine(
    model: MambaWorldModel, policy: Policy, start: RSSMState, horizon: int, average_reward: bool,
    generator: torch.Generator | None = None,
) -> Rollout:  # fmt: skip
    state = start
    states: list[RSSMState] = []
    actions, stats, avails = [], [], []
    for t in range(horizon):
        feat = state.features()
        avail = model.avail_sample(feat, generator) if model.avail is not None else None
        action, stat = policy(feat, avail)
        states.append(state)
        actions.append(action)
        stats.append(stat)
        avails.append(avail)
        if t < horizon - 1:  # MAMBA also steps past the last state, but never uses that state
            state = model.rssm.transition(model.action_input(action), state, True, generator)
    traj = RSSMState.stack(states)
    reward_feat = torch.cat([traj.stoch[:-1], traj.deter[1:]], dim=-1)
    rewards = model.reward(reward_feat).squeeze(-1)
    if average_reward:
        rewards = rewards.mean(-1, keepdim=True).expand_as(rewards)
    return Rollout(
        feats=traj.features(),
        actions=torch.stack(actions),
        logits_or_logp=torch.stack(stats),
        avail=None if avails[0] is None else torch.stack(avails),
        rewards=rewards,
        continuations=torch.sigmoid(model.continuation(reward_feat)).squeeze(-1),
    )


@torch.no_grad()
def ppo_batch(
    rollout: Rollout, critic: nn.Module, target_critic: nn.Module | None, value_norm: ValueNorm | None,
    ppo: PPOConfig, discrete: bool,
) -> tuple[PPOBatch, dict[str, float]]:  # fmt: skip
    """Rows are (start, step) pairs for steps 0..H-2 with all N agents together (the critic attends across them)."""
    horizon = rollout.feats.shape[0]
    raw = critic(rollout.feats).squeeze(-1)  # (H,S,N), normalised outputs under ValueNorm
    values = value_norm.denormalize(raw) if value_norm is not None else raw
    target_values = values if target_critic is None else target_critic(rollout.feats).squeeze(-1)
    if target_critic is not None and value_norm is not None:
        target_values = value_norm.denormalize(target_values)
    returns = lambda_returns(rollout.rewards, rollout.continuations, target_values, ppo.gamma, ppo.lam)
    advantages = returns - values[: horizon - 1]
    if ppo.normalize_advantages:
        advantages = normalize_advantages(advantages)
    flat = lambda t: t[: horizon - 1].reshape(-1, *t.shape[2:])  # noqa: E731  (H,S,N,...) -> ((H-1)*S,N,...)
    if discrete:
        logp = torch.log_softmax(rollout.logits_or_logp, -1).gather(-1, rollout.actions[..., None]).squeeze(-1)
    else:
        logp = rollout.logits_or_logp
    batch = PPOBatch(
        feat=flat(rollout.feats), critic_input=flat(rollout.feats), actions=flat(rollout.actions),
        old_logp=flat(logp), advantages=flat(advantages), returns=flat(returns), old_values=flat(raw),
        avail=None if (rollout.avail is None or not discrete) else flat(rollout.avail),
    )  # fmt: skip
    stats = {
        "returns": float(returns.mean()),
        "imagined_reward": float(rollout.rewards.mean()),
        "imagined_continuation": float(rollout.continuations.mean()),
        "value": float(values.mean()),
    }
    return batch, stats
