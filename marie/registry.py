"""The algorithm registry: ``marie train --algo NAME`` looks NAME up here, and so does the config.

An algorithm is described by an ``AlgorithmSpec`` in a torch-free module beside it (``marie/algos/<name>/config.py``):
its typed config section (``TrainConfig.<name>``, ``--set <name>.key=value``, written to config.resolved.yaml), its
per-env defaults and presets, and the ``"module:function"`` of its agent factory, which is imported only when the
algorithm runs. Register one by a line in ``BUILTIN`` or, without touching this package, by the
``marie.algorithms`` entry-point group of another installed package:

    [project.entry-points."marie.algorithms"]
    mamba = "my_package.mamba.config:ALGORITHM"   # an AlgorithmSpec
    legacy = "my_package.legacy:make"             # a bare factory still works (no config section of its own)

Torch-free and below the config: it never imports ``marie.algos`` statically (the specs are loaded by name).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from marie.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

ENTRY_POINT_GROUP = "marie.algorithms"
BUILTIN: dict[str, str] = {
    "marie": "marie.algos.marie.config:ALGORITHM",
    "mappo": "marie.algos.mappo.config:ALGORITHM",
    "mamba": "marie.algos.mamba.config:ALGORITHM",
}
RESERVED_SECTIONS = ("env", "run", "eval")  # the generic config sections; no algorithm may take these names


class Agent(Protocol):
    """What the training loop needs from an algorithm (docs/architecture.md, "Agents")."""

    def begin_episodes(self, num_envs: int) -> None: ...

    def act(self, obs: "np.ndarray", avail: "np.ndarray", mode: str) -> "np.ndarray": ...

    def observe(self, episode: Any) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-for-bit resume needs, as tensors, numpy arrays and plain Python values only
        (checkpoints load with ``weights_only=True``)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm. Keys in the three tables are relative to the algorithm's config section."""

    name: str  # --algo NAME and the config section name
    config: type | None  # dataclass from a torch-free module -> TrainConfig.<name>; None: no section (legacy)
    factory: str  # "module:function", make(spec: EnvSpec, cfg: TrainConfig, device) -> Agent
    env_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # env family -> {key: value}
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # preset -> {key: value}
    preset_env: Mapping[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)  # (preset, env) -> {..}


def _load(value: str) -> Any:
    module_name, _, attr = value.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _from_entry_point(entry: importlib.metadata.EntryPoint) -> AlgorithmSpec:
    obj = entry.load()
    if isinstance(obj, AlgorithmSpec):
        return obj
    if callable(obj):  # a bare factory: runs with the shared config only
        return AlgorithmSpec(name=entry.name, config=None, factory=entry.value)
    raise UsageError(f"entry point {entry.name} = {entry.value} ({ENTRY_POINT_GROUP}) is neither an AlgorithmSpec "
                     "nor a factory")  # fmt: skip


def _check(spec: AlgorithmSpec, registered_as: str) -> AlgorithmSpec:
    if spec.name != registered_as:
        raise UsageError(f"algorithm registered as {registered_as!r} calls itself {spec.name!r}; the names must match")
    if spec.name in RESERVED_SECTIONS:
        taken = ", ".join(RESERVED_SECTIONS)
        raise UsageError(f"algorithm name {spec.name!r} is taken by a config section; not one of: {taken}")
    if spec.config is not None and not dataclasses.is_dataclass(spec.config):
        raise UsageError(f"algorithm {spec.name!r}: config {spec.config!r} is not a dataclass")
    return spec


@functools.cache
def specs() -> dict[str, AlgorithmSpec]:
    """Every registered algorithm, built-ins first (an entry point cannot replace a built-in). Cached; ``refresh``
    forgets it (tests that change the installed entry points)."""
    found = {name: _check(_load(value), name) for name, value in BUILTIN.items()}
    for entry in _entry_points():
        if entry.name not in found:
            found[entry.name] = _check(_from_entry_point(entry), entry.name)
    return found


def refresh() -> None:
    specs.cache_clear()


def names() -> tuple[str, ...]:
    return tuple(specs())


def spec(name: str) -> AlgorithmSpec:
    table = specs()
    if name not in table:
        raise UsageError(f"unknown --algo {name!r}; valid choices: {', '.join(table)}")
    return table[name]


def factory(name: str) -> Callable[..., Agent]:
    """The agent factory of an algorithm (imports its module, and so torch, now)."""
    return _load(spec(name).factory)
