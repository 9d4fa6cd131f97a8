"""Builds the tokenizer a config names (``TokenizerConfig.kind``)."""

from __future__ import annotations

from marie.models.configs import TOKENIZER_KINDS, TokenizerConfig
from marie.models.tokenizers.base import Tokenizer
from marie.models.tokenizers.bins import BinTokenizer
from marie.models.tokenizers.fsq import FSQTokenizer
from marie.models.tokenizers.vq import VQTokenizer


def build_tokenizer(cfg: TokenizerConfig, obs_dim: int) -> Tokenizer:
    if obs_dim < 1:
        raise ValueError(f"obs_dim must be positive, got {obs_dim}")
    if cfg.kind == "vq":
        return VQTokenizer(cfg, obs_dim)
    if cfg.kind == "fsq":
        return FSQTokenizer(cfg, obs_dim)
    if cfg.kind == "bins":
        return BinTokenizer(cfg, obs_dim)
    raise ValueError(f"tokenizer kind {cfg.kind!r} is not one of {', '.join(TOKENIZER_KINDS)}")
