"""Typed configuration: the single source of truth for every hyperparameter of a run.

``schema`` (the dataclasses and ``TrainConfig``), ``defaults`` (eval protocols, the presets' generic keys) and
``resolve`` (the dotted-key engine and the resolution order); each algorithm's section, per-env defaults and presets
live beside the algorithm. Importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from marie.config.defaults import DEVICES, EVAL_MODE_DEFAULTS, PRESET_DEFAULTS, WANDB_MODES
from marie.config.resolve import (
    build_config,
    dump_yaml,
    flatten,
    from_dict,
    layers,
    parse_override,
    set_dotted,
    to_dict,
    validate,
)
from marie.config.schema import EnvConfig, EvalConfig, RunConfig, train_config_class
from marie.contract import EVAL_MODES, PRESETS

__all__ = [
    "DEVICES", "EVAL_MODES", "EVAL_MODE_DEFAULTS", "EnvConfig", "EvalConfig", "PRESETS", "PRESET_DEFAULTS",
    "RunConfig", "TrainConfig", "WANDB_MODES", "build_config", "dump_yaml", "flatten", "from_dict", "layers",
    "parse_override", "set_dotted", "to_dict", "train_config_class", "validate",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "TrainConfig":  # built on use: it has a section per registered algorithm
        return train_config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
