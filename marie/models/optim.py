"""Optimisers of the tokenizer and the world model, as the original sets them up (spec §2.2, §3.5)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from marie.models.configs import TokenizerConfig, WorldModelConfig


def world_model_param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """minGPT grouping: weight decay on Linear weights only (transformer, Perceiver and heads); none on biases,
    LayerNorms, embeddings or the Perceiver latents."""
    decay_ids = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if id(param) in decay_ids else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_world_model_optimizer(model: nn.Module, cfg: WorldModelConfig) -> torch.optim.AdamW:
    groups = world_model_param_groups(model, cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.adam_eps)


def make_tokenizer_optimizer(tokenizer: nn.Module, cfg: TokenizerConfig) -> torch.optim.AdamW:
    """AdamW on every tokenizer parameter (biases included, no groups), default betas."""
    if not any(True for _ in tokenizer.parameters()):
        raise ValueError(f"{type(tokenizer).__name__} has no parameters to train (kind 'bins' is fixed)")
    return torch.optim.AdamW(tokenizer.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
