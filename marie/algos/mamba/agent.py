"""MAMBA as an ``Agent`` (docs/architecture.md): acting through the RSSM filter, and MAMBA's learner schedule:

    per finished episode: store it (+ absorbing steps after a true termination); once ``n_samples`` new steps are
    stored and the buffer holds ``min_buffer`` steps:
      world model: ``world_model.updates`` updates on ``world_model.batch_size`` windows of ``buffer.seq_len`` steps
      actor-critic: ``imagination.rounds`` x [sample windows -> filter -> imagine from every posterior state -> PPO]

The acting filter (the previous posterior state and action of every env copy) lives here, is reset by
``begin_episodes`` and is part of ``state_dict``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections import defaultdict
from typing import Any

import numpy as np
import torch

from marie.algos.mamba.buffer import EpisodeLike, SequenceBuffer, model_window
from marie.algos.mamba.config import MambaConfig
from marie.algos.mamba.heads import MambaWorldModel
from marie.algos.mamba import imagination as im
from marie.algos.mamba.losses import world_model_loss
from marie.algos.mamba.rssm import RSSMState
from marie.envs.base import EnvSpec
from marie.errors import UsageError
from marie.models.component import MeanMetrics, train_component
from marie.models.outputs import in_env_reward_units
from marie.rl.networks import build_marie_actor_critic
from marie.rl.ppo import PPOBatch, ValueNorm, make_optimizer, ppo_update


def check_config(mc: MambaConfig, spec: EnvSpec) -> None:
    """One-line errors for settings that cannot work on this env."""
    if mc.world_model.predict_avail and not spec.discrete:
        raise UsageError("mamba.world_model.predict_avail=true needs discrete actions; valid here: false")
    mc.validate()


class MambaAgent:
    def __init__(self, spec: EnvSpec, cfg: Any, device: torch.device):
        self.spec, self.device, self.cfg = spec, device, cfg.mamba
        mc = self.cfg
        check_config(mc, spec)
        self.model = MambaWorldModel(mc, spec.obs_dim, spec.n_actions, spec.discrete, mc.world_model.predict_avail)
        self.model.to(device).eval()
        self.actor, self.critic = build_marie_actor_critic(
            mc.actor_critic, self.model.feat_dim, spec.n_actions, spec.discrete
        )
        self.actor.to(device)
        self.critic.to(device)
        self.old_critic = copy.deepcopy(self.critic) if mc.use_old_critic else None
        ppo = mc.ppo
        self.model_opt = torch.optim.Adam(self.model.parameters(), lr=mc.world_model.lr)
        self.actor_opt = make_optimizer(self.actor, ppo.actor_lr, ppo)
        critic_ppo = dataclasses.replace(ppo, weight_decay=mc.critic_weight_decay)
        self.critic_opt = make_optimizer(self.critic, ppo.critic_lr, critic_ppo)
        self.value_norm = ValueNorm(ppo.valuenorm_beta).to(device) if ppo.use_valuenorm else None
        self.buffer = SequenceBuffer(mc.buffer.capacity, spec.n_agents, spec.obs_dim, spec.n_actions, spec.discrete,
                                     spec.action_low, spec.action_high)  # fmt: skip
        self.accum = 0
        self.trainings = 0
        self.target_counter = 1  # as MARIE's old-critic refresh counter
        self.entropy_coef = ppo.entropy_coef
        self.filter_state: RSSMState | None = None  # (B,N,·) posterior of the last acting step
        self.prev_action: torch.Tensor | None = None  # (B,N,A) the RSSM's vector of the last action
        self.timings: dict[str, float] = defaultdict(float)
        # Own stream for buffer sampling, latent and avail samples in training, seeded from the run seed.
        self._gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,))))

    # --- acting: the RSSM filter (MAMBA's DreamerController) ----------------------------------------------------
    def begin_episodes(self, num_envs: int) -> None:
        self.filter_state = self.model.rssm.initial_state((num_envs,), self.spec.n_agents, self.device)
        self.prev_action = torch.zeros(num_envs, self.spec.n_agents, self.spec.n_actions, device=self.device)

    @torch.no_grad()
    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray:
        """Sampled latents and actions in ``collect``/``sample``; latent and action modes in ``greedy``."""
        stochastic = mode != "greedy"
        embed = self.model.encoder(torch.tensor(obs, device=self.device))
        _, post = self.model.rssm.filter_step(embed, self.prev_action, self.filter_state, sample=stochastic)
        mask = torch.tensor(avail, device=self.device) if self.spec.discrete else None
        dist = self.actor.distribution(post.features(), mask)
        action = dist.sample() if stochastic else dist.mode()
        self.filter_state, self.prev_action = post, self.model.action_input(action)
        return action.cpu().numpy()

    # --- learning (MAMBA's DreamerLearner.step) -------------------------------------------------------------------
    def observe(self, episode: EpisodeLike) -> dict[str, float]:
        mc = self.cfg
        self.accum += self.store(episode)
        if self.accum < mc.schedule.n_samples or self.buffer.size < mc.schedule.min_buffer:
            return {}
        new_steps, self.accum = self.accum, 0
        metrics = {"mamba/trainings": float(self.trainings + 1)}
        if self.trainings > 0:  # the world model has trained: score it on the steps it has not seen yet
            metrics |= self.held_out_world_model(new_steps)
        self.trainings += 1
        metrics |= self._timed("world_model", self.train_world_model)
        if self.trainings >= mc.schedule.actor_critic_start:
            metrics |= self._timed("actor_critic", self.train_actor_critic)
        return metrics

    def _timed(self, phase: str, fn) -> dict[str, float]:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
        self.timings[phase] += seconds
        return out | {f"{phase}/seconds": seconds}

    def _window(self, batch_size: int):
        window = self.buffer.sample(batch_size, self.cfg.buffer.seq_len, self._gen)
        return model_window(window, self.model.action_input, self.device)

    @torch.no_grad()
    def held_out_world_model(self, new_steps: int) -> dict[str, float]:
        """World-model losses, reward MAE and continuation accuracy on windows of the newest ``new_steps`` steps."""
        wc = self.cfg.world_model
        window = self.buffer.recent(wc.batch_size, self.cfg.buffer.seq_len, new_steps, self._gen)
        if window is None:
            return {}
        batch = model_window(window, self.model.action_input, self.device)
        _, parts = world_model_loss(self.model, batch, wc, self._gen)
        held = {key.replace("world_model/", "world_model_holdout/"): v for key, v in parts.items()}
        return in_env_reward_units(held, "world_model_holdout/", self.cfg.reward_scale)  # like train/*

    # --- the phases of a training step, public so that ``marie bench`` times the same code -------------------------
    def store(self, episode: EpisodeLike) -> int:
        """Append one episode to the replay (no training); returns the steps stored."""
        mc = self.cfg
        return self.buffer.add(episode, mc.buffer.absorbing_steps, self._gen, mc.reward_scale)

    def train_world_model(self, updates: int | None = None) -> dict[str, float]:
        """``updates`` (default: the config's) world-model updates; mean losses in env reward units."""
        wc = self.cfg.world_model

        def backward(window) -> dict[str, float]:
            loss, parts = world_model_loss(self.model, window, wc, self._gen)
            loss.backward()
            return parts

        # train mode (dropout in the cross-agent transformer, as MAMBA's train_model), finiteness checks, eval after
        means = train_component(self.model, self.model_opt, updates=wc.updates if updates is None else updates,
                                grad_clip=wc.grad_clip, sample=lambda: self._window(wc.batch_size), backward=backward)
        return in_env_reward_units(means, "world_model/", self.cfg.reward_scale)

    def _policy(self, feat: torch.Tensor, avail: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        dist = self.actor.distribution(feat, avail if self.spec.discrete else None)
        action = dist.sample(self._gen)
        return (action, dist.logits) if self.spec.discrete else (action, dist.log_prob(action))

    def start_states(self, sequences: int | None = None) -> RSSMState:
        """Every posterior state but the last of ``sequences`` (default: imagination.batch_size) sampled windows."""
        count = self.cfg.imagination.batch_size if sequences is None else sequences
        return im.posterior_starts(self.model, self._window(count), self._gen)

    def imagine(self, start: RSSMState) -> im.Rollout:
        ic = self.cfg.imagination
        return im.imagine(self.model, self._policy, start, ic.horizon, ic.average_reward, self._gen)

    def ppo_batch(self, rollout: im.Rollout) -> tuple[PPOBatch, dict[str, float]]:
        mc = self.cfg
        batch, stats = im.ppo_batch(rollout, self.critic, self.old_critic, self.value_norm, mc.ppo, self.spec.discrete)
        stats["imagined_reward"] /= mc.reward_scale  # env units, like train/*
        return batch, stats

    def update_policy(self, batch: PPOBatch) -> dict[str, float]:
        """One PPO phase (epochs x minibatches) at the current entropy coefficient, then anneal it."""
        mc, ppo = self.cfg, self.cfg.ppo
        round_cfg = dataclasses.replace(ppo, entropy_coef=self.entropy_coef)
        out = ppo_update(self.actor, self.critic, self.actor_opt, self.critic_opt, batch, round_cfg, self.value_norm)
        size = len(batch) if ppo.minibatch_size <= 0 else ppo.minibatch_size
        self.entropy_coef *= mc.entropy_annealing ** (ppo.epochs * math.ceil(len(batch) / size))
        if self.old_critic is not None:
            self.target_counter += 1
            if self.target_counter % mc.target_update == 0:
                self.old_critic.load_state_dict(self.critic.state_dict())
        return out

    def train_actor_critic(self) -> dict[str, float]:
        """``imagination.rounds`` x [sample windows -> filter -> imagine from every posterior state -> PPO]."""
        means = MeanMetrics()
        for _ in range(self.cfg.imagination.rounds):
            start = self.start_states()
            batch, stats = self.ppo_batch(self.imagine(start))
            means.add(stats | {"entropy_coef": self.entropy_coef, "starts": float(start.deter.shape[0])})
            means.add(self.update_policy(batch))
        return {f"actor_critic/{k}": v for k, v in means.result().items()}

    # --- checkpoints ---------------------------------------------------------------------------------------------
    def _modules(self) -> dict[str, Any]:
        mods = {
            "model": self.model, "actor": self.actor, "critic": self.critic, "model_opt": self.model_opt,
            "actor_opt": self.actor_opt, "critic_opt": self.critic_opt,
        }  # fmt: skip
        optional = {"old_critic": self.old_critic, "value_norm": self.value_norm}
        return mods | {k: v for k, v in optional.items() if v is not None}

    def state_dict(self) -> dict[str, Any]:
        state = {name: mod.state_dict() for name, mod in self._modules().items()}
        acting = None
        if self.filter_state is not None:
            acting = {"logits": self.filter_state.logits, "stoch": self.filter_state.stoch,
                      "deter": self.filter_state.deter, "prev_action": self.prev_action}  # fmt: skip
        return state | {
            "buffer": self.buffer.state_dict(),
            "counters": {"accum": self.accum, "trainings": self.trainings, "target_counter": self.target_counter,
                         "entropy_coef": self.entropy_coef},  # fmt: skip
            "acting": acting,
            "generator": self._gen.get_state(),
            "timings": dict(self.timings),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, mod in self._modules().items():
            mod.load_state_dict(state[name])
        self.buffer.load_state_dict(state["buffer"])
        counters = state["counters"]
        self.accum, self.trainings = counters["accum"], counters["trainings"]
        self.target_counter, self.entropy_coef = counters["target_counter"], counters["entropy_coef"]
        acting = state["acting"]
        if acting is None:
            self.filter_state = self.prev_action = None
        else:
            to = lambda t: t.to(self.device)  # noqa: E731
            self.filter_state = RSSMState(logits=to(acting["logits"]), stoch=to(acting["stoch"]),
                                          deter=to(acting["deter"]))  # fmt: skip
            self.prev_action = to(acting["prev_action"])
        self._gen.set_state(state["generator"])
        self.timings = defaultdict(float, state["timings"])


def make(spec: EnvSpec, cfg: Any, device: torch.device) -> MambaAgent:
    """The registry factory: ``cfg`` is the run's TrainConfig (its ``mamba`` section is used)."""
    return MambaAgent(spec, cfg, device)
