"""symlog/symexp and the HL-Gauss histogram loss used by MARIE's `--ce_for_r` reward head (spec §3.5)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


class HLGauss(nn.Module):
    """Histogram loss with Gaussian label smoothing on a fixed support [min_value, max_value] of ``num_bins`` bins.

    The target distribution is N(y, sigma^2) integrated over each bin (erf differences over the bin edges),
    renormalised by its mass inside the support; sigma = ``sigma_ratio`` bin widths. Targets are clamped into the
    support first (a fix: far outside it the renormalising mass underflows to 0 and the target becomes NaN; inside
    the support the clamp changes nothing).
    """

    def __init__(self, min_value: float, max_value: float, num_bins: int, sigma_ratio: float = 0.75) -> None:
        super().__init__()
        if not max_value > min_value:
            raise ValueError(f"HL-Gauss support [{min_value}, {max_value}] is empty")
        if num_bins < 2:
            raise ValueError(f"HL-Gauss needs at least 2 bins, got {num_bins}")
        self.min_value, self.max_value, self.num_bins = float(min_value), float(max_value), int(num_bins)
        edges = torch.linspace(min_value, max_value, num_bins + 1)
        self.sigma = sigma_ratio * (max_value - min_value) / num_bins
        self.register_buffer("edges", edges, persistent=False)
        self.register_buffer("centers", (edges[:-1] + edges[1:]) / 2, persistent=False)

    def target_probs(self, y: torch.Tensor) -> torch.Tensor:
        """(...,) targets -> (..., num_bins) probabilities."""
        y = y.clamp(self.min_value, self.max_value)
        cdf = torch.special.erf((self.edges - y.unsqueeze(-1)) / (math.sqrt(2.0) * self.sigma))
        mass = cdf[..., -1:] - cdf[..., :1]
        return (cdf[..., 1:] - cdf[..., :-1]) / mass

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Soft-label cross-entropy averaged over all targets."""
        return -(self.target_probs(y) * F.log_softmax(logits, dim=-1)).sum(-1).mean()

    def expectation(self, logits: torch.Tensor) -> torch.Tensor:
        """Probability-weighted mean of the bin centres: (..., num_bins) -> (...)."""
        return torch.softmax(logits, dim=-1) @ self.centers
