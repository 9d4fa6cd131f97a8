"""minGPT-style causal transformer (pre-LayerNorm blocks) with an optional KV cache (spec §3.3)."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from marie.models.dropout import Dropout, attention
from marie.models.kv_cache import KVCache


def _autocast_off(device_type: str) -> AbstractContextManager:
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return nullcontext()


class CausalSelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim)  # fused query/key/value projections (same parameters as three Linears)
        self.proj = nn.Linear(dim, dim)
        self.attn_dropout = dropout
        self.resid_dropout = Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        kv_cache: KVCache | None = None,
        layer: int = 0,
        group_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        dropout_p = self.attn_dropout if self.training else 0.0
        if kv_cache is not None:
            past = kv_cache.size
            k, v = kv_cache.update(layer, k, v)
            mask = None
            if length > 1:  # new tokens see the whole cache and each other causally
                mask = torch.ones(length, past + length, dtype=torch.bool, device=x.device).tril(diagonal=past)
            # Attention runs in the cache's dtype even under autocast (a float32 cache on CPU, where the bfloat16
            # decode kernel is slower); without autocast q already has that dtype and this is a no-op.
            with _autocast_off(x.device.type):
                y = attention(q.to(k.dtype), k, v, attn_mask=mask, dropout_p=dropout_p)
        elif group_mask is None:
            y = attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        else:
            # group_mask (G, L, L) is shared by the R = batch / G consecutive rows of a group (the N agents of one
            # sample): fold those rows into the head axis so one mask broadcasts over rows and heads.
            groups = group_mask.shape[0]
            fold = (groups, -1, length, self.head_dim)
            y = attention(
                q.reshape(fold),
                k.reshape(fold),
                v.reshape(fold),
                attn_mask=group_mask.unsqueeze(1),
                dropout_p=dropout_p,
            ).view(batch, self.num_heads, length, self.head_dim)
        y = y.transpose(1, 2).reshape(batch, length, dim)
        return self.resid_dropout(self.proj(y))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, num_heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim), Dropout(dropout))

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None, layer: int, group_mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), kv_cache, layer, group_mask)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Embedding dropout, ``num_layers`` pre-LN blocks, final LayerNorm. Inputs are already embedded."""

    def __init__(self, num_layers: int, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_layers, self.num_heads, self.head_dim = num_layers, num_heads, dim // num_heads
        self.drop = Dropout(dropout)
        self.blocks = nn.ModuleList([Block(dim, num_heads, dropout) for _ in range(num_layers)])
        self.ln_f = nn.LayerNorm(dim)

    def new_kv_cache(self, batch: int, max_tokens: int) -> KVCache:
        param = self.ln_f.weight
        return KVCache(self.num_layers, batch, self.num_heads, max_tokens, self.head_dim, param.device, param.dtype)

    def forward(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, group_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x (B, L, dim). With ``kv_cache`` the L tokens follow the cached ones and are appended to the cache.

        Without a cache the attention is causal over x, or, with ``group_mask`` (G, L, L) bool (True = may attend),
        uses that mask for each group of B / G consecutive rows.
        """
        if kv_cache is not None and group_mask is not None:
            raise ValueError("group_mask is only supported without a KV cache")
        if group_mask is not None and x.shape[0] % group_mask.shape[0]:
            raise ValueError(f"batch {x.shape[0]} is not a multiple of the mask groups {group_mask.shape[0]}")
        x = self.drop(x)
        for layer, block in enumerate(self.blocks):
            x = block(x, kv_cache, layer, group_mask)
        if kv_cache is not None:
            kv_cache.advance(x.shape[1])
        return self.ln_f(x)
