"""MARIE's model components: tokenizers, world model (transformer + Perceiver), KV cache and imagination.

Exports are resolved lazily so that ``marie.models.configs`` (pure dataclasses) can be imported without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TokenizerConfig": "marie.models.configs",
    "WorldModelConfig": "marie.models.configs",
    "ImaginationConfig": "marie.models.configs",
    "LossOutput": "marie.models.outputs",
    "Tokenizer": "marie.models.tokenizers.base",
    "build_tokenizer": "marie.models.tokenizers.factory",
    "VQTokenizer": "marie.models.tokenizers.vq",
    "FSQTokenizer": "marie.models.tokenizers.fsq",
    "BinTokenizer": "marie.models.tokenizers.bins",
    "HLGauss": "marie.models.hl_gauss",
    "symlog": "marie.models.hl_gauss",
    "symexp": "marie.models.hl_gauss",
    "KVCache": "marie.models.kv_cache",
    "Transformer": "marie.models.transformer",
    "Perceiver": "marie.models.perceiver",
    "WorldModel": "marie.models.world_model",
    "WorldModelBatch": "marie.models.world_model",
    "world_model_param_groups": "marie.models.optim",
    "make_world_model_optimizer": "marie.models.optim",
    "make_tokenizer_optimizer": "marie.models.optim",
    "ImaginationStart": "marie.models.imagination",
    "ImaginedRollout": "marie.models.imagination",
    "imagine": "marie.models.imagination",
    "make_start_states": "marie.models.imagination",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'marie.models' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
