"""The world model's dropout (cheaper CPU mask): drop rate, scaling, gradients, determinism, attention dropout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from marie.models.dropout import Dropout, attention, dropout, keep_mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keep_mask_keeps_one_minus_p_of_the_elements(p: float) -> None:
    torch.manual_seed(0)
    n = 400_001  # not a multiple of 4: the last 64-bit draw is used for one element only
    kept = keep_mask((n,), p, torch.device("cpu")).double().mean().item()
    assert abs(kept - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)


def test_keep_mask_elements_are_independent_of_their_neighbours() -> None:
    """All four 16-bit lanes of a 64-bit draw are used: no pair of them may be correlated, and each lane alone
    keeps 1 - p (the top lane holds the draw's sign bit, which plain ``random_()`` leaves at 0)."""
    torch.manual_seed(1)
    n = 200_000
    mask = keep_mask((n, 4), 0.5, torch.device("cpu")).double()
    for lane in range(4):
        assert abs(mask[:, lane].mean().item() - 0.5) < 5 * math.sqrt(0.25 / n)
        for other in range(lane + 1, 4):
            both = (mask[:, lane] * mask[:, other]).mean().item()
            assert abs(both - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)


def test_keep_mask_drops_everything_when_p_rounds_to_one() -> None:
    """p within 2^-17 of 1 rounds to a threshold past the int16 range: nothing kept, not a wrapped comparison."""
    assert not keep_mask((1000,), 1 - 2**-18, torch.device("cpu")).any()
    kept = keep_mask((1_000_000,), 1 - 2**-12, torch.device("cpu")).double().mean().item()
    assert 0 < kept < 10 * 2**-12


def test_keep_mask_rejects_a_probability_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        keep_mask((3,), 1.0, torch.device("cpu"))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(-0.1)


def test_dropout_scales_the_kept_values_and_is_the_identity_in_eval() -> None:
    torch.manual_seed(2)
    x = torch.rand(1000, 50) + 0.5
    out = dropout(x, 0.2, training=True)
    kept = out != 0
    assert torch.allclose(out[kept], x[kept] / 0.8)
    assert abs((~kept).double().mean().item() - 0.2) < 0.01
    assert dropout(x, 0.2, training=False) is x
    layer = Dropout(0.2).eval()
    assert layer(x) is x


def test_dropout_gradient_is_the_same_mask_and_scale() -> None:
    torch.manual_seed(3)
    x = (torch.rand(64, 32) + 0.5).requires_grad_()
    out = Dropout(0.3).train()(x)
    out.sum().backward()
    assert torch.allclose(x.grad, out.detach() / x.detach())


def test_dropout_is_deterministic_under_the_global_seed() -> None:
    x = torch.randn(100, 100)
    torch.manual_seed(4)
    first = dropout(x, 0.1, True)
    torch.manual_seed(4)
    assert torch.equal(first, dropout(x, 0.1, True))


def _reference(q, k, v, allowed, keep, p, scale):
    scores = (q * scale) @ k.transpose(-2, -1)
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return (probs * keep / (1 - p)) @ v


@pytest.mark.parametrize("kind", ["causal", "mask", "none"])
def test_attention_dropout_is_softmax_attention_with_the_keep_mask_on_the_probabilities(kind: str) -> None:
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    allowed = torch.ones(7, 7, dtype=torch.bool)
    kwargs = {}
    if kind == "causal":
        allowed, kwargs = allowed.tril(), {"is_causal": True}
    elif kind == "mask":
        allowed = torch.rand(2, 1, 7, 7, generator=torch.Generator().manual_seed(0)) < 0.6
        allowed |= torch.eye(7, dtype=torch.bool)
        kwargs = {"attn_mask": allowed}
    torch.manual_seed(5)
    out = attention(q, k, v, dropout_p=0.25, scale=0.3, **kwargs)
    torch.manual_seed(5)
    keep = keep_mask((2, 3, 7, 7), 0.25, torch.device("cpu"))
    assert torch.allclose(out, _reference(q, k, v, allowed, keep, 0.25, 0.3), atol=1e-6)


def test_attention_without_dropout_is_torchs_call() -> None:
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    assert torch.equal(attention(q, k, v, is_causal=True), F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_attention_dropout_keeps_the_expected_output() -> None:
    """Averaged over many masks, attention with dropout equals attention without it (inverted scaling)."""
    torch.manual_seed(6)
    q, k, v = (torch.randn(1, 1, 6, 4) for _ in range(3))
    mean = torch.stack([attention(q, k, v, is_causal=True, dropout_p=0.5) for _ in range(4000)]).mean(0)
    assert torch.allclose(mean, attention(q, k, v, is_causal=True), atol=0.08)


def test_attention_refuses_a_mask_together_with_causal() -> None:
    q = torch.randn(1, 1, 3, 4)
    with pytest.raises(ValueError, match="not both"):
        attention(q, q, q, attn_mask=torch.ones(3, 3, dtype=torch.bool), is_causal=True, dropout_p=0.1)
