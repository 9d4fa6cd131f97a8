"""MAMBA's configuration: typed dataclasses (the single source of truth), presets and per-env defaults.

Torch-free: loading a config never loads the model code. ``PRESETS`` and ``ENV_DEFAULTS`` use keys relative to the
``mamba`` config section, e.g. ``"rssm.hidden": 256``; ``ALGORITHM`` registers it (``marie.registry.BUILTIN``).

Sources: MAMBA's code (``jbr-ai-labs/mamba``: ``configs/dreamer/DreamerAgentConfig.py``, ``DreamerLearnerConfig.py``,
``configs/dreamer/optimal/starcraft/LearnerConfig.py``, ``networks/dreamer/rnns.py``, ``agent/optim/loss.py``) and
spec §11 of ``marie_algorithm.md``.

Which configuration is ``paper`` (= the dataclass defaults)
    MAMBA ships two learner configs. ``train.py`` imports the default ``DreamerLearnerConfig`` (1 world-model update
    and 1 imagination round per episode, sequences of 50, training from 100 stored steps, capacity 500k), while
    ``configs/dreamer/optimal/starcraft`` holds 60 world-model updates and 4 imagination rounds per episode, sequences
    of 20, a minimum buffer of 500 and capacity 250k. MAMBA's README says the paper's results use the parameters of
    ``configs/dreamer/optimal`` ("to train agents with optimal parameters from the paper they should be copied ...").
    The MARIE paper's MAMBA column reports MAMBA's SMAC results, so it must be compared with the *optimal StarCraft*
    config: that is ``paper`` here. The default config is one override away:
    ``--set mamba.world_model.updates=1 --set mamba.imagination.rounds=1 --set mamba.buffer.seq_len=50
    --set mamba.schedule.min_buffer=100 --set mamba.buffer.capacity=500000`` (``MAMBA_TRAIN_PY_DEFAULTS`` below).

Continuous actions (MAMuJoCo)
    MAMBA itself is discrete-only. Its authors' recipe for continuous actions (jbr-ai-labs/mamba issue #8) is: feed
    the action vector to the transition instead of the one-hot, replace the action-information cross-entropy with an
    MSE, and use a continuous distribution in PPO. That is what happens here: the RSSM takes the raw action vector
    that the env received (unclipped, as the env adapter passes it), the information head regresses it with MSE (masked
    by ``fake``), and the policy is a diagonal Gaussian. The MARIE paper's MAMuJoCo MAMBA adaptation is not public, so
    on MAMuJoCo (and MPE, GRF) MAMBA gets exactly the actor, critic and PPO settings MARIE uses there (``mappo_style``
    networks on the 1280-d RSSM features, ValueNorm, Huber value loss, ...), so the two differ only in the world model.
    On SMAC/SMAX MAMBA keeps its own actor (MLP 1280-256-256-A) and attention critic, which MARIE inherited.

Known approximations of the original
    - Entropy annealing (0.99998 per PPO minibatch step in MAMBA) is applied per imagination round: each round uses
      the current coefficient and then decays it by 0.99998 ** (minibatch steps of that round); within one round the
      coefficient would have changed by < 0.1%.
    - Sequences are drawn uniformly over valid starts with replacement (MAMBA excludes the last valid start, an
      off-by-one of no consequence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marie.algos.marie.config import ENV_DEFAULTS as MARIE_ENV_DEFAULTS
from marie.errors import UsageError
from marie.registry import AlgorithmSpec
from marie.rl.configs import ActorCriticConfig, PPOConfig


@dataclass
class RSSMConfig:
    """Sizes of the per-agent RSSM (MAMBA ``DreamerConfig``)."""

    hidden: int = 256  # HIDDEN: encoder, decoder and posterior MLP width
    model_hidden: int = 256  # MODEL_HIDDEN: transition input layer and the cross-agent transformer's d_model / FF
    embed: int = 256  # EMBED: observation embedding
    deter: int = 256  # DETERMINISTIC: GRU state
    n_categoricals: int = 32  # N_CATEGORICALS
    n_classes: int = 32  # N_CLASSES
    attention_layers: int = 3  # transformer encoder layers across agents inside the prior transition
    attention_heads: int = 8
    attention_dropout: float = 0.1  # active only while the world model trains (MAMBA keeps the model in eval otherwise)
    max_agents: int = 30  # rows of the sinusoid agent-index table


@dataclass
class WorldModelConfig:
    """Heads, losses and the world-model update (MAMBA ``model_loss``)."""

    head_hidden: int = 256  # REWARD_HIDDEN = PCONT_HIDDEN
    head_layers: int = 2  # REWARD_LAYERS = PCONT_LAYERS
    predict_avail: bool = True  # the available-action head (MAMBA: SMAC only)
    kl_balance: float = 0.2  # weight of KL(post || sg(prior)); 1 - balance on KL(sg(post) || prior)
    lr: float = 2e-4  # MODEL_LR (Adam, PyTorch defaults otherwise)
    grad_clip: float = 100.0  # GRAD_CLIP
    updates: int = 60  # MODEL_EPOCHS: world-model updates per training step
    batch_size: int = 40  # MODEL_BATCH_SIZE sequences per update
    # Loss weights: all 1 in MAMBA.
    kl_weight: float = 1.0
    obs_weight: float = 1.0
    reward_weight: float = 1.0
    continuation_weight: float = 1.0
    avail_weight: float = 1.0
    info_weight: float = 1.0


@dataclass
class ImaginationConfig:
    """Imagination from every posterior state of sampled sequences (MAMBA ``actor_rollout``)."""

    horizon: int = 15  # HORIZON
    batch_size: int = 40  # BATCH_SIZE sequences -> (seq_len - 2) * batch_size start states
    rounds: int = 4  # EPOCHS: [sample -> imagine -> PPO] per training step
    average_reward: bool = True  # MAMBA averages the imagined reward over agents before the lambda-return


@dataclass
class BufferConfig:
    capacity: int = 250_000  # CAPACITY (time steps)
    seq_len: int = 20  # SEQ_LENGTH: stored steps per sampled window (the model sees seq_len - 1 of them)
    absorbing_steps: int = 2  # zero-observation steps MAMBA appends after a true termination (not a time limit)


@dataclass
class ScheduleConfig:
    n_samples: int = 1  # N_SAMPLES: train once this many new steps are stored (1 = after every episode)
    min_buffer: int = 500  # MIN_BUFFER_SIZE (stored steps, absorbing ones included)
    # The actor-critic trains from this training step on (1 = from the first, as MAMBA); later = world model first.
    actor_critic_start: int = 1


@dataclass
class MambaConfig:
    rssm: RSSMConfig = field(default_factory=RSSMConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    imagination: ImaginationConfig = field(default_factory=ImaginationConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    # MAMBA's Actor (1280-256-256-A, orthogonal init) and AugmentedCritic are MARIE's "smac" pair.
    actor_critic: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)  # MAMBA's values equal MARIE's SMAC ones (lr 5e-4, 5 epochs, ...)
    critic_weight_decay: float = 0.0  # MAMBA: Adam weight decay 1e-5 on the actor only
    entropy_annealing: float = 0.99998  # ENTROPY_ANNEALING per PPO minibatch step
    use_old_critic: bool = False  # lambda-return values from a periodically refreshed critic copy (MARIE on MPE)
    target_update: int = 20  # imagination rounds between refreshes of that copy
    reward_scale: float = 1.0  # multiplies env rewards before the world model learns them; 1 = MAMBA

    def validate(self) -> None:
        """Checks of the resolved section that need no env (called by ``marie.config.validate``): one line each."""
        if self.actor_critic.kind not in ("smac", "mappo_style"):
            raise UsageError(f"invalid mamba.actor_critic.kind {self.actor_critic.kind!r}; valid choices: smac, "
                             "mappo_style")  # fmt: skip
        if self.buffer.seq_len < 4:
            raise UsageError(f"invalid mamba.buffer.seq_len {self.buffer.seq_len}: must be >= 4")
        if self.schedule.min_buffer < self.buffer.seq_len:
            raise UsageError(f"invalid mamba.schedule.min_buffer {self.schedule.min_buffer}: must be >= "
                             f"mamba.buffer.seq_len ({self.buffer.seq_len})")  # fmt: skip
        if self.rssm.model_hidden % self.rssm.attention_heads:
            raise UsageError(f"invalid mamba.rssm.attention_heads {self.rssm.attention_heads}: must divide "
                             f"mamba.rssm.model_hidden ({self.rssm.model_hidden})")  # fmt: skip
        if self.reward_scale <= 0:
            raise UsageError(f"invalid mamba.reward_scale {self.reward_scale!r}: must be > 0")


# The configuration MAMBA's train.py runs (configs/dreamer/DreamerLearnerConfig.py), for reference and ablations.
MAMBA_TRAIN_PY_DEFAULTS: dict[str, Any] = {
    "world_model.updates": 1,
    "imagination.rounds": 1,
    "buffer.seq_len": 50,
    "buffer.capacity": 500_000,
    "schedule.min_buffer": 100,
}

# Per environment family, applied before the preset. Off SMAC/SMAX the actor-critic and PPO follow MARIE's settings
# for that family (see the module docstring), taken from MARIE's own table so the two can never drift apart; MAMBA
# predicts available actions only where the env has masks.
def _marie_policy_settings(env: str) -> dict[str, Any]:
    """MARIE's per-env actor-critic, PPO and old-critic values (the keys are the same in both sections)."""
    policy_keys = ("actor_critic.", "ppo.", "use_old_critic")
    return {key: value for key, value in MARIE_ENV_DEFAULTS[env].items() if key.startswith(policy_keys)}


ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "starcraft": _marie_policy_settings("starcraft"),
    "smax": _marie_policy_settings("smax"),
    **{env: {"world_model.predict_avail": False, **_marie_policy_settings(env)}
       for env in ("pettingzoo", "mamujoco", "football")},  # fmt: skip
}

# `paper`: the dataclass defaults (MAMBA's optimal StarCraft config; on one CPU thread a 3m world-model update takes
# ~1.1 s and an imagination+PPO round ~23 s, i.e. ~2.5 min of training per episode: a GPU setting). `smoke`: tiny,
# for tests only. `quick`: sized for the 2-core CPU suite (a smaller RSSM, one training step of 20 world-model
# updates and one imagination round every ~100 env steps), plus the SMAX schedule in PRESET_ENV below.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "rssm.hidden": 128,
        "rssm.model_hidden": 128,
        "rssm.embed": 128,
        "rssm.deter": 128,
        "rssm.n_categoricals": 16,
        "rssm.n_classes": 16,
        "rssm.attention_layers": 2,
        "world_model.head_hidden": 128,
        "world_model.updates": 20,
        "world_model.batch_size": 16,
        "imagination.batch_size": 8,
        "imagination.rounds": 1,
        "buffer.capacity": 50_000,
        "schedule.n_samples": 100,
        "schedule.min_buffer": 500,
        "actor_critic.hidden": 128,
        "actor_critic.critic_hidden": 128,
        "ppo.epochs": 4,
        "ppo.minibatch_size": 512,
    },
    "smoke": {
        "rssm.hidden": 32,
        "rssm.model_hidden": 32,
        "rssm.embed": 32,
        "rssm.deter": 32,
        "rssm.n_categoricals": 4,
        "rssm.n_classes": 4,
        "rssm.attention_layers": 1,
        "rssm.attention_heads": 2,
        "world_model.head_hidden": 32,
        "world_model.updates": 2,
        "world_model.batch_size": 4,
        "imagination.horizon": 4,
        "imagination.batch_size": 2,
        "imagination.rounds": 1,
        "buffer.capacity": 5_000,
        "buffer.seq_len": 8,
        "schedule.n_samples": 100,
        "schedule.min_buffer": 100,
        "actor_critic.hidden": 32,
        "actor_critic.critic_hidden": 32,
        "ppo.epochs": 2,
        "ppo.minibatch_size": 64,
    },
}


# Per-environment additions to a preset, applied right after it. On SMAX the generic `quick` values do not learn
# (diagnosed on SMAX 3m seed 1, 6K steps, README "MAMBA"): SMAX's team reward is ~1/10 of SMAC's, the reward loss is
# swamped by the observation loss and the reward head's held-out error stays above that of predicting 0; PPO on
# that model collapses the policy's entropy and the return falls. These values rescale the reward (as MARIE's quick
# SMAX schedule), train the world model faster (lr 1e-3, 25 updates per ~100 steps = MARIE's 0.25 per env step), and
# start the policy after ~600 updates, once the held-out reward error is below the mean reward.
PRESET_ENV: dict[tuple[str, str], dict[str, Any]] = {
    ("quick", "smax"): {
        "reward_scale": 10.0,
        "world_model.lr": 1e-3,
        "world_model.updates": 25,
        "schedule.actor_critic_start": 24,
    },
}

ALGORITHM = AlgorithmSpec(
    name="mamba",
    config=MambaConfig,
    factory="marie.algos.mamba.agent:make",
    env_defaults=ENV_DEFAULTS,
    presets=PRESETS,
    preset_env=PRESET_ENV,
)
