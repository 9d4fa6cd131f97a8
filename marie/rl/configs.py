"""Dataclass configs of the RL pieces (no torch import, so that config handling stays cheap)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PPOConfig:
    """PPO hyperparameters; defaults are MARIE's SMAC/SMAX values (spec §5.5, §7.3)."""

    epochs: int = 5  # PPO_EPOCHS
    minibatch_size: int = 2000  # rows per minibatch; 0 = all rows in one minibatch (MAMuJoCo num_mini_batch=1)
    clip: float = 0.2
    entropy_coef: float = 0.001
    gamma: float = 0.99
    lam: float = 0.95
    actor_lr: float = 5e-4
    critic_lr: float = 5e-4
    weight_decay: float = 1e-5  # Adam's coupled L2, as the original
    adam_eps: float = 1e-8
    grad_clip: float = 100.0  # GRAD_CLIP_POLICY
    normalize_advantages: bool = True
    value_loss: str = "mse"  # mse: 0.5*(R-V)^2; huber: Huber(delta) on normalised targets
    huber_delta: float = 10.0
    clip_value_loss: bool = False
    value_clip: float = 0.2  # clip range of the clipped value loss (MARIE MAMuJoCo uses clip_param 0.1)
    use_valuenorm: bool = False
    valuenorm_beta: float = 0.99999


@dataclass
class ActorCriticConfig:
    """Which actor/critic pair to build and its sizes (spec §5.2, §7.3)."""

    kind: str = "smac"  # smac: MLPActor + AttentionCritic; mappo_style: StochasticPolicy + FeatureNormedAttentionCritic
    hidden: int = 256  # ACTION_HIDDEN
    layers: int = 2  # ACTION_LAYERS
    critic_hidden: int = 256  # HIDDEN (SMAC/SMAX only; otherwise the critic width follows `hidden`)
