"""MAPPO's typed config section (``TrainConfig.mappo``, ``--set mappo.key=value``), its per-env defaults and presets,
and its registration. Torch-free. Keys in the tables are relative to the ``mappo`` section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marie.registry import AlgorithmSpec
from marie.rl.configs import PPOConfig


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


ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "mamujoco": {
        "hidden": 128,
        "ppo.entropy_coef": 0.0,
        "ppo.epochs": 5,
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "batch_steps": 800,
        "ppo.epochs": 10,
    },
    "smoke": {
        "hidden": 32,
        "batch_steps": 200,
        "ppo.epochs": 2,
    },
}


ALGORITHM = AlgorithmSpec(
    name="mappo",
    config=MappoConfig,
    factory="marie.algos.mappo.agent:make",
    env_defaults=ENV_DEFAULTS,
    presets=PRESETS,
)
