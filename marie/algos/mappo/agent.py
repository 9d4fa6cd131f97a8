"""MAPPO baseline: parameter-shared actor on local observations (+ one-hot agent id), centralised critic on the
global state, available-action masking, GAE, ValueNorm, clipped Huber value loss (see ``config.MappoConfig``).

Rollouts are whole episodes; an update runs once ``batch_steps`` env steps are stored. A time-limit truncation
bootstraps from V(final state); a true termination does not.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from marie.data.episode import Episode
from marie.envs.base import EnvSpec
from marie.rl.networks import StateCritic, StochasticPolicy
from marie.rl.ppo import PPOBatch, ValueNorm, gae_returns, make_optimizer, normalize_advantages, ppo_update

if TYPE_CHECKING:
    from marie.config import TrainConfig


class MappoAgent:
    def __init__(self, spec: EnvSpec, cfg: TrainConfig, device: torch.device):
        self.spec, self.device = spec, device
        self.cfg = cfg.mappo
        in_dim = spec.obs_dim + spec.n_agents
        self.actor = StochasticPolicy(in_dim, spec.n_actions, self.cfg.hidden, self.cfg.layers, spec.discrete).to(device)
        self.critic = StateCritic(spec.state_dim, spec.n_agents, self.cfg.hidden, self.cfg.layers).to(device)
        ppo = self.cfg.ppo
        self.actor_opt = make_optimizer(self.actor, ppo.actor_lr, ppo)
        self.critic_opt = make_optimizer(self.critic, ppo.critic_lr, ppo)
        self.value_norm = ValueNorm(ppo.valuenorm_beta).to(device) if ppo.use_valuenorm else None
        self.agent_ids = torch.eye(spec.n_agents, device=device)
        self.pending: list[Episode] = []
        self.updates = 0

    # --- acting -----------------------------------------------------------------------------------------------
    def _actor_input(self, obs: torch.Tensor) -> torch.Tensor:
        ids = self.agent_ids.expand(*obs.shape[:-1], self.spec.n_agents)
        return torch.cat([obs, ids], dim=-1)

    def begin_episodes(self, num_envs: int) -> None:
        pass  # feed-forward policy: no per-episode state

    @torch.no_grad()
    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray:
        feat = self._actor_input(torch.tensor(obs, device=self.device))
        mask = torch.tensor(avail, device=self.device) if self.spec.discrete else None
        dist = self.actor.distribution(feat, mask)
        action = dist.mode() if mode == "greedy" else dist.sample()
        return action.cpu().numpy()

    # --- learning ---------------------------------------------------------------------------------------------
    def observe(self, episode: Episode) -> dict[str, float]:
        self.pending.append(episode)
        if sum(len(ep) for ep in self.pending) < self.cfg.batch_steps:
            return {}
        batch = self._build_batch(self.pending)
        self.pending = []
        metrics = ppo_update(self.actor, self.critic, self.actor_opt, self.critic_opt, batch, self.cfg.ppo, self.value_norm)
        self.updates += 1
        return {f"mappo/{k}": v for k, v in metrics.items()} | {"mappo/updates": float(self.updates)}

    def _values(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(raw critic output, denormalised value) per agent."""
        raw = self.critic(states).squeeze(-1)
        return raw, (self.value_norm.denormalize(raw) if self.value_norm is not None else raw)

    @torch.no_grad()
    def _build_batch(self, episodes: list[Episode]) -> PPOBatch:
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("feat", "state", "act", "avail", "adv", "ret", "old_v")}
        ppo = self.cfg.ppo
        for ep in episodes:
            dev = self.device
            obs = torch.as_tensor(ep.obs, device=dev)
            states = torch.as_tensor(ep.state, device=dev)
            raw_v, values = self._values(states)
            _, next_final = self._values(torch.as_tensor(ep.next_state, device=dev)[None])
            next_values = torch.cat([values[1:], next_final if ep.truncated else torch.zeros_like(next_final)])
            terminal = torch.zeros_like(values)
            terminal[-1] = 1.0 if ep.terminated else 0.0
            rewards = torch.as_tensor(ep.reward, device=dev)
            adv, ret = gae_returns(rewards, values, next_values, terminal, ppo.gamma, ppo.lam)
            parts["feat"].append(self._actor_input(obs))
            parts["state"].append(states)
            parts["act"].append(torch.as_tensor(ep.actions, device=dev))
            parts["avail"].append(torch.as_tensor(ep.avail, device=dev))
            parts["adv"].append(adv)
            parts["ret"].append(ret)
            parts["old_v"].append(raw_v)
        cat = {k: torch.cat(v) for k, v in parts.items()}
        avail = cat["avail"] if self.spec.discrete else None
        actions = cat["act"].long() if self.spec.discrete else cat["act"].float()
        old_logp = self.actor.distribution(cat["feat"], avail).log_prob(actions)
        adv = normalize_advantages(cat["adv"]) if ppo.normalize_advantages else cat["adv"]
        return PPOBatch(cat["feat"], cat["state"], actions, old_logp, adv, cat["ret"], cat["old_v"], avail)

    # --- checkpointing ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "value_norm": None if self.value_norm is None else self.value_norm.state_dict(),
            "pending": [dataclasses.asdict(ep) for ep in self.pending],  # plain data: checkpoints load weights_only
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        if self.value_norm is not None:
            self.value_norm.load_state_dict(state["value_norm"])
        self.pending = [Episode(**fields) for fields in state["pending"]]
        self.updates = state["updates"]


def make(spec: EnvSpec, cfg: TrainConfig, device: torch.device) -> MappoAgent:
    return MappoAgent(spec, cfg, device)
