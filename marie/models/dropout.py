"""The world model's dropout, on activations and on attention probabilities, with a cheaper random mask on CPU.

torch's CPU dropout draws its mask with ``bernoulli_``, one generator call per element on one thread: a fifth of a
paper-size world-model update on 2 cores (`marie bench`, torch profiler). Here the mask comes from 64-bit draws of
the same (seeded, checkpointed) default generator, each giving two 31-bit uniform integers; an element is kept
when its integer is >= round(p * 2^31), so the drop probability is p to within 2^-31 and kept values are scaled by
1 / (1 - p) as in torch. Same distribution, different random stream: runs are still deterministic and resume
bit-identically, but not equal to runs with torch's own dropout. On other devices torch's fused kernels are used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_BITS = 31  # torch's int64 random_() is uniform on [0, 2^63): the low 31 bits of both 32-bit halves are uniform


def _require_probability(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> torch.Tensor:
    """Bool mask of ``shape``, each element True (kept) with probability 1 - p, independently."""
    _require_probability(p)
    count = math.prod(shape)
    words = torch.empty((count + 1) // 2, dtype=torch.int64, device=device).random_()
    halves = words.view(torch.int32)[:count].view(shape)
    return (halves & (2**_BITS - 1)) >= round(p * 2**_BITS)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)`` with the mask of :func:`keep_mask` on CPU."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    scale = torch.where(keep_mask(x.shape, p, x.device), 1.0 / (1.0 - p), 0.0).to(x.dtype)
    return x * scale


class Dropout(nn.Dropout):
    """``nn.Dropout`` (no parameters, active in train mode only) whose mask on CPU is :func:`keep_mask`'s; p = 1 is
    refused when built rather than at the first forward pass."""

    def __init__(self, p: float) -> None:
        _require_probability(p)
        super().__init__(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """``F.scaled_dot_product_attention`` (bool ``attn_mask``, True = may attend), whose attention-probability
    dropout on CPU uses :func:`dropout`. Without dropout, or off CPU, it is torch's own call. Every query must be
    allowed at least one key (true of causal and episode-segment masks: a token always sees itself)."""
    if is_causal and attn_mask is not None:
        raise ValueError("attention takes an attn_mask or is_causal=True, not both (as torch's SDPA)")
    if dropout_p == 0.0 or q.device.type != "cpu":
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=dropout_p, scale=scale
        )
    scores = (q * (scale if scale is not None else q.shape[-1] ** -0.5)) @ k.transpose(-2, -1)
    if is_causal:
        attn_mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    return dropout(torch.softmax(scores, dim=-1), dropout_p, True) @ v
