"""FSQ tokenizer (spec §2.3), with one ``levels`` setting shared by training and acting.

The original trains with levels [8,8,8] but acts with [8,6,5] (the level buffers are non-persistent, so loading
raises nothing); here the levels are a single config field, stored in the state dict and checked on load.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from marie.models.configs import TokenizerConfig
from marie.models.outputs import LossOutput
from marie.models.tokenizers.base import Tokenizer, code_usage_pct, mlp


class FiniteScalarQuantizer(nn.Module):
    """Bounds each channel to its level count, rounds (straight-through) and indexes codes in mixed radix."""

    def __init__(self, levels: list[int]) -> None:
        super().__init__()
        if not levels or any(int(level) < 2 for level in levels):
            raise ValueError(f"FSQ levels must be a non-empty list of integers >= 2, got {levels}")
        lv = torch.tensor([int(level) for level in levels], dtype=torch.long)
        self.register_buffer("levels", lv)  # persistent: a checkpoint with other levels fails to load
        self.register_buffer("basis", torch.cumprod(torch.cat([lv.new_ones(1), lv[:-1]]), 0), persistent=False)
        self.codebook_size = int(lv.prod())

    @property
    def dim(self) -> int:
        return int(self.levels.numel())

    def _half_width(self) -> torch.Tensor:
        return (self.levels // 2).float()

    def bound(self, z: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        levels = self.levels.float()
        half = (levels - 1) * (1 + eps) / 2
        offset = torch.where(self.levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def quantize(self, z: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> normalised codes in [-1, 1], straight-through gradient for the rounding."""
        bounded = self.bound(z)
        rounded = bounded + (bounded.round() - bounded).detach()
        return rounded / self._half_width()

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        stored = state_dict.get(prefix + "levels")
        if stored is not None and not torch.equal(stored.cpu(), self.levels.cpu()):
            raise ValueError(
                f"FSQ levels of the checkpoint {stored.tolist()} differ from the configured {self.levels.tolist()}"
            )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def codes_to_indices(self, codes: torch.Tensor) -> torch.Tensor:
        shifted = (codes * self._half_width() + self._half_width()).round().long()  # 0..L-1 per channel
        return (shifted * self.basis).sum(-1)

    def indices_to_codes(self, indices: torch.Tensor) -> torch.Tensor:
        digits = (indices.unsqueeze(-1) // self.basis) % self.levels
        return (digits.float() - self._half_width()) / self._half_width()


class FSQTokenizer(Tokenizer):
    """MLP encoder d -> 512 -> 512 -> K*len(levels), FSQ per token, mirror decoder; L1 loss only."""

    def __init__(self, cfg: TokenizerConfig, obs_dim: int) -> None:
        super().__init__()
        self.quantizer = FiniteScalarQuantizer(list(cfg.fsq_levels))
        self.obs_dim, self.tokens_per_obs = obs_dim, cfg.num_tokens
        self.vocab_size = self.quantizer.codebook_size
        width = cfg.num_tokens * self.quantizer.dim
        self.encoder = mlp([obs_dim, cfg.fsq_hidden_dim, cfg.fsq_hidden_dim, width])
        self.decoder = mlp([width, cfg.fsq_hidden_dim, cfg.fsq_hidden_dim, obs_dim])

    def _codes(self, obs: torch.Tensor) -> torch.Tensor:
        z = self.encoder(obs).view(*obs.shape[:-1], self.tokens_per_obs, self.quantizer.dim)
        return self.quantizer.quantize(z)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        return self.quantizer.codes_to_indices(self._codes(obs))

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.quantizer.indices_to_codes(tokens).flatten(-2))

    def compute_loss(self, obs: torch.Tensor) -> LossOutput:
        codes = self._codes(obs)
        reconstruction = (self.decoder(codes.flatten(-2)) - obs).abs().mean()
        usage = code_usage_pct(self.quantizer.codes_to_indices(codes.detach()), self.vocab_size)
        parts = {"reconstruction": reconstruction.detach(), "code_usage_pct": usage, "total": reconstruction.detach()}
        return LossOutput(reconstruction, parts)
