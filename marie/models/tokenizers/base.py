"""The tokenizer interface and the helpers its implementations share (spec §2).

A tokenizer maps one agent's local observation (..., d) to ``tokens_per_obs`` integer tokens in
``[0, vocab_size)`` and back. The world model and imagination only use this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from marie.models.outputs import LossOutput


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with GELU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class Tokenizer(nn.Module, ABC):
    """Per-agent observation tokenizer."""

    vocab_size: int
    tokens_per_obs: int
    trainable: bool = True  # False for the fixed binning of MPE

    @abstractmethod
    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """(..., d) float -> (..., K) long. Never changes the tokenizer's state."""

    @abstractmethod
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., K) long -> (..., d) float reconstruction."""

    def encode_decode(self, obs: torch.Tensor) -> torch.Tensor:
        """Reconstruction through the quantiser: what the policy sees."""
        return self.decode(self.encode(obs))

    @abstractmethod
    def compute_loss(self, obs: torch.Tensor) -> LossOutput:
        """Training loss on a batch of observations (..., d); parts include ``total`` and ``code_usage_pct``."""


def code_usage_pct(tokens: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Percentage of the vocabulary used in a batch of tokens (the original's ``vq/active``)."""
    used = torch.zeros(vocab_size, dtype=torch.bool, device=tokens.device)
    used[tokens.reshape(-1)] = True
    return used.float().mean() * 100.0
