"""Config resolution: the dotted-key engine, the layers in their documented order, validation and YAML I/O.

Resolution order (later wins): dataclass defaults (the original's SMAC values) -> per-env defaults (spec §7.3) ->
the eval mode's protocol -> preset (``paper`` changes nothing; ``quick`` and ``smoke`` shrink sizes and counts for
CPU) -> the preset's per-env additions (e.g. the quick SMAX schedule) -> config file -> the original command-line
flags -> ``--set dotted.key=value`` overrides. Each table layer holds the generic keys (eval/run) and every
registered algorithm's keys, prefixed with its section name; keys of different sections never interact.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping

import yaml

from marie import registry
from marie.config.defaults import DEVICES, EVAL_MODE_DEFAULTS, PRESET_DEFAULTS, WANDB_MODES
from marie.config.schema import train_config_class
from marie.contract import EVAL_MODES, MAMUJOCO_OBS_MODES, PRESETS
from marie.errors import UsageError


def _field_names(obj: Any) -> list[str]:
    return [f.name for f in dataclasses.fields(obj)]


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return any(_has_nan(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nan(item) for item in value.values())
    return False


def _declared(node: Any, name: str) -> str:
    """A field's declared type as written (``str | None``); these modules use postponed annotations."""
    declared = next(f.type for f in dataclasses.fields(node) if f.name == name)
    return declared if isinstance(declared, str) else getattr(declared, "__name__", str(declared))


def _coerce(value: Any, current: Any, key: str, declared: str = "") -> Any:
    """Convert ``value`` to the type of the field (its current value, or its declared type where it is None);
    a clear error when impossible. NaN is refused everywhere: no setting means anything with it."""
    if _has_nan(value):
        raise UsageError(f"config key {key!r} is NaN; give a number")
    if value is None:
        return None  # Optional fields (e.g. agent_conf, chunk_size)
    if current is None and declared.endswith("| None"):
        current = {"str": "", "int": 0, "float": 0.0}.get(declared.split("|")[0].strip(), current)
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise UsageError(f"config key {key!r} expects true/false, got {value!r}")
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
        raise UsageError(f"config key {key!r} expects an integer, got {value!r}")
    if isinstance(current, float):
        if isinstance(value, str) and value.lower() in ("inf", "+inf", "infinity"):
            return math.inf
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UsageError(f"config key {key!r} expects a number, got {value!r}")
    if isinstance(current, list):
        if isinstance(value, list):
            return value
        raise UsageError(f"config key {key!r} expects a list, got {value!r}")
    if dataclasses.is_dataclass(current):
        raise UsageError(f"config key {key!r} is a section; set one of its keys: {', '.join(_field_names(current))}")
    if isinstance(current, str):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # a name that YAML read as a number
        if not isinstance(value, str):
            raise UsageError(f"config key {key!r} expects a name (a string), got {value!r}")
    return value


def set_dotted(cfg: Any, key: str, value: Any) -> None:
    """Set ``a.b.c = value`` on a dataclass tree, naming the bad part and the valid keys on error."""
    parts = key.split(".")
    node = cfg
    for depth, part in enumerate(parts):
        names = _field_names(node)
        if part not in names:
            where = ".".join(parts[:depth]) or "top level"
            raise UsageError(f"unknown config key {key!r}: {part!r} is not in {where}; valid: {', '.join(names)}")
        if depth == len(parts) - 1:
            setattr(node, part, _coerce(value, getattr(node, part), key, _declared(node, part)))
        else:
            node = getattr(node, part)
            if not dataclasses.is_dataclass(node):
                raise UsageError(f"config key {key!r}: {'.'.join(parts[: depth + 1])!r} is not a section")


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> dotted keys."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as YAML (so 1e-4, true, [8,8,8] work)."""
    if "=" not in text or text.startswith("="):
        raise UsageError(f"malformed override {text!r}: expected dotted.key=value, e.g. marie.world_model.layers=4")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise UsageError(f"malformed override {text!r}: the value is not valid YAML") from None
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 as a string
            value = float(value)
        except ValueError:
            pass
    return key.strip(), value


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(data: Mapping[str, Any]) -> Any:
    """Rebuild a ``TrainConfig`` from ``config.resolved.yaml`` (used when resuming and by tests)."""
    cfg = train_config_class()()
    for key, value in flatten(data).items():
        set_dotted(cfg, key, value)
    return cfg


def validate(cfg: Any) -> None:
    """Checks that need no simulator: one-line errors naming the value and the valid choices. Every algorithm
    section with a ``validate()`` method checks itself."""
    checks = [
        ("run.algo (--algo)", cfg.run.algo, registry.names()),
        ("run.preset", cfg.run.preset, PRESETS),
        ("eval.mode", cfg.eval.mode, EVAL_MODES),
        ("run.wandb_mode (--mode)", cfg.run.wandb_mode, WANDB_MODES),
        ("run.device", cfg.run.device, DEVICES),
    ]
    for name, value, valid in checks:
        if value not in valid:
            raise UsageError(f"invalid {name} {value!r}; valid choices: {', '.join(valid)}")
    positive = {
        "run.steps (--steps)": cfg.run.steps,
        "env.n_workers (--n_workers)": cfg.env.n_workers,
        "eval.episodes": cfg.eval.episodes,
        "eval.interval": cfg.eval.interval,
    }
    for name, value in positive.items():
        if value <= 0:
            raise UsageError(f"invalid {name} {value!r}: must be a positive integer")
    if cfg.env.obs is not None and cfg.env.env != "mamujoco":
        raise UsageError(f"invalid env.obs {cfg.env.obs!r}: only mamujoco has observation modes (env is {cfg.env.env})")
    if cfg.env.obs is not None and cfg.env.obs not in MAMUJOCO_OBS_MODES:
        raise UsageError(f"invalid env.obs {cfg.env.obs!r}; valid choices: {', '.join(MAMUJOCO_OBS_MODES)}")
    if cfg.env.seed < 0:
        raise UsageError(f"invalid --seed {cfg.env.seed!r}: must be >= 0")
    if cfg.run.threads < 0:
        raise UsageError(f"invalid --threads {cfg.run.threads!r}: must be >= 1 (or 0 for torch's default)")
    for name, value in (("run.checkpoint_interval_s", cfg.run.checkpoint_interval_s),
                        ("run.checkpoint_every_steps", cfg.run.checkpoint_every_steps),
                        ("run.heap_keep_mb", cfg.run.heap_keep_mb)):  # fmt: skip
        if value < 0:
            raise UsageError(f"invalid {name} {value!r}: must be >= 0")
    for spec in registry.specs().values():
        section = getattr(cfg, spec.name, None)
        if callable(getattr(section, "validate", None)):
            section.validate()


def _algorithm_keys(table: Callable[[registry.AlgorithmSpec], Mapping[str, Any]]) -> dict[str, Any]:
    """One table layer of every algorithm, keys prefixed with the algorithm's section name."""
    return {f"{spec.name}.{key}": value for spec in registry.specs().values() for key, value in table(spec).items()}


def layers(env: str, preset: str, eval_mode: str) -> list[dict[str, Any]]:
    """The table layers of a run, in resolution order (before the config file, flags and overrides)."""
    return [
        _algorithm_keys(lambda spec: spec.env_defaults.get(env, {})),
        dict(EVAL_MODE_DEFAULTS[eval_mode]),
        PRESET_DEFAULTS[preset] | _algorithm_keys(lambda spec: spec.presets.get(preset, {})),
        _algorithm_keys(lambda spec: spec.preset_env.get((preset, env), {})),
    ]


def build_config(
    env: str,
    env_name: str,
    preset: str = "paper",
    eval_mode: str = "paper",
    config_file: Mapping[str, Any] | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> Any:
    """Resolve a ``TrainConfig`` in the documented order. ``flags`` are dotted keys from the original command line."""
    if preset not in PRESETS:
        raise UsageError(f"invalid --preset {preset!r}; valid choices: {', '.join(PRESETS)}")
    if eval_mode not in EVAL_MODES:
        raise UsageError(f"invalid --eval-mode {eval_mode!r}; valid choices: {', '.join(EVAL_MODES)}")
    cfg = train_config_class()()
    cfg.env.env, cfg.env.env_name, cfg.run.preset = env, env_name, preset
    user = [
        flatten(config_file or {}),
        dict(flags or {}),
        dict(parse_override(text) for text in overrides or []),
    ]
    for layer in layers(env, preset, eval_mode) + user:
        for key, value in layer.items():
            set_dotted(cfg, key, value)
    validate(cfg)
    return cfg


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)
