"""MARIE as an ``Agent``: acting on reconstructed observations, and the original learner's schedule (spec §1.3):

    per finished episode: store it; once ``n_samples`` new env steps are in and the buffer holds ``min_buffer``:
      round += 1
      tokenizer: ``updates_per_round`` updates (skipped for the fixed binning of MPE)
      world model: ``updates_per_round`` updates from round ``world_model_start_round``
      actor-critic: ``imaginations_per_round`` x [sample starts -> imagine -> PPO] from ``actor_critic_start_round``
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from marie.algos.marie.buffers import EpisodeStore, FlatBuffer, FlatSample, timeout_mask
from marie.data.episode import Episode
from marie.envs.base import EnvSpec
from marie.models.component import MeanMetrics, backward_loss, train_component
from marie.models.imagination import ImaginationStart, ImaginedRollout, imagine, make_start_states
from marie.models.optim import make_tokenizer_optimizer, make_world_model_optimizer
from marie.models.outputs import in_env_reward_units
from marie.models.tokenizers import build_tokenizer
from marie.models.world_model import WorldModel, WorldModelBatch
from marie.rl.networks import build_marie_actor_critic
from marie.rl.ppo import PPOBatch, ValueNorm, lambda_returns, make_optimizer, normalize_advantages, ppo_update
from marie.runtime import release_free_memory

if TYPE_CHECKING:
    from marie.config import TrainConfig


class MarieAgent:
    def __init__(self, spec: EnvSpec, cfg: TrainConfig, device: torch.device):
        self.spec, self.device, self.cfg = spec, device, cfg.marie
        mc = self.cfg
        self.tokenizer = build_tokenizer(mc.tokenizer, spec.obs_dim).to(device)
        self.world_model = WorldModel(
            mc.world_model,
            num_agents=spec.n_agents,
            obs_vocab_size=self.tokenizer.vocab_size,
            tokens_per_obs=self.tokenizer.tokens_per_obs,
            num_actions=spec.n_actions,
            continuous_actions=not spec.discrete,
            action_low=spec.action_low,
            action_high=spec.action_high,
        ).to(device)
        feat_dim = spec.obs_dim * mc.stack_obs
        self.actor, self.critic = build_marie_actor_critic(mc.actor_critic, feat_dim, spec.n_actions, spec.discrete)
        self.actor.to(device)
        self.critic.to(device)
        self.old_critic = copy.deepcopy(self.critic) if mc.use_old_critic else None
        self.tokenizer_opt = make_tokenizer_optimizer(self.tokenizer, mc.tokenizer) if self.tokenizer.trainable else None
        self.world_model_opt = make_world_model_optimizer(self.world_model, mc.world_model)
        self.actor_opt = make_optimizer(self.actor, mc.ppo.actor_lr, mc.ppo)
        self.critic_opt = make_optimizer(self.critic, mc.ppo.critic_lr, mc.ppo)
        self.value_norm = ValueNorm(mc.ppo.valuenorm_beta).to(device) if mc.ppo.use_valuenorm else None
        self.buffer = FlatBuffer(mc.schedule.capacity, spec.n_agents, spec.obs_dim, spec.n_actions, spec.discrete)
        self.episodes = EpisodeStore(mc.agent0_length_bug, mc.start_sampling)
        self.accum = 0
        self.rounds = 0
        self.target_counter = 1  # the original's old-critic refresh counter starts at 1
        self.stack: torch.Tensor | None = None  # (B, stack, N, d) frames the policy acts on
        self.timings: dict[str, float] = defaultdict(float)
        # Own RNG streams for buffer sampling, world-model sampling and start selection, seeded from the run seed.
        self._gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, (1,))))
        # The world model samples (obs tokens, avail masks) on the model's device, which needs a generator there; on
        # CPU it is the same stream as the buffer's (as before), on an accelerator its own, seeded from that stream.
        self._wm_gen = self._gen
        if device.type != "cpu":
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self._gen))
            self._wm_gen = torch.Generator(device).manual_seed(seed)
        self._np_rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,))))

    # --- acting (the controller, spec §1.2) ---------------------------------------------------------------------
    def begin_episodes(self, num_envs: int) -> None:
        n, d = self.spec.n_agents, self.spec.obs_dim
        self.stack = torch.zeros(num_envs, self.cfg.stack_obs, n, d, device=self.device)

    @torch.inference_mode()  # the acting step: no autograd bookkeeping at all
    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray:
        if self.tokenizer.training:  # eval() walks every submodule: only when a training phase left it on
            self.tokenizer.eval()
        recon = self.tokenizer.encode_decode(torch.tensor(obs, device=self.device))  # no clamp here (faithful)
        self.stack = torch.cat([self.stack[:, 1:], recon[:, None]], dim=1)
        feat = self._stacked(self.stack)
        mask = torch.tensor(avail, device=self.device) if self.spec.discrete else None
        temperature = self.cfg.temperature if mode == "collect" else 1.0
        dist = self.actor.distribution(feat, mask, temperature=temperature)
        action = dist.mode() if mode == "greedy" else dist.sample()
        return action.cpu().numpy()

    @staticmethod
    def _stacked(frames: torch.Tensor) -> torch.Tensor:
        """(..., stack, N, d) oldest first -> (..., N, stack*d)."""
        moved = frames.movedim(-3, -2)  # (..., N, stack, d)
        return moved.reshape(*moved.shape[:-2], -1)

    # --- learning: the schedule -------------------------------------------------------------------------------
    def observe(self, episode: Episode) -> dict[str, float]:
        self.store(episode)
        schedule = self.cfg.schedule
        self.accum += len(episode)
        if self.accum < schedule.n_samples or self.buffer.size < schedule.min_buffer:
            return {}
        new_steps, self.accum = self.accum, 0
        self.rounds += 1
        metrics: dict[str, float] = {"marie/round": float(self.rounds)}
        if self.rounds > schedule.world_model_start_round:  # the world model has trained: test it on unseen data
            metrics |= self._held_out_world_model(new_steps)
        if self.tokenizer.trainable:
            metrics |= self._timed("tokenizer", self.train_tokenizer)
        if self.rounds >= schedule.world_model_start_round:
            metrics |= self._timed("world_model", self.train_world_model)
        if self.rounds >= schedule.actor_critic_start_round:
            metrics |= self._timed("actor_critic", self.train_actor_critic)
        return metrics

    # --- the phases (public: ``marie bench`` times them one by one) -------------------------------------------
    def store(self, episode: Episode) -> None:
        """Add a finished episode to both stores, in the units the world model learns (``reward_scale``)."""
        if self.cfg.reward_scale != 1.0:
            episode = dataclasses.replace(episode, reward=episode.reward * np.float32(self.cfg.reward_scale))
        self.buffer.add(episode, self._timeouts(episode))
        self.episodes.add(episode)

    def _timeouts(self, episode: Episode) -> np.ndarray | None:
        """Bug #3 of spec §10.1: the original learns a time-limit end as a termination (the default here too)."""
        return None if self.cfg.time_limit_as_termination else timeout_mask(episode)

    def _timed(self, phase: str, fn) -> dict[str, float]:
        start = time.perf_counter()
        out = fn()
        release_free_memory()
        seconds = time.perf_counter() - start
        self.timings[phase] += seconds
        return out | {f"{phase}/seconds": seconds}

    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device, dtype=dtype)

    def train_tokenizer(self, updates: int | None = None) -> dict[str, float]:
        """``updates`` (default: a round's) tokenizer updates on single steps of the flat buffer."""
        tc = self.cfg.tokenizer

        def sample() -> torch.Tensor:
            batch = self.buffer.sample(tc.batch_size, 1, "tokenizer", self.cfg.sample_temp, self._gen)
            return self._tensor(batch.obs[:, 0])

        return train_component(
            self.tokenizer, self.tokenizer_opt, updates=tc.updates_per_round if updates is None else updates,
            grad_clip=tc.grad_clip, sample=sample,
            backward=lambda obs: backward_loss(self.tokenizer.compute_loss(obs), "tokenizer/"),
        )  # fmt: skip

    def train_world_model(self, updates: int | None = None) -> dict[str, float]:
        """``updates`` (default: a round's) world-model updates on ``max_blocks``-step sequences of the flat buffer."""
        wc = self.cfg.world_model
        self.tokenizer.eval()
        return train_component(
            self.world_model, self.world_model_opt, updates=wc.updates_per_round if updates is None else updates,
            grad_clip=wc.grad_clip,
            sample=lambda: self.buffer.sample(wc.batch_size, wc.max_blocks, "model", self.cfg.sample_temp, self._gen),
            backward=lambda sample: self._world_model_passes(sample, "world_model/", backward=True),
        )  # fmt: skip

    def _world_model_passes(self, sample: FlatSample, prefix: str, backward: bool) -> dict[str, float]:
        """The world-model loss of a batch computed in micro-batches of ``micro_batch_size`` sequences, each weighted
        by its share of the batch (every loss part is a mean over sequences, so the sum equals the batch's loss);
        with ``backward`` the weighted gradients accumulate in the parameters."""
        count = len(sample.obs)
        step = self.cfg.world_model.micro_batch_size or count
        parts: dict[str, float] = defaultdict(float)
        for begin in range(0, count, step):
            share = min(step, count - begin) / count
            out = self.world_model.compute_loss(self.world_model_batch(sample, slice(begin, begin + step)))
            if backward:
                (out.loss * share).backward()
            for key, value in out.scalars(prefix).items():
                parts[key] += value * share
        # The losses stay in the units the model learns; the MAEs are reported in the env's reward units.
        return in_env_reward_units(dict(parts), prefix, self.cfg.reward_scale)

    @torch.no_grad()
    def _held_out_world_model(self, new_steps: int) -> dict[str, float]:
        """World-model losses and accuracies on the steps collected since the last round (never trained on)."""
        wc = self.cfg.world_model
        sample = self.buffer.recent(wc.batch_size, wc.max_blocks, new_steps, self._np_rng)
        if sample is None:
            return {}
        self.world_model.eval()
        return self._world_model_passes(sample, "world_model_holdout/", backward=False)

    @torch.no_grad()
    def world_model_batch(self, sample: FlatSample, rows: slice) -> WorldModelBatch:
        """Rows ``rows`` of a flat-buffer sample as the world model's batch (observations tokenized)."""
        return WorldModelBatch(
            obs_tokens=self.tokenizer.encode(self._tensor(sample.obs[rows])),
            actions=self._tensor(sample.actions[rows]),
            rewards=self._tensor(sample.reward[rows]),
            dones=self._tensor(sample.done[rows], torch.float32),
            timeouts=self._tensor(sample.timeout[rows]),
            avail=self._tensor(sample.avail[rows]) if self.spec.has_avail else None,
        )

    def _policy(self, feat: torch.Tensor, avail: torch.Tensor | None):
        dist = self.actor.distribution(feat, avail if self.spec.discrete else None)
        action = dist.sample()
        if self.spec.discrete:
            return action, dist.logits, None
        return action, dist.log_prob(action), None

    def start_states(self, count: int) -> ImaginationStart:
        """``count`` imagination starts drawn from the episode store, encoded with the current tokenizer."""
        starts = self.episodes.sample(count, self.cfg.stack_obs - 1, self._np_rng)
        return make_start_states(
            self.tokenizer,
            self._tensor(starts.obs),
            self._tensor(starts.avail) if self.spec.discrete else None,
            None if starts.history is None else self._tensor(starts.history),
            None if starts.history_filled is None else self._tensor(starts.history_filled),
        )

    def imagine(
        self, start: ImaginationStart, *, use_kv_cache: bool = True, generator: torch.Generator | None = None
    ) -> ImaginedRollout:
        """Roll the current policy out in the world model (``generator``: the agent's own stream by default)."""
        gen = self._wm_gen if generator is None else generator
        return imagine(self.world_model, self.tokenizer, self._policy, start, self.cfg.imagination,
                       use_kv_cache=use_kv_cache, generator=gen)  # fmt: skip

    def update_policy(self, batch: PPOBatch) -> dict[str, float]:
        """One PPO phase (epochs x minibatches) of actor and critic."""
        return ppo_update(self.actor, self.critic, self.actor_opt, self.critic_opt, batch, self.cfg.ppo, self.value_norm)

    def train_actor_critic(self) -> dict[str, float]:
        """A round's ``imaginations_per_round`` x [sample starts -> imagine -> PPO]."""
        mc, means = self.cfg, MeanMetrics()
        for _ in range(mc.schedule.imaginations_per_round):
            rollout = self.imagine(self.start_states(mc.imagination.num_starts))
            batch, stats = self.ppo_batch(rollout)
            means.add(stats)
            means.add(self.update_policy(batch))
            if self.old_critic is not None:
                self.target_counter += 1
                if self.target_counter % mc.target_update == 0:
                    self.old_critic.load_state_dict(self.critic.state_dict())
        return {f"actor_critic/{k}": v for k, v in means.result().items()}

    @torch.no_grad()
    def ppo_batch(self, rollout: ImaginedRollout) -> tuple[PPOBatch, dict[str, float]]:
        """lambda-returns over steps 0..H-2 bootstrapped with V_{H-1}; rows are (start, t) pairs (spec §5.3-5.5)."""
        ppo = self.cfg.ppo
        horizon = rollout.feats.shape[0]
        raw = self.critic(rollout.feats).squeeze(-1)  # (H,S,N), normalised outputs when ValueNorm is on
        values = self.value_norm.denormalize(raw) if self.value_norm is not None else raw
        target_values = values
        if self.old_critic is not None:  # MPE: lambda-return values from the periodically refreshed copy
            target_values = self.old_critic(rollout.feats).squeeze(-1)
        rewards = rollout.rewards[: horizon - 1]
        if self.cfg.average_r:
            rewards = rewards.mean(-1, keepdim=True).expand_as(rewards)
        returns = lambda_returns(rewards, rollout.continuations[: horizon - 1], target_values, ppo.gamma, ppo.lam)
        advantages = returns - values[: horizon - 1]
        if ppo.normalize_advantages:
            advantages = normalize_advantages(advantages)
        steps = horizon - 1
        flat = lambda t: t[:steps].reshape(-1, *t.shape[2:])  # noqa: E731  (T,S,N,...) -> (T*S,N,...)
        actions = flat(rollout.actions)
        if self.spec.discrete:
            logp = torch.log_softmax(rollout.logits_or_logp, -1).gather(-1, rollout.actions[..., None]).squeeze(-1)
            old_logp = flat(logp)
        else:
            old_logp = flat(rollout.logits_or_logp)
        avail = flat(rollout.avail) if (self.spec.discrete and rollout.avail is not None) else None
        batch = PPOBatch(
            feat=flat(rollout.feats), critic_input=flat(rollout.feats), actions=actions, old_logp=old_logp,
            advantages=flat(advantages), returns=flat(returns), old_values=flat(raw), avail=avail,
        )  # fmt: skip
        stats = {
            "returns": float(returns.mean()),
            "imagined_reward": float(rollout.rewards.mean()) / self.cfg.reward_scale,  # env units, like train/*
            "imagined_continuation": float(rollout.continuations.mean()),
            "value": float(values.mean()),
        }
        return batch, stats

    # --- randomness and checkpoints -----------------------------------------------------------------------------
    def _modules(self) -> dict[str, Any]:
        mods = {
            "tokenizer": self.tokenizer, "world_model": self.world_model, "actor": self.actor, "critic": self.critic,
            "world_model_opt": self.world_model_opt, "actor_opt": self.actor_opt, "critic_opt": self.critic_opt,
        }  # fmt: skip
        optional = {"old_critic": self.old_critic, "tokenizer_opt": self.tokenizer_opt, "value_norm": self.value_norm}
        mods.update({k: v for k, v in optional.items() if v is not None})
        return mods

    def state_dict(self) -> dict[str, Any]:
        state = {name: mod.state_dict() for name, mod in self._modules().items()}
        state |= {
            "buffer": self.buffer.state_dict(),
            "episodes": self.episodes.state_dict(),
            "counters": {"accum": self.accum, "rounds": self.rounds, "target_counter": self.target_counter},
            "generator": self._gen.get_state(),
            **({} if self._wm_gen is self._gen else {"wm_generator": self._wm_gen.get_state()}),
            "np_rng": self._np_rng.bit_generator.state,
            "timings": dict(self.timings),
        }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, mod in self._modules().items():
            mod.load_state_dict(state[name])
        self.buffer.load_state_dict(state["buffer"])
        self.episodes.load_state_dict(state["episodes"])
        counters = state["counters"]
        self.accum, self.rounds, self.target_counter = counters["accum"], counters["rounds"], counters["target_counter"]
        self._gen.set_state(state["generator"])
        if self._wm_gen is not self._gen:
            self._wm_gen.set_state(state["wm_generator"])
        self._np_rng.bit_generator.state = state["np_rng"]
        self.timings = defaultdict(float, state["timings"])


def make(spec: EnvSpec, cfg: TrainConfig, device: torch.device) -> MarieAgent:
    return MarieAgent(spec, cfg, device)
