"""Attention exactness against a plain implementation, the group (segment) mask path and KV-cache equivalence."""

from __future__ import annotations

import math

import pytest
import torch

from marie.models.kv_cache import KVCache
from marie.models.transformer import CausalSelfAttention, Transformer


def plain_attention(attn: CausalSelfAttention, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """Textbook masked softmax attention; allowed (B, L, L) bool."""
    b, length, dim = x.shape
    h, hd = attn.num_heads, attn.head_dim
    q, k, v = attn.qkv(x).split(dim, dim=-1)
    q, k, v = (t.view(b, length, h, hd).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    scores = scores.masked_fill(~allowed[:, None], float("-inf"))
    y = torch.softmax(scores, dim=-1) @ v
    return attn.proj(y.transpose(1, 2).reshape(b, length, dim))


def test_causal_attention_is_exact_in_eval_mode() -> None:
    attn = CausalSelfAttention(32, 4, dropout=0.1).eval()
    x = torch.randn(3, 10, 32)
    allowed = torch.ones(10, 10, dtype=torch.bool).tril().expand(3, 10, 10)
    assert (attn(x) - plain_attention(attn, x, allowed)).abs().max() < 1e-5


def test_group_mask_is_shared_by_the_rows_of_a_group() -> None:
    attn = CausalSelfAttention(32, 4, dropout=0.1).eval()
    groups, rows_per_group, length = 2, 3, 12
    x = torch.randn(groups * rows_per_group, length, 32)
    segment = torch.tensor([[0] * 5 + [1] * 7, [0] * 12])
    mask = (segment[:, :, None] == segment[:, None, :]) & torch.ones(length, length, dtype=torch.bool).tril()
    per_row = mask.repeat_interleave(rows_per_group, dim=0)  # row = group * R + r
    out = attn(x, group_mask=mask)
    assert (out - plain_attention(attn, x, per_row)).abs().max() < 1e-5
    # The second segment of group 0 does not see the first.
    x2 = x.clone()
    x2[:rows_per_group, :5] += 1.0
    out2 = attn(x2, group_mask=mask)
    assert torch.allclose(out[:rows_per_group, 5:], out2[:rows_per_group, 5:], atol=1e-6)
    assert not torch.allclose(out[:rows_per_group, :5], out2[:rows_per_group, :5])


def test_attention_dropout_is_active_in_train_mode_only() -> None:
    attn = CausalSelfAttention(32, 4, dropout=0.5)
    x = torch.randn(2, 6, 32)
    attn.train()
    assert not torch.allclose(attn(x), attn(x))
    attn.eval()
    assert torch.equal(attn(x), attn(x))


@pytest.mark.parametrize("chunks", [[1] * 9, [4, 1, 1, 3], [2, 3, 4]])
def test_kv_cache_matches_full_recomputation(chunks: list[int]) -> None:
    model = Transformer(num_layers=2, dim=32, num_heads=4, dropout=0.1).eval()
    x = torch.randn(5, sum(chunks), 32)
    full = model(x)
    cache = model.new_kv_cache(batch=5, max_tokens=16)
    outs, start = [], 0
    for size in chunks:
        outs.append(model(x[:, start : start + size], kv_cache=cache))
        start += size
    assert cache.size == sum(chunks)
    assert (torch.cat(outs, dim=1) - full).abs().max() < 1e-5


def test_kv_cache_is_preallocated_and_overflow_is_an_error() -> None:
    cache = KVCache(num_layers=3, batch=2, num_heads=4, max_tokens=5, head_dim=8)
    assert len(cache.keys) == 3 and cache.keys[0].shape == (2, 4, 5, 8)
    cache.update(0, torch.zeros(2, 4, 4, 8), torch.zeros(2, 4, 4, 8))
    cache.advance(4)
    with pytest.raises(ValueError, match="overflow"):
        cache.update(0, torch.zeros(2, 4, 2, 8), torch.zeros(2, 4, 2, 8))
