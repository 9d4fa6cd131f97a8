"""PPO pieces shared by MAPPO (real rollouts) and MARIE (imagined rollouts): returns, value normalisation, losses
and the minibatch update loop.

Rows keep all N agents together, shape (R, N, ...), because the MARIE critic attends across agents (spec §5.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from marie.models.component import require_finite, require_finite_parameters
from marie.rl.configs import PPOConfig


@dataclass
class PPOBatch:
    """One batch of PPO rows. Shapes: feat (R,N,F), critic_input (R,N,Fc) or (R,S), avail (R,N,A) or None,
    actions (R,N) long or (R,N,A), old_logp (R,N) or (R,N,A) per dimension, advantages/returns/old_values (R,N)."""

    feat: Tensor
    critic_input: Tensor
    actions: Tensor
    old_logp: Tensor
    advantages: Tensor
    returns: Tensor
    old_values: Tensor
    avail: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.feat.shape[0]

    def index(self, idx: Tensor) -> "PPOBatch":
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        return PPOBatch(
            feat=self.feat[idx],
            critic_input=self.critic_input[idx],
            actions=self.actions[idx],
            old_logp=self.old_logp[idx],
            advantages=self.advantages[idx],
            returns=self.returns[idx],
            old_values=self.old_values[idx],
            avail=pick(self.avail),
        )


def lambda_returns(rewards: Tensor, continuations: Tensor, values: Tensor, gamma: float, lam: float) -> Tensor:
    """MARIE's lambda-return with soft continuations (spec §5.3).

    rewards, continuations: (T, ...); values: (T+1, ...) with the bootstrap last.
    R_{T-1+1} := V_T; R_t = r_t + gamma * c_t * ((1 - lam) * V_{t+1} + lam * R_{t+1}).
    """
    horizon = rewards.shape[0]
    returns = torch.empty_like(rewards)
    next_return = values[horizon]
    for t in reversed(range(horizon)):
        next_return = rewards[t] + gamma * continuations[t] * ((1 - lam) * values[t + 1] + lam * next_return)
        returns[t] = next_return
    return returns


def gae_returns(
    rewards: Tensor, values: Tensor, next_values: Tensor, terminal: Tensor, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """GAE over one episode (time-major). ``next_values[t]`` is V(s_{t+1}) (the bootstrap for the last step when the
    episode was truncated), ``terminal[t]`` is 1 where s_{t+1} is a true end. Returns (advantages, returns)."""
    horizon = rewards.shape[0]
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in reversed(range(horizon)):
        not_end = 1.0 - terminal[t]
        delta = rewards[t] + gamma * next_values[t] * not_end - values[t]
        running = delta + gamma * lam * not_end * running
        advantages[t] = running
    return advantages, advantages + values


class ValueNorm(nn.Module):
    """MAPPO-style running normaliser of value targets (debiased EMA of mean and mean square).

    Before its first update it has mean 0 and variance clamped to 1e-2, so it denormalises as v -> 0.1 v, which the
    original reproduces on MAMuJoCo's first actor-critic epoch (spec §5.5).
    """

    def __init__(self, beta: float = 0.99999, epsilon: float = 1e-5):
        super().__init__()
        self.beta, self.epsilon = beta, epsilon
        self.register_buffer("running_mean", torch.zeros(1, dtype=torch.float64))
        self.register_buffer("running_mean_sq", torch.zeros(1, dtype=torch.float64))
        self.register_buffer("debiasing_term", torch.zeros(1, dtype=torch.float64))

    def _mean_var(self) -> tuple[Tensor, Tensor]:
        debias = self.debiasing_term.clamp(min=self.epsilon)
        mean = self.running_mean / debias
        var = (self.running_mean_sq / debias - mean**2).clamp(min=1e-2)
        return mean, var

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        x = x.detach().double()
        self.running_mean.mul_(self.beta).add_(x.mean() * (1 - self.beta))
        self.running_mean_sq.mul_(self.beta).add_((x**2).mean() * (1 - self.beta))
        self.debiasing_term.mul_(self.beta).add_(1 - self.beta)

    def normalize(self, x: Tensor) -> Tensor:
        mean, var = self._mean_var()
        return ((x.double() - mean) / var.sqrt()).to(x.dtype)

    def denormalize(self, x: Tensor) -> Tensor:
        mean, var = self._mean_var()
        return (x.double() * var.sqrt() + mean).to(x.dtype)


def normalize_advantages(adv: Tensor) -> Tensor:
    """(A - mean) / (std + 1e-4) over the whole batch, NaNs set to 0 (the original's rule)."""
    out = (adv - adv.mean()) / (adv.std() + 1e-4)
    return torch.nan_to_num(out, nan=0.0)


def actor_loss(
    dist, actions: Tensor, old_logp: Tensor, advantages: Tensor, clip: float, entropy_coef: float
) -> tuple[Tensor, dict[str, float]]:
    """Clipped surrogate + entropy bonus, averaged over rows x agents.

    Continuous actions: ``old_logp`` and ``dist.log_prob`` are per dimension and the ratio is their product.
    """
    logp = dist.log_prob(actions)
    log_ratio = logp - old_logp
    if log_ratio.dim() > advantages.dim():
        log_ratio = log_ratio.sum(-1)
    ratio = torch.exp(log_ratio)
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    entropy = dist.entropy().mean()
    loss = -surrogate.mean() - entropy_coef * entropy
    clip_frac = ((ratio - 1).abs() > clip).float().mean()
    parts = {"policy_loss": -surrogate.mean().item(), "entropy": entropy.item(), "clip_frac": clip_frac.item()}
    return loss, parts


def huber(error: Tensor, delta: float) -> Tensor:
    abs_err = error.abs()
    return torch.where(abs_err <= delta, 0.5 * error**2, delta * (abs_err - 0.5 * delta))


def value_loss(values: Tensor, old_values: Tensor, targets: Tensor, cfg: PPOConfig) -> Tensor:
    """``values``/``old_values``/``targets`` in the critic's output space (normalised when ValueNorm is on)."""
    if cfg.value_loss == "mse" and not cfg.clip_value_loss:
        return 0.5 * ((targets - values) ** 2).mean()
    per_elem = (lambda e: huber(e, cfg.huber_delta)) if cfg.value_loss == "huber" else (lambda e: 0.5 * e**2)
    loss = per_elem(targets - values)
    if cfg.clip_value_loss:
        clipped = old_values + (values - old_values).clamp(-cfg.value_clip, cfg.value_clip)
        loss = torch.max(loss, per_elem(targets - clipped))
    return loss.mean()


def make_optimizer(module: nn.Module, lr: float, cfg: PPOConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(module.parameters(), lr=lr, eps=cfg.adam_eps, weight_decay=cfg.weight_decay)


def ppo_update(
    actor: nn.Module,
    critic: nn.Module,
    actor_opt: torch.optim.Optimizer,
    critic_opt: torch.optim.Optimizer,
    batch: PPOBatch,
    cfg: PPOConfig,
    value_norm: ValueNorm | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """``cfg.epochs`` passes over fresh permutations; per minibatch one actor step, then one critic step on the
    same rows (the original's order). Advantages must be final (normalised by the caller if wanted)."""
    n_rows = len(batch)
    size = n_rows if cfg.minibatch_size <= 0 else cfg.minibatch_size
    sums: dict[str, float] = {}
    count = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n_rows, generator=generator).to(batch.feat.device)  # one copy, not one per index
        for start in range(0, n_rows, size):
            mb = batch.index(order[start : start + size])
            dist = actor.distribution(mb.feat, mb.avail)
            loss_pi, parts = actor_loss(dist, mb.actions, mb.old_logp, mb.advantages, cfg.clip, cfg.entropy_coef)
            require_finite(loss_pi, "actor loss")
            actor_opt.zero_grad(set_to_none=True)
            loss_pi.backward()
            actor_grad = nn.utils.clip_grad_norm_(actor.parameters(), cfg.grad_clip)
            require_finite(actor_grad, "actor gradient norm")
            actor_opt.step()
            require_finite_parameters(actor, "actor")  # a finite step can still overflow (e.g. lr = inf)

            targets = mb.returns
            if value_norm is not None:
                value_norm.update(mb.returns)
                targets = value_norm.normalize(mb.returns)
            values = critic(mb.critic_input).squeeze(-1)
            loss_v = value_loss(values, mb.old_values, targets, cfg)
            require_finite(loss_v, "value loss")
            critic_opt.zero_grad(set_to_none=True)
            loss_v.backward()
            critic_grad = nn.utils.clip_grad_norm_(critic.parameters(), cfg.grad_clip)
            require_finite(critic_grad, "critic gradient norm")
            critic_opt.step()
            require_finite_parameters(critic, "critic")

            parts.update(
                value_loss=loss_v.item(), actor_grad_norm=float(actor_grad), critic_grad_norm=float(critic_grad)
            )
            for key, val in parts.items():
                sums[key] = sums.get(key, 0.0) + val
            count += 1
    return {key: val / max(count, 1) for key, val in sums.items()}
