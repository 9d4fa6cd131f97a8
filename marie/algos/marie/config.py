"""MARIE's typed config section (``TrainConfig.marie``, ``--set marie.key=value``), its per-env defaults and presets,
and its registration. Torch-free: loading a config never loads the model code.

Keys in the tables below are relative to the ``marie`` section.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from marie.errors import UsageError
from marie.models.configs import PRECISIONS, TOKENIZER_KINDS, ImaginationConfig, TokenizerConfig, WorldModelConfig
from marie.registry import AlgorithmSpec
from marie.rl.configs import ActorCriticConfig, PPOConfig


@dataclass
class ScheduleConfig:
    """MARIE's training schedule (spec §1.3); updates per round live in the tokenizer/world-model configs."""

    n_samples: int = 100  # env steps per round (N_SAMPLES)
    min_buffer: int = 1000  # MIN_BUFFER_SIZE
    world_model_start_round: int = 10  # world model trains when round >= this (train_count > 9)
    actor_critic_start_round: int = 20  # train_count > 19
    imaginations_per_round: int = 5  # EPOCHS
    capacity: int = 250_000  # flat buffer capacity (time steps)


def _original_flag_defaults() -> WorldModelConfig:
    # The original's --ce_for_av and --ce_for_r are off unless passed (every published SMAC command passes
    # --ce_for_av; the paper_smac suite does too). WorldModelConfig's own default stays the published setting.
    return WorldModelConfig(ce_for_av=False, ce_for_r=False)


@dataclass
class MarieConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    world_model: WorldModelConfig = field(default_factory=_original_flag_defaults)
    imagination: ImaginationConfig = field(default_factory=ImaginationConfig)
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    temperature: float = 1.0  # --temperature: divides the masked logits in data collection only
    sample_temp: float = math.inf  # --sample_temp: balanced sampling of the flat buffer (inf = ~uniform)
    stack_obs: int = 1  # frame stack of the policy input (5 on SMAC, 4 on GRF)
    average_r: bool = False  # --average_r
    # Multiplies the env reward before the world model learns it (imagined rewards are in these units). 1 = the
    # original. SMAX's team reward is ~1/10 of SMAC's (its episode return is at most ~2, SMAC's 20), see README.
    reward_scale: float = 1.0
    use_old_critic: bool = False  # MPE: lambda-returns from a periodically refreshed critic copy
    target_update: int = 20
    # Faithful-vs-fixed switches (spec §10.1); defaults are the original's behaviour.
    start_sampling: str = "episode"  # bug #6: "episode" (uniform per episode, original) or "step"
    time_limit_as_termination: bool = True  # bug #3: False gives time-limit ends continuation target 1
    agent0_length_bug: bool = True  # bug #5: SMAX episode length counts agent 0's dead steps

    def validate(self) -> None:
        """Checks of the resolved section (called by ``marie.config.validate``): one line naming value and choices."""
        checks = [
            ("marie.tokenizer.kind (--tokenizer)", self.tokenizer.kind, TOKENIZER_KINDS),
            ("marie.start_sampling", self.start_sampling, ("episode", "step")),
            ("marie.actor_critic.kind", self.actor_critic.kind, ("smac", "mappo_style")),
            ("marie.world_model.precision", self.world_model.precision, PRECISIONS),
        ]
        for name, value, valid in checks:
            if value not in valid:
                raise UsageError(f"invalid {name} {value!r}; valid choices: {', '.join(valid)}")
        if self.temperature <= 0:
            raise UsageError(f"invalid --temperature {self.temperature!r}: must be > 0")
        if self.sample_temp <= 0:
            raise UsageError(f"invalid --sample_temp {self.sample_temp!r}: must be > 0 (inf = uniform)")
        if not 0.0 <= self.tokenizer.decay < 1.0:
            raise UsageError(f"invalid --decay {self.tokenizer.decay!r}: must be in [0, 1)")
        scale = self.world_model.aggregate_output_scale
        if not scale >= 0:
            raise UsageError(f"invalid marie.world_model.aggregate_output_scale {scale!r}: must be >= 0 (0: off)")


# --- per-environment defaults of the original (spec §7.3) -----------------------------------------------------------
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "starcraft": {
        "stack_obs": 5,
        "imagination.clamp_obs": True,
    },
    "smax": {
        "stack_obs": 1,
        "imagination.clamp_obs": True,
    },
    "pettingzoo": {
        "tokenizer.kind": "bins",
        "schedule.min_buffer": 500,
        "schedule.n_samples": 200,
        "tokenizer.updates_per_round": 100,
        "schedule.world_model_start_round": 6,
        "world_model.batch_size": 40,
        "world_model.reward_min": -4.0,
        "world_model.reward_max": 4.0,
        "world_model.predict_avail": False,
        "imagination.clamp_obs": False,
        "actor_critic.kind": "mappo_style",
        "actor_critic.hidden": 128,
        "actor_critic.layers": 1,
        "ppo.weight_decay": 0.0,
        "ppo.adam_eps": 1e-5,
        "ppo.grad_clip": 10.0,
        "ppo.normalize_advantages": False,
        "use_old_critic": True,
    },
    "mamujoco": {
        "tokenizer.embed_dim": 64,
        "schedule.min_buffer": 500,
        "schedule.n_samples": 200,
        "tokenizer.updates_per_round": 100,
        "world_model.batch_size": 40,
        "world_model.predict_avail": False,
        "imagination.clamp_obs": False,
        "actor_critic.kind": "mappo_style",
        "actor_critic.hidden": 128,
        "actor_critic.layers": 3,
        "ppo.weight_decay": 0.0,
        "ppo.adam_eps": 1e-5,
        "ppo.grad_clip": 10.0,
        "ppo.minibatch_size": 0,
        "ppo.clip": 0.1,
        "ppo.use_valuenorm": True,
        "ppo.value_loss": "huber",
        "ppo.clip_value_loss": True,
        "ppo.value_clip": 0.1,
    },
    "football": {
        "tokenizer.embed_dim": 32,
        "stack_obs": 4,
        "schedule.n_samples": 200,
        "world_model.reward_min": -1.0,
        "world_model.reward_max": 1.0,
        "world_model.reward_bins": 50,
        "world_model.predict_avail": False,
        "imagination.clamp_obs": False,
        "actor_critic.kind": "mappo_style",
        "actor_critic.hidden": 64,
        "actor_critic.layers": 2,
        "ppo.weight_decay": 0.0,
        "ppo.adam_eps": 1e-5,
        "ppo.grad_clip": 10.0,
    },
}

# --- presets ----------------------------------------------------------------------------------------------------------
# `quick` is what the default CPU suite runs: a smaller world model and fewer updates per round, so that a 20K-step
# SMAX run fits in minutes on 2 cores. Every output of a quick run says "preset: quick"; it is not the paper setting.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "tokenizer.num_tokens": 8,
        "tokenizer.embed_dim": 32,
        "tokenizer.codebook_size": 128,
        "tokenizer.hidden_dim": 128,
        "tokenizer.batch_size": 128,
        "tokenizer.updates_per_round": 25,
        "world_model.num_layers": 2,
        "world_model.embed_dim": 128,
        "world_model.num_heads": 4,
        "world_model.head_hidden": 128,
        "world_model.perceiver_depth": 1,
        "world_model.perceiver_heads": 4,
        "world_model.perceiver_dim_head": 32,
        "world_model.max_blocks": 8,
        "world_model.batch_size": 8,
        "world_model.updates_per_round": 25,
        "imagination.num_starts": 128,
        "imagination.horizon": 8,
        "schedule.n_samples": 400,
        "schedule.min_buffer": 500,
        "schedule.world_model_start_round": 2,
        "schedule.actor_critic_start_round": 3,
        "schedule.imaginations_per_round": 2,
        "schedule.capacity": 50_000,
        "actor_critic.hidden": 128,
        "actor_critic.critic_hidden": 128,
        "ppo.epochs": 4,
        "ppo.minibatch_size": 512,
    },
    "smoke": {
        "tokenizer.num_tokens": 4,
        "tokenizer.embed_dim": 16,
        "tokenizer.codebook_size": 32,
        "tokenizer.hidden_dim": 32,
        "world_model.num_layers": 1,
        "world_model.embed_dim": 32,
        "world_model.num_heads": 2,
        "world_model.head_hidden": 32,
        "world_model.perceiver_depth": 1,
        "world_model.perceiver_heads": 2,
        "world_model.perceiver_dim_head": 16,
        "world_model.max_blocks": 4,
        "world_model.batch_size": 4,
        "imagination.num_starts": 16,
        "imagination.horizon": 4,
        "schedule.n_samples": 100,
        "schedule.min_buffer": 300,
        "tokenizer.updates_per_round": 4,
        "world_model.updates_per_round": 4,
        "schedule.world_model_start_round": 2,
        "schedule.actor_critic_start_round": 3,
        "schedule.imaginations_per_round": 1,
        "schedule.capacity": 5000,
        "actor_critic.hidden": 32,
        "actor_critic.critic_hidden": 32,
        "ppo.epochs": 2,
        "ppo.minibatch_size": 64,
    },
}

# Per-environment additions to a preset, applied right after it. On SMAX the generic `quick` schedule does not learn
# within CPU budgets (measured: win rate 0 at 20K steps): its world model gets ~1,000 updates in a whole run and never
# learns that the team reward depends on the other agents' attacks (a linear probe explains 93% of the reward from all
# agents' actions, 29% from the world model's aggregated-token state). These values give it ~50 updates of 16
# sequences per 200 env steps at a higher learning rate, start the policy only after ~600 of them, and rescale SMAX's
# reward to SMAC's range (SMAX episode returns are at most ~2, SMAC's 20) so that the reward loss is not swamped by the
# observation loss. 4 tokens per observation instead of the quick preset's 8 halve the world model's sequence and the
# imagination's per-token passes (a round costs 0.6x) and learned as early on 3m and 2m_vs_1z, while cutting the
# updates instead (30 per round, 1 imagination) delayed the first win on 3m from 5K to 8K steps. Measured in README
# "Learning benchmark".
PRESET_ENV: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "smax"): {
        "tokenizer.num_tokens": 4,
        "reward_scale": 10.0,
        "world_model.lr": 1e-3,
        "world_model.batch_size": 16,
        "world_model.micro_batch_size": 0,
        "world_model.updates_per_round": 50,
        "schedule.n_samples": 200,
        "schedule.min_buffer": 1000,
        "schedule.world_model_start_round": 1,
        "schedule.actor_critic_start_round": 12,
        "imagination.num_starts": 256,
    },
    # HalfCheetah 2x3 (and the other MAMuJoCo tasks) under the generic quick schedule: the eval return stays at
    # -8 and -15 over the last third of 20K steps (seeds 1-2). The SMAX levers - reward x10, 4 tokens per
    # observation, 50 updates per round at lr 1e-3 in one pass - gave 86 and 32 at a lower cost per round (14 and -3
    # with the current dropout and sampling random streams), but not by learning: the world model's reward error
    # stays at the median's in every HalfCheetah run, even with lossless bin tokens (scripts/reward_probe.py
    # --world-model), so MAPPO is ahead. Neither FSQ, 16 tokens, bins, more tokenizer updates, an HL-Gauss reward
    # head, a later policy start nor a smaller aggregation scale (world_model.aggregate_init_scale) helped (README
    # "How the quick schedules were chosen"). The Perceiver's output swamping the aggregated token was found later;
    # normalising it (world_model.aggregate_output_scale=0.02) with the raw state (env.obs=state) and bin tokens lets
    # the reward be learned on one seed of two, and the returns still fell (policy exploitation): not adopted.
    ("quick", "mamujoco"): {
        "tokenizer.num_tokens": 4,
        "reward_scale": 10.0,
        "world_model.lr": 1e-3,
        "world_model.micro_batch_size": 0,
        "world_model.updates_per_round": 50,
    },
}


ALGORITHM = AlgorithmSpec(
    name="marie",
    config=MarieConfig,
    factory="marie.algos.marie.agent:make",
    env_defaults=ENV_DEFAULTS,
    presets=PRESETS,
    preset_env=PRESET_ENV,
)
