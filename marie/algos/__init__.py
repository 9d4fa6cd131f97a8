"""The algorithm registry: ``marie train --algo NAME`` looks NAME up here.

A runnable baseline is a module with a factory ``make(spec: EnvSpec, cfg: TrainConfig, device) -> Agent``
(see docs/architecture.md for the Agent interface). Register it by adding one line to ``BUILTIN`` or, without
touching this package, through the ``marie.algorithms`` entry-point group of another installed package:

    [project.entry-points."marie.algorithms"]
    mamba = "my_package.mamba:make"
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any, Callable, Protocol

import numpy as np

from marie.errors import UsageError

BUILTIN: dict[str, str] = {
    "marie": "marie.algos.marie_agent:make",
    "mappo": "marie.algos.mappo:make",
}


class Agent(Protocol):
    def begin_episodes(self, num_envs: int) -> None: ...

    def act(self, obs: np.ndarray, avail: np.ndarray, mode: str) -> np.ndarray: ...

    def observe(self, episode: Any) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def registry() -> dict[str, str]:
    found = dict(BUILTIN)
    for entry in importlib.metadata.entry_points(group="marie.algorithms"):
        found.setdefault(entry.name, entry.value)
    return found


def available() -> tuple[str, ...]:
    return tuple(registry())


def factory(name: str) -> Callable[..., Agent]:
    table = registry()
    if name not in table:
        raise UsageError(f"unknown --algo {name!r}; valid choices: {', '.join(table)}")
    module_name, attr = table[name].split(":")
    return getattr(importlib.import_module(module_name), attr)
