"""The world model's dropout, on activations and on attention probabilities, with a cheaper random mask on CPU.

torch's CPU dropout draws its mask with ``bernoulli_``, one generator call per element on one thread: a fifth of a
paper-size world-model update on 2 cores (`marie bench`, torch profiler). Here the mask comes from full-range 64-bit
draws of the same (seeded, checkpointed) default generator, each read as four uniform 16-bit integers (a view: no
bit operations); an element is kept when its integer is >= -2^15 + round(p * 2^16), so the drop probability is p to
within 2^-17 and kept values are scaled by 1 / (1 - p) as in torch. Same distribution, different random stream: runs
are still deterministic and resume bit-identically, but not equal to runs with torch's own dropout. On other devices
torch's fused kernels are used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_LANES, _LANE_VALUES = 4, 2**16  # int16 lanes per int64 draw; values a lane takes, uniformly


def _require_probability(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device) -> torch.Tensor:
    """Bool mask of ``shape``, each element True (kept) with probability 1 - p, independently."""
    _require_probability(p)
    count = math.prod(shape)
    threshold = round(p * _LANE_VALUES) - _LANE_VALUES // 2  # keep iff lane >= threshold: P = 1 - p (+- 2^-17)
    if threshold >= _LANE_VALUES // 2:  # p within 2^-17 of 1: nothing is kept (the int16 compare would wrap)
        return torch.zeros(shape, dtype=torch.bool, device=device)
    # random_(-2^63, None) draws all 64 bits uniformly (plain random_() leaves the sign bit 0).
    words = torch.empty(-(-count // _LANES), dtype=torch.int64, device=device).random_(-(2**63), None)
    return words.view(torch.int16)[:count].view(shape) >= threshold


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
    dropout on CPU uses :func:`keep_mask`. Without dropout, or off CPU, it is torch's own call. Every query must be
    allowed at least one key (true of causal and episode-segment masks: a token always sees itself)."""
    if is_causal and attn_mask is not None:
        raise ValueError("attention takes an attn_mask or is_causal=True, not both (as torch's SDPA)")
    if dropout_p == 0.0 or q.device.type != "cpu":
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal, dropout_p=dropout_p, scale=scale
        )
    # Fewer passes over the (rows, heads, L, L) scores than softmax(masked_fill(.)) -> dropout -> @ v: the mask is
    # filled in place (the product's backward needs q and k, not its output), dropped probabilities are zeroed in
    # one pass, and the 1 / (1 - p) scale is applied to the (L, head_dim) output instead of the (L, L) probabilities.
    scores = (q * (scale if scale is not None else q.shape[-1] ** -0.5)) @ k.transpose(-2, -1)
    if is_causal:
        attn_mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    if attn_mask is not None:
        scores.masked_fill_(~attn_mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    kept = torch.where(keep_mask(probs.shape, dropout_p, probs.device), probs, 0.0)
    return (kept @ v) * (1.0 / (1.0 - dropout_p))
