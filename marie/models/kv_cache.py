"""Preallocated key/value cache for autoregressive decoding with the world-model transformer."""

from __future__ import annotations

import torch


class KVCache:
    """Per layer, keys and values of shape (B, heads, max_tokens, head_dim), filled left to right.

    Layers write their new keys/values at ``[size, size + L)`` through :meth:`update`; the transformer calls
    :meth:`advance` once after all layers have seen the L new tokens.
    """

    def __init__(
        self,
        num_layers: int,
        batch: int,
        num_heads: int,
        max_tokens: int,
        head_dim: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        shape = (batch, num_heads, max_tokens, head_dim)
        self.keys = [torch.empty(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.values = [torch.empty(shape, device=device, dtype=dtype) for _ in range(num_layers)]
        self.max_tokens = max_tokens
        self.size = 0

    def update(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new (B, heads, L, head_dim) keys/values; return all cached ones including them."""
        end = self.size + keys.shape[2]
        if end > self.max_tokens:
            raise ValueError(f"KV cache overflow: {end} tokens > max_tokens {self.max_tokens}")
        self.keys[layer][:, :, self.size : end] = keys
        self.values[layer][:, :, self.size : end] = values
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, num_tokens: int) -> None:
        self.size += num_tokens

    def reset(self) -> None:
        self.size = 0
