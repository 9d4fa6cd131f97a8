"""The typed config schema: the generic sections (env, run, eval) and ``TrainConfig``, assembled from them and the
config section of every registered algorithm (``TrainConfig.marie``, ``TrainConfig.mappo``, ...).

``TrainConfig`` is built on first use (``train_config_class``), so an algorithm registered through the
``marie.algorithms`` entry point gets its own section like the built-in ones. Torch-free.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from marie import registry
from marie.contract import EVAL_MODES


@dataclass
class EnvConfig:
    env: str = "smax"
    env_name: str = "3m"
    agent_conf: str | None = None
    n_workers: int = 1  # env copies collecting in parallel (vmap for SMAX, processes otherwise)
    seed: int = 1  # the run seed; everything is seeded with 23 + 100 * seed, as the original
    episode_limit: int | None = None  # None: the env's own limit
    obs: str | None = None  # MAMuJoCo observation (marie | state | local); None: the env's default (marie)

    def adapter_kwargs(self) -> dict[str, Any]:
        """The keywords of ``make_env`` this section sets (time limit, MAMuJoCo observation)."""
        kw: dict[str, Any] = {}
        if self.episode_limit is not None:
            kw["episode_limit"] = self.episode_limit
        if self.obs is not None:
            kw["obs"] = self.obs
        return kw


@dataclass
class EvalConfig:
    mode: str = EVAL_MODES[0]  # paper: 10 sampled episodes every 500 steps; standard: 32 greedy episodes
    interval: int = 500
    episodes: int = 10
    temperature: float = 1.0  # sampling temperature of paper-mode evaluation (discrete actions)
    distinct_seeds: bool = True  # fix of the original, whose 10 eval workers shared one env seed
    num_envs: int = 0  # eval env copies run together; 0 = as many as episodes (capped at 32)


@dataclass
class RunConfig:
    algo: str = "marie"
    preset: str = "paper"
    steps: int = 1_000_000  # training env-step budget (--steps)
    max_episodes: int = 50_000  # the original's Experiment(episodes=50000)
    device: str = "cpu"
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    heap_keep_mb: int = 256  # freed heap glibc keeps for reuse (runtime.keep_freed_heap); 0: glibc default
    checkpoint_interval_s: float = 120.0  # wall-clock seconds between checkpoints (also one at the end)
    checkpoint_every_steps: int = 0  # also one every this many env steps (0: off; the kill tests use it)
    wandb_mode: str = "disabled"  # --mode
    wandb_project: str | None = None  # None: the env family name, as the original
    tensorboard: bool = False
    progress: str = "auto"  # auto: a live line on a TTY, a plain line per eval otherwise; none: silent


GENERIC_SECTIONS: dict[str, type] = {"env": EnvConfig, "run": RunConfig, "eval": EvalConfig}


def _random_seed(self: Any) -> int:
    """The original's seed mapping: every RNG and env is seeded from 23 + 100 * seed."""
    return 23 + 100 * self.env.seed


@functools.cache
def _build(sections: tuple[tuple[str, type], ...]) -> type:
    fields = [(name, cls, field(default_factory=cls)) for name, cls in [*GENERIC_SECTIONS.items(), *sections]]
    namespace = {"random_seed": property(_random_seed), "__doc__": "Every hyperparameter of one run.",
                 "__module__": __name__}  # fmt: skip
    return dataclasses.make_dataclass("TrainConfig", fields, namespace=namespace)


def algorithm_sections() -> tuple[tuple[str, type], ...]:
    """(section name, dataclass) of every registered algorithm that has a config section, in registry order."""
    return tuple((spec.name, spec.config) for spec in registry.specs().values() if spec.config is not None)


def train_config_class() -> type:
    """``TrainConfig`` for the algorithms registered now: sections env, run, eval, then one per algorithm."""
    return _build(algorithm_sections())


def __getattr__(name: str) -> Any:
    if name == "TrainConfig":
        return train_config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
