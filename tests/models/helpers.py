"""Small sizes and random batches shared by the model tests."""

from __future__ import annotations

import torch

from marie.models.configs import WorldModelConfig
from marie.models.world_model import WorldModel, WorldModelBatch


def small_wm_config(**overrides: object) -> WorldModelConfig:
    """2 layers, width 32, a small Perceiver: fast enough for unit tests."""
    base: dict[str, object] = dict(
        num_layers=2,
        num_heads=4,
        embed_dim=32,
        max_blocks=4,
        perceiver_depth=1,
        perceiver_heads=2,
        perceiver_dim_head=8,
        perceiver_ff_mult=2,
        head_hidden=32,
        reward_bins=16,
    )
    base.update(overrides)
    return WorldModelConfig(**base)  # type: ignore[arg-type]


def small_world_model(
    num_agents: int = 3, vocab: int = 16, k: int = 4, num_actions: int = 5, **cfg: object
) -> WorldModel:
    return WorldModel(
        small_wm_config(**cfg), num_agents=num_agents, obs_vocab_size=vocab, tokens_per_obs=k, num_actions=num_actions
    )


def random_batch(wm: WorldModel, batch: int, steps: int, vocab: int, seed: int = 0) -> WorldModelBatch:
    g = torch.Generator().manual_seed(seed)
    n, k, a = wm.num_agents, wm.tokens_per_obs, wm.num_actions
    dones = torch.rand(batch, steps, n, generator=g) < 0.15
    return WorldModelBatch(
        obs_tokens=torch.randint(0, vocab, (batch, steps, n, k), generator=g),
        actions=torch.randint(0, a, (batch, steps, n), generator=g),
        rewards=torch.randn(batch, steps, n, generator=g),
        dones=dones,
        avail=torch.rand(batch, steps, n, a, generator=g) < 0.7,
    )
