"""Vectorised world-model loss pieces against straightforward loop references (spec §3.3, §3.5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from marie.models.wm_losses import avail_labels, avail_loss, episode_attention_mask, segmented_obs_loss


def loop_attention_mask(dones: torch.Tensor, tpb: int) -> torch.Tensor:
    """The original's per-sample construction: causal, blocked across every all-agents-done boundary."""
    batch, steps, _ = dones.shape
    length = steps * tpb
    mask = torch.zeros(batch, length, length, dtype=torch.bool)
    for b in range(batch):
        start = 0
        for t in range(steps):
            if t == steps - 1 or bool(dones[b, t].all()):
                lo, hi = start * tpb, (t + 1) * tpb
                mask[b, lo:hi, lo:hi] = torch.ones(hi - lo, hi - lo, dtype=torch.bool).tril()
                start = t + 1
    return mask


def loop_obs_loss(logits: torch.Tensor, labels: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """Spec §3.5 as the original's double loop: split each row after every done step t <= T-2."""
    rows, steps, k, vocab = logits.shape
    flat_logits, flat_labels = logits.reshape(rows, -1, vocab), labels.reshape(rows, -1)
    row_losses = []
    for r in range(rows):
        cuts = [(t + 1) * k for t in range(steps - 1) if dones[r, t]]
        bounds = [0] + cuts + [steps * k]
        seg_losses = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            seg_logits, seg_labels = flat_logits[r, lo:hi], flat_labels[r, lo:hi]
            seg_losses.append(F.cross_entropy(seg_logits[:-1], seg_labels[1:]))
        row_losses.append(torch.stack(seg_losses).mean())
    return torch.stack(row_losses).mean()


def test_attention_mask_matches_loop_and_ignores_single_deaths() -> None:
    dones = torch.zeros(3, 5, 2, dtype=torch.bool)
    dones[0, 1] = True  # all agents done after step 1: boundary
    dones[0, 3, 0] = True  # one agent dies: no boundary
    dones[1, 2, 1] = True  # single death only
    dones[2, 0] = True
    dones[2, 2] = True
    dones[2, 4] = True  # last step: no boundary inside the window
    mask = episode_attention_mask(dones, tokens_per_block=3)
    assert mask is not None and mask.shape == (3, 15, 15)
    assert torch.equal(mask, loop_attention_mask(dones, 3))
    assert torch.equal(mask[1], torch.ones(15, 15, dtype=torch.bool).tril())


def test_attention_mask_is_none_without_boundaries() -> None:
    dones = torch.zeros(2, 4, 3, dtype=torch.bool)
    dones[:, -1] = True
    dones[0, 1, 0] = True
    assert episode_attention_mask(dones, 5) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segmented_obs_loss_matches_loop(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    rows, steps, k, vocab = 6, 5, 4, 7
    logits = torch.randn(rows, steps, k, vocab, generator=g)
    labels = torch.randint(0, vocab, (rows, steps, k), generator=g)
    dones = torch.rand(rows, steps, generator=g) < 0.4
    dones[0] = False
    dones[1, 1:] = True  # a dead agent: every later step is its own one-block segment
    expected = loop_obs_loss(logits, labels, dones)
    assert torch.allclose(segmented_obs_loss(logits, labels, dones), expected, atol=1e-6)


def test_segmented_obs_loss_excludes_only_the_crossing_prediction() -> None:
    rows, steps, k, vocab = 1, 2, 3, 5
    logits = torch.zeros(rows, steps, k, vocab)
    labels = torch.zeros(rows, steps, k, dtype=torch.long)
    logits[0, 0, 2, 1] = 100.0  # the crossing prediction (aggregated token of a done step) is badly wrong
    done = torch.tensor([[True, False]])
    uniform = torch.log(torch.tensor(5.0))
    assert float(segmented_obs_loss(logits, labels, done)) == pytest.approx(float(uniform), rel=1e-6)
    assert float(segmented_obs_loss(logits, labels, ~done)) > float(uniform) + 10


def test_avail_labels_override_after_done() -> None:
    avail = torch.tensor([[[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]], dtype=torch.bool)  # (1, T=4, A=3)
    dones = torch.tensor([[False, True, False, False]])
    labels = avail_labels(avail, dones)
    assert labels.tolist() == [[[False, True, False], [True, True, True], [True, False, False]]]


def test_avail_loss_reductions() -> None:
    logits = torch.randn(4, 5, 3)
    labels = torch.rand(4, 5, 3) < 0.5
    p = torch.sigmoid(logits)
    bernoulli = -(labels * p.log() + (~labels) * (1 - p).log()).sum(-1).mean()
    assert torch.allclose(avail_loss(logits, labels, ce_for_av=False), bernoulli, atol=1e-5)
    pair_logits = torch.randn(4, 5, 6)
    pairs = pair_logits.view(4, 5, 3, 2)
    ce = -torch.log_softmax(pairs, -1).gather(-1, labels.long().unsqueeze(-1)).mean()
    assert torch.allclose(avail_loss(pair_logits, labels, ce_for_av=True), ce, atol=1e-6)
