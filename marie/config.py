"""Typed configuration: the single source of truth for every hyperparameter of a run.

Resolution order (later wins): dataclass defaults (the original's SMAC values) -> per-env defaults (spec §7.3) ->
preset (``paper`` changes nothing; ``quick`` and ``smoke`` shrink sizes and counts for CPU) -> the preset's per-env
additions (``PRESET_ENV_OVERRIDES``) -> config file ->
the original command-line flags -> ``--set dotted.key=value`` overrides.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from marie.algos import available as available_algorithms
from marie.errors import UsageError
from marie.models.configs import ImaginationConfig, TokenizerConfig, WorldModelConfig
from marie.rl.networks import ActorCriticConfig
from marie.rl.ppo import PPOConfig

PRESETS = ("paper", "quick", "smoke")
EVAL_MODES = ("paper", "standard")
WANDB_MODES = ("disabled", "offline", "online")
DEVICES = ("cpu", "cuda", "auto")


@dataclass
class EnvConfig:
    env: str = "smax"
    env_name: str = "3m"
    agent_conf: str | None = None
    n_workers: int = 1  # env copies collecting in parallel (vmap for SMAX, processes otherwise)
    seed: int = 1  # the run seed; everything is seeded with 23 + 100 * seed, as the original
    episode_limit: int | None = None  # None: the env's own limit


@dataclass
class EvalConfig:
    mode: str = "paper"  # paper: 10 sampled episodes every 500 steps; standard: 32 greedy episodes
    interval: int = 500
    episodes: int = 10
    temperature: float = 1.0  # sampling temperature of paper-mode evaluation (discrete actions)
    distinct_seeds: bool = True  # fix of the original, whose 10 eval workers shared one env seed
    num_envs: int = 0  # eval env copies run together; 0 = as many as episodes (capped at 32)


@dataclass
class RunConfig:
    algo: str = "marie"
    preset: str = "paper"
    steps: int = 1_000_000  # training env-step budget (--steps)
    max_episodes: int = 50_000  # the original's Experiment(episodes=50000)
    device: str = "cpu"
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    checkpoint_interval_s: float = 120.0  # wall-clock seconds between checkpoints (also one at the end)
    wandb_mode: str = "disabled"  # --mode
    wandb_project: str | None = None  # None: the env family name, as the original
    tensorboard: bool = False
    progress: str = "auto"  # auto: a live line on a TTY, a plain line per eval otherwise; none: silent


@dataclass
class ScheduleConfig:
    """MARIE's training schedule (spec §1.3); updates per round live in the tokenizer/world-model configs."""

    n_samples: int = 100  # env steps per round (N_SAMPLES)
    min_buffer: int = 1000  # MIN_BUFFER_SIZE
    world_model_start_round: int = 10  # world model trains when round >= this (train_count > 9)
    actor_critic_start_round: int = 20  # train_count > 19
    imaginations_per_round: int = 5  # EPOCHS
    capacity: int = 250_000  # flat buffer capacity (time steps)


@dataclass
class MarieConfig:
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
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


@dataclass
class MappoConfig:
    """MAPPO (Yu et al., NeurIPS 2022 D&B), MLP variant with parameter sharing and a centralised state critic.

    SMAC/SMAX defaults follow the paper's SMAC table (lr 5e-4, clip 0.2, entropy 0.01, gamma 0.99, GAE 0.95,
    ValueNorm, Huber delta 10, clipped value loss 0.2, grad clip 10, Adam eps 1e-5, hidden 64); MAMuJoCo uses the
    same with entropy 0 and hidden 128 as in the MAPPO/HAPPO MAMuJoCo settings. The paper's recurrent policy is not
    used (MLP only); rollouts are whole episodes (``batch_steps`` per update) instead of fixed 400-step chunks.
    """

    hidden: int = 64
    layers: int = 2
    batch_steps: int = 3200  # env steps collected per PPO update (paper: 400 steps x 8 threads)
    ppo: PPOConfig = field(
        default_factory=lambda: PPOConfig(
            epochs=15,
            minibatch_size=0,
            clip=0.2,
            entropy_coef=0.01,
            actor_lr=5e-4,
            critic_lr=5e-4,
            weight_decay=0.0,
            adam_eps=1e-5,
            grad_clip=10.0,
            value_loss="huber",
            clip_value_loss=True,
            value_clip=0.2,
            use_valuenorm=True,
        )
    )


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    run: RunConfig = field(default_factory=RunConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    marie: MarieConfig = field(default_factory=MarieConfig)
    mappo: MappoConfig = field(default_factory=MappoConfig)

    @property
    def random_seed(self) -> int:
        return 23 + 100 * self.env.seed


# --- per-environment defaults of the original (spec §7.3) -----------------------------------------------------------

# The original's flag defaults: --ce_for_av and --ce_for_r are off unless passed (every published SMAC command passes
# --ce_for_av; the paper_smac suite does too).
BASE_DEFAULTS: dict[str, Any] = {"marie.world_model.ce_for_av": False, "marie.world_model.ce_for_r": False}

ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "starcraft": {"marie.stack_obs": 5, "marie.imagination.clamp_obs": True},
    "smax": {"marie.stack_obs": 1, "marie.imagination.clamp_obs": True},
    "pettingzoo": {
        "marie.tokenizer.kind": "bins",
        "marie.schedule.min_buffer": 500,
        "marie.schedule.n_samples": 200,
        "marie.tokenizer.updates_per_round": 100,
        "marie.schedule.world_model_start_round": 6,
        "marie.world_model.batch_size": 40,
        "marie.world_model.reward_min": -4.0,
        "marie.world_model.reward_max": 4.0,
        "marie.world_model.predict_avail": False,
        "marie.imagination.clamp_obs": False,
        "marie.actor_critic.kind": "mappo_style",
        "marie.actor_critic.hidden": 128,
        "marie.actor_critic.layers": 1,
        "marie.ppo.weight_decay": 0.0,
        "marie.ppo.adam_eps": 1e-5,
        "marie.ppo.grad_clip": 10.0,
        "marie.ppo.normalize_advantages": False,
        "marie.use_old_critic": True,
    },
    "mamujoco": {
        "marie.tokenizer.embed_dim": 64,
        "marie.schedule.min_buffer": 500,
        "marie.schedule.n_samples": 200,
        "marie.tokenizer.updates_per_round": 100,
        "marie.world_model.batch_size": 40,
        "marie.world_model.predict_avail": False,
        "marie.imagination.clamp_obs": False,
        "marie.actor_critic.kind": "mappo_style",
        "marie.actor_critic.hidden": 128,
        "marie.actor_critic.layers": 3,
        "marie.ppo.weight_decay": 0.0,
        "marie.ppo.adam_eps": 1e-5,
        "marie.ppo.grad_clip": 10.0,
        "marie.ppo.minibatch_size": 0,
        "marie.ppo.clip": 0.1,
        "marie.ppo.use_valuenorm": True,
        "marie.ppo.value_loss": "huber",
        "marie.ppo.clip_value_loss": True,
        "marie.ppo.value_clip": 0.1,
        "mappo.hidden": 128,
        "mappo.ppo.entropy_coef": 0.0,
        "mappo.ppo.epochs": 5,
    },
    "football": {
        "marie.tokenizer.embed_dim": 32,
        "marie.stack_obs": 4,
        "marie.schedule.n_samples": 200,
        "marie.world_model.reward_min": -1.0,
        "marie.world_model.reward_max": 1.0,
        "marie.world_model.reward_bins": 50,
        "marie.world_model.predict_avail": False,
        "marie.imagination.clamp_obs": False,
        "marie.actor_critic.kind": "mappo_style",
        "marie.actor_critic.hidden": 64,
        "marie.actor_critic.layers": 2,
        "marie.ppo.weight_decay": 0.0,
        "marie.ppo.adam_eps": 1e-5,
        "marie.ppo.grad_clip": 10.0,
    },
}

# Evaluation protocols (docs/architecture.md); applied before the preset so a preset or --set can still change them.
EVAL_MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {"eval.mode": "paper", "eval.interval": 500, "eval.episodes": 10},
    "standard": {"eval.mode": "standard", "eval.interval": 10_000, "eval.episodes": 32},
}

# --- presets ----------------------------------------------------------------------------------------------------------
# `quick` is what the default CPU suite runs: a smaller world model and fewer updates per round, so that a 20K-step
# SMAX run fits in minutes on 2 cores. Every output of a quick run says "preset: quick"; it is not the paper setting.
PRESET_OVERRIDES: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "marie.tokenizer.num_tokens": 8,
        "marie.tokenizer.embed_dim": 32,
        "marie.tokenizer.codebook_size": 128,
        "marie.tokenizer.hidden_dim": 128,
        "marie.tokenizer.batch_size": 128,
        "marie.tokenizer.updates_per_round": 25,
        "marie.world_model.num_layers": 2,
        "marie.world_model.embed_dim": 128,
        "marie.world_model.num_heads": 4,
        "marie.world_model.head_hidden": 128,
        "marie.world_model.perceiver_depth": 1,
        "marie.world_model.perceiver_heads": 4,
        "marie.world_model.perceiver_dim_head": 32,
        "marie.world_model.max_blocks": 8,
        "marie.world_model.batch_size": 8,
        "marie.world_model.updates_per_round": 25,
        "marie.imagination.num_starts": 128,
        "marie.imagination.horizon": 8,
        "marie.schedule.n_samples": 400,
        "marie.schedule.min_buffer": 500,
        "marie.schedule.world_model_start_round": 2,
        "marie.schedule.actor_critic_start_round": 3,
        "marie.schedule.imaginations_per_round": 2,
        "marie.schedule.capacity": 50_000,
        "marie.actor_critic.hidden": 128,
        "marie.actor_critic.critic_hidden": 128,
        "marie.ppo.epochs": 4,
        "marie.ppo.minibatch_size": 512,
        "mappo.batch_steps": 800,
        "mappo.ppo.epochs": 10,
        "run.checkpoint_interval_s": 60.0,
    },
    "smoke": {
        "marie.tokenizer.num_tokens": 4,
        "marie.tokenizer.embed_dim": 16,
        "marie.tokenizer.codebook_size": 32,
        "marie.tokenizer.hidden_dim": 32,
        "marie.world_model.num_layers": 1,
        "marie.world_model.embed_dim": 32,
        "marie.world_model.num_heads": 2,
        "marie.world_model.head_hidden": 32,
        "marie.world_model.perceiver_depth": 1,
        "marie.world_model.perceiver_heads": 2,
        "marie.world_model.perceiver_dim_head": 16,
        "marie.world_model.max_blocks": 4,
        "marie.world_model.batch_size": 4,
        "marie.imagination.num_starts": 16,
        "marie.imagination.horizon": 4,
        "marie.schedule.n_samples": 100,
        "marie.schedule.min_buffer": 300,
        "marie.tokenizer.updates_per_round": 4,
        "marie.world_model.updates_per_round": 4,
        "marie.schedule.world_model_start_round": 2,
        "marie.schedule.actor_critic_start_round": 3,
        "marie.schedule.imaginations_per_round": 1,
        "marie.schedule.capacity": 5_000,
        "marie.actor_critic.hidden": 32,
        "marie.actor_critic.critic_hidden": 32,
        "marie.ppo.epochs": 2,
        "marie.ppo.minibatch_size": 64,
        "mappo.hidden": 32,
        "mappo.batch_steps": 200,
        "mappo.ppo.epochs": 2,
        "eval.episodes": 2,
        "eval.interval": 500,
        "run.checkpoint_interval_s": 5.0,
    },
}


# Per-environment additions to a preset, applied right after it. On SMAX the generic `quick` schedule does not learn
# within CPU budgets (measured: win rate 0 at 20K steps): its world model gets ~1,000 updates in a whole run and never
# learns that the team reward depends on the other agents' attacks (a linear probe explains 93% of the reward from all
# agents' actions, 29% from the world model's aggregated-token state). These values give it ~50 updates of 16
# sequences per 200 env steps at a higher learning rate, start the policy only after ~600 of them, and rescale SMAX's
# reward to SMAC's range (SMAX episode returns are at most ~2, SMAC's 20) so that the reward loss is not swamped by the
# observation loss. Measured in README "Learning benchmark".
PRESET_ENV_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "smax"): {
        "marie.reward_scale": 10.0,
        "marie.world_model.lr": 1e-3,
        "marie.world_model.batch_size": 16,
        "marie.world_model.micro_batch_size": 0,
        "marie.world_model.updates_per_round": 50,
        "marie.schedule.n_samples": 200,
        "marie.schedule.min_buffer": 1000,
        "marie.schedule.world_model_start_round": 1,
        "marie.schedule.actor_critic_start_round": 12,
        "marie.imagination.num_starts": 256,
    },
}


# --- generic dotted-key machinery ------------------------------------------------------------------------------------


def _field_names(obj: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def _coerce(value: Any, current: Any, key: str) -> Any:
    """Convert ``value`` to the type of the current field value; a clear error when impossible."""
    if value is None:
        return None  # Optional fields (e.g. agent_conf, chunk_size)
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise UsageError(f"config key {key!r} expects true/false, got {value!r}")
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
        raise UsageError(f"config key {key!r} expects an integer, got {value!r}")
    if isinstance(current, float):
        if isinstance(value, str) and value.lower() in ("inf", "+inf", "infinity"):
            return math.inf
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UsageError(f"config key {key!r} expects a number, got {value!r}")
    if isinstance(current, list):
        if isinstance(value, list):
            return value
        raise UsageError(f"config key {key!r} expects a list, got {value!r}")
    if dataclasses.is_dataclass(current):
        raise UsageError(f"config key {key!r} is a section; set one of its keys: {', '.join(_field_names(current))}")
    return value  # str or Optional fields: taken as given


def set_dotted(cfg: Any, key: str, value: Any) -> None:
    """Set ``a.b.c = value`` on a dataclass tree, naming the bad part and the valid keys on error."""
    parts = key.split(".")
    node = cfg
    for depth, part in enumerate(parts):
        names = _field_names(node)
        if part not in names:
            where = ".".join(parts[:depth]) or "top level"
            raise UsageError(f"unknown config key {key!r}: {part!r} is not in {where}; valid: {', '.join(names)}")
        if depth == len(parts) - 1:
            setattr(node, part, _coerce(value, getattr(node, part), key))
        else:
            node = getattr(node, part)
            if not dataclasses.is_dataclass(node):
                raise UsageError(f"config key {key!r}: {'.'.join(parts[: depth + 1])!r} is not a section")


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as YAML (so 1e-4, true, [8,8,8] work)."""
    if "=" not in text or text.startswith("="):
        raise UsageError(f"malformed override {text!r}: expected dotted.key=value, e.g. marie.world_model.layers=4")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise UsageError(f"malformed override {text!r}: the value is not valid YAML") from None
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 as a string
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Rebuild a config from ``config.resolved.yaml`` (used when resuming and by tests)."""
    cfg = TrainConfig()
    for key, value in flatten(data).items():
        set_dotted(cfg, key, value)
    return cfg


def validate(cfg: TrainConfig) -> None:
    """Checks that need no simulator: one-line errors naming the value and the valid choices."""
    checks = [
        ("run.algo (--algo)", cfg.run.algo, available_algorithms()),
        ("run.preset", cfg.run.preset, PRESETS),
        ("eval.mode", cfg.eval.mode, EVAL_MODES),
        ("run.wandb_mode (--mode)", cfg.run.wandb_mode, WANDB_MODES),
        ("run.device", cfg.run.device, DEVICES),
        ("marie.tokenizer.kind (--tokenizer)", cfg.marie.tokenizer.kind, ("vq", "fsq", "bins")),
        ("marie.start_sampling", cfg.marie.start_sampling, ("episode", "step")),
        ("marie.actor_critic.kind", cfg.marie.actor_critic.kind, ("smac", "mappo_style")),
    ]
    for name, value, valid in checks:
        if value not in valid:
            raise UsageError(f"invalid {name} {value!r}; valid choices: {', '.join(valid)}")
    positive = {
        "run.steps (--steps)": cfg.run.steps,
        "env.n_workers (--n_workers)": cfg.env.n_workers,
        "eval.episodes": cfg.eval.episodes,
        "eval.interval": cfg.eval.interval,
    }
    for name, value in positive.items():
        if value <= 0:
            raise UsageError(f"invalid {name} {value!r}: must be a positive integer")
    if cfg.env.seed < 0:
        raise UsageError(f"invalid --seed {cfg.env.seed!r}: must be >= 0")
    if cfg.marie.temperature <= 0:
        raise UsageError(f"invalid --temperature {cfg.marie.temperature!r}: must be > 0")
    if cfg.marie.sample_temp <= 0:
        raise UsageError(f"invalid --sample_temp {cfg.marie.sample_temp!r}: must be > 0 (inf = uniform)")
    if not 0.0 <= cfg.marie.tokenizer.decay < 1.0:
        raise UsageError(f"invalid --decay {cfg.marie.tokenizer.decay!r}: must be in [0, 1)")


def build_config(
    env: str,
    env_name: str,
    preset: str = "paper",
    eval_mode: str = "paper",
    config_file: Mapping[str, Any] | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> TrainConfig:
    """Resolve a config in the documented order. ``flags`` are dotted keys from the original command line."""
    if preset not in PRESETS:
        raise UsageError(f"invalid --preset {preset!r}; valid choices: {', '.join(PRESETS)}")
    if eval_mode not in EVAL_MODES:
        raise UsageError(f"invalid --eval-mode {eval_mode!r}; valid choices: {', '.join(EVAL_MODES)}")
    cfg = TrainConfig()
    cfg.env.env, cfg.env.env_name, cfg.run.preset = env, env_name, preset
    layers = [
        BASE_DEFAULTS,
        ENV_DEFAULTS.get(env, {}),
        EVAL_MODE_DEFAULTS[eval_mode],
        PRESET_OVERRIDES[preset],
        PRESET_ENV_OVERRIDES.get((preset, env), {}),
        flatten(config_file or {}),
        dict(flags or {}),
        dict(parse_override(text) for text in overrides or []),
    ]
    for layer in layers:
        for key, value in layer.items():
            set_dotted(cfg, key, value)
    validate(cfg)
    return cfg


def dump_yaml(cfg: TrainConfig) -> str:
    data = to_dict(cfg)
    return yaml.safe_dump(data, sort_keys=False)
