"""A stand-in for an algorithm another package registers through the ``marie.algorithms`` entry point: its own
typed config section, per-env defaults and presets, and a trivial agent (random actions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from marie.registry import AlgorithmSpec


@dataclass
class ToyConfig:
    alpha: float = 1.0
    beta: int = 0
    width: int = 8


class ToyAgent:
    def __init__(self, spec, cfg, device):
        self.spec, self.section = spec, getattr(cfg, "toyalgo", None)
        self.rng = np.random.default_rng(cfg.random_seed)
        self.seen = 0

    def begin_episodes(self, num_envs: int) -> None:
        pass

    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray:
        if not self.spec.discrete:
            return self.rng.uniform(self.spec.action_low, self.spec.action_high, avail.shape).astype(np.float32)
        scores = self.rng.random(avail.shape) * avail  # a random available action per agent
        return scores.argmax(-1)

    def observe(self, episode: Any) -> dict[str, float]:
        self.seen += 1
        return {"toyalgo/episodes": float(self.seen)}

    def state_dict(self) -> dict[str, Any]:
        return {"seen": self.seen, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.seen = state["seen"]
        self.rng.bit_generator.state = state["rng"]


def make(spec, cfg, device) -> ToyAgent:
    return ToyAgent(spec, cfg, device)


ALGORITHM = AlgorithmSpec(
    name="toyalgo",
    config=ToyConfig,
    factory="tests.harness.toy_algorithm:make",
    env_defaults={"pettingzoo": {"alpha": 2.0}},
    presets={"smoke": {"width": 3}},
    preset_env={("smoke", "pettingzoo"): {"beta": 1}},
)
