"""Vectorised pieces of the world-model loss: episode-segment attention mask, segmented observation loss and
avail-action labels (spec §3.3, §3.5). The original builds these with Python loops; these are tensor ops only."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def episode_attention_mask(dones: torch.Tensor, tokens_per_block: int) -> torch.Tensor | None:
    """Causal mask within episode segments, one per sample: dones (B, T, N) -> (B, T*tpb, T*tpb) bool or None.

    A segment boundary falls after every step at which *all* agents are done; per-agent deaths do not cut it.
    True = may attend. Returns None when no sample has a boundary inside the window (then plain causal attention
    is the same thing and cheaper).
    """
    all_done = dones.bool().all(dim=-1)  # (B, T)
    boundary = all_done[:, :-1]
    if not bool(boundary.any()):
        return None
    batch, steps = all_done.shape
    segment = torch.zeros(batch, steps, dtype=torch.long, device=dones.device)
    segment[:, 1:] = boundary.long().cumsum(dim=1)
    token_segment = segment.repeat_interleave(tokens_per_block, dim=1)  # (B, L)
    length = steps * tokens_per_block
    causal = torch.ones(length, length, dtype=torch.bool, device=dones.device).tril()
    return (token_segment.unsqueeze(2) == token_segment.unsqueeze(1)) & causal


def segmented_obs_loss(logits: torch.Tensor, labels: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """Next-token CE split at each per-agent done, averaged within segments, then over segments, then over rows.

    logits (R, T, K, V): per block, the outputs at obs positions 0..K-2 and at the aggregated token; flattened over
    (T, K), logit j predicts label j+1. labels (R, T, K) obs tokens. dones (R, T) per-agent done flags.
    The sequence is split after every block t <= T-2 whose done is set; the prediction crossing that boundary
    (the aggregated token of block t predicting o_{t+1}(0)) is excluded.
    """
    rows, steps, k, vocab = logits.shape
    num_pred = steps * k - 1
    pred = logits.reshape(rows, steps * k, vocab)[:, :-1]
    target = labels.reshape(rows, steps * k)[:, 1:]
    ce = F.cross_entropy(pred.reshape(-1, vocab), target.reshape(-1), reduction="none").view(rows, num_pred)

    position = torch.arange(num_pred, device=logits.device)
    block = position // k
    done = dones.bool()
    crossing = (position % k == k - 1).unsqueeze(0) & done[:, block]
    valid = (~crossing).to(ce.dtype)
    segment_of_step = torch.zeros(rows, steps, dtype=torch.long, device=logits.device)
    segment_of_step[:, 1:] = done[:, :-1].long().cumsum(dim=1)
    segment = segment_of_step[:, block]  # (R, P)

    sums = torch.zeros(rows, steps, dtype=ce.dtype, device=ce.device).scatter_add_(1, segment, ce * valid)
    counts = torch.zeros_like(sums).scatter_add_(1, segment, valid)
    nonempty = counts > 0
    segment_mean = sums / counts.clamp(min=1.0)
    row_mean = (segment_mean * nonempty).sum(dim=1) / nonempty.sum(dim=1).clamp(min=1)
    return row_mean.mean()


@torch.no_grad()
def next_token_accuracy(logits: torch.Tensor, labels: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """Share of next obs tokens predicted by argmax, over the predictions ``segmented_obs_loss`` uses (pooled)."""
    rows, steps, k, vocab = logits.shape
    num_pred = steps * k - 1
    pred = logits.reshape(rows, steps * k, vocab)[:, :-1].argmax(-1)
    target = labels.reshape(rows, steps * k)[:, 1:]
    position = torch.arange(num_pred, device=logits.device)
    crossing = (position % k == k - 1).unsqueeze(0) & dones.bool()[:, position // k]
    valid = ~crossing
    return ((pred == target) & valid).sum() / valid.sum().clamp(min=1)


def avail_labels(avail: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
    """Labels av_{t+1} for the outputs of blocks 0..T-2: avail (..., T, A) bool, dones (..., T) -> (..., T-1, A).

    Wherever the agent was done at the previous step the label is all-ones (the original's rolled-done override).
    """
    return avail[..., 1:, :].bool() | dones[..., :-1].bool().unsqueeze(-1)


def avail_loss(logits: torch.Tensor, labels: torch.Tensor, ce_for_av: bool) -> torch.Tensor:
    """logits (..., A) Bernoulli or (..., 2A) viewed as (A, 2) classes (class 1 = available); labels (..., A) bool.

    Bernoulli: NLL summed over actions, then averaged over positions. 2-class CE: averaged over positions x actions.
    """
    if ce_for_av:
        return F.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1).long())
    nll = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    return nll.sum(-1).mean()
