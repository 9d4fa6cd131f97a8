"""Uniform binning of continuous values into tokens: continuous actions (spec §2.1) and MPE's symlog observation
bins (spec §2.4)."""

from __future__ import annotations

import torch

from marie.models.hl_gauss import symexp, symlog


def action_bin_edges(low: float, high: float, bins: int) -> torch.Tensor:
    """``bins + 1`` edges from ``low - 1e-6`` to ``high``; bin i holds values in (edge_i, edge_{i+1}]."""
    if not high > low:
        raise ValueError(f"action range [{low}, {high}] is empty")
    return torch.linspace(low - 1e-6, high, bins + 1)


def actions_to_bins(actions: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bucketise each dimension of raw continuous actions: float (...) -> long (...) in 0..bins-1.

    Searching the inner edges only puts values below ``low`` into bin 0 and above ``high`` into the last bin, which
    is exactly the original's clip to [low, high] before binning.
    """
    return torch.bucketize(actions.contiguous(), edges[1:-1].to(actions.device), right=False)


def symlog_bin_edges(value_range: float, bins: int) -> torch.Tensor:
    return torch.linspace(-value_range, value_range, bins + 1)


def values_to_symlog_bins(x: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """symlog(x) bucketised on ``edges`` -> long indices, out-of-range values clamped into the first/last bin.

    The original indexes out of its embedding table for |symlog(x)| > range (spec §2.4); clamping is our fix.
    """
    return torch.bucketize(symlog(x).contiguous(), edges[1:-1].to(x.device), right=False)


def symlog_bins_to_values(indices: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Bin centres followed by symexp."""
    centers = ((edges[:-1] + edges[1:]) / 2).to(indices.device)
    return symexp(centers[indices])
