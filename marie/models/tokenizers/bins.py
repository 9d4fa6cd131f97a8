"""MPE's fixed binning "tokenizer" (`use_bin`, spec §2.4): one token per observation dimension, never trained."""

from __future__ import annotations

import torch

from marie.models.binning import symlog_bin_edges, symlog_bins_to_values, values_to_symlog_bins
from marie.models.configs import TokenizerConfig
from marie.models.outputs import LossOutput
from marie.models.tokenizers.base import Tokenizer, code_usage_pct


class BinTokenizer(Tokenizer):
    """symlog(obs) bucketised into ``bins`` bins on [-range, range]; decoded as bin centre then symexp."""

    trainable = False

    def __init__(self, cfg: TokenizerConfig, obs_dim: int) -> None:
        super().__init__()
        self.obs_dim, self.tokens_per_obs, self.vocab_size = obs_dim, obs_dim, cfg.bins
        self.register_buffer("edges", symlog_bin_edges(cfg.bin_range, cfg.bins), persistent=False)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return values_to_symlog_bins(obs, self.edges)

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return symlog_bins_to_values(tokens, self.edges)

    def compute_loss(self, obs: torch.Tensor) -> LossOutput:
        """Reports the binning error; the loss carries no gradient (nothing to train)."""
        tokens = self.encode(obs)
        reconstruction = (self.decode(tokens) - obs).abs().mean()
        parts = {
            "reconstruction": reconstruction,
            "code_usage_pct": code_usage_pct(tokens, self.vocab_size),
            "total": reconstruction,
        }
        return LossOutput(reconstruction, parts)
