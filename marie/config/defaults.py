"""Defaults of the generic sections that depend on the command line: evaluation protocols and the presets' eval/run
keys. Each algorithm's per-env defaults and presets live beside it (``marie/algos/<name>/config.py``). The tables are
keyed by the contract's eval modes and presets (tests/harness/test_contract.py checks they match). Torch-free."""

from __future__ import annotations

from typing import Any

WANDB_MODES = ("disabled", "offline", "online")
DEVICES = ("cpu", "cuda", "auto")

# Evaluation protocols (docs/architecture.md); applied before the preset so a preset or --set can still change them.
EVAL_MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {"eval.mode": "paper", "eval.interval": 500, "eval.episodes": 10},
    "standard": {"eval.mode": "standard", "eval.interval": 10_000, "eval.episodes": 32},
}

# The presets' keys outside any algorithm's section (each algorithm adds its own under the same preset name).
PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {"run.checkpoint_interval_s": 60.0},
    "smoke": {"eval.episodes": 2, "eval.interval": 500, "run.checkpoint_interval_s": 5.0},
}
