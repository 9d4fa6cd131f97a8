"""Load and validate the workflow config and suite YAML files; expand a suite into its training runs.

Shared by the Snakefile (which turns runs into jobs) and the analysis (which needs budgets and the eval mode).
The schemas check structure and types; names (env families, canonical maps, presets, eval modes) are checked
against ``marie.contract``, where they are defined once.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from marie.contract import ENV_FAMILIES, EVAL_MODES, PRESETS, list_scenarios, run_key, split_map

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO_ROOT / "experiments"
CONFIG_SCHEMA = EXPERIMENTS / "schema" / "config.schema.yaml"
SUITE_SCHEMA = EXPERIMENTS / "schema" / "suite.schema.yaml"
SUITES_DIR = EXPERIMENTS / "suites"

DEFAULT_RESOURCES = {"threads": 1, "gpu": 0, "mem_mb": 4000, "runtime": 60}


class ConfigError(ValueError):
    """A config or suite file that does not match its schema; the message names the file and the key."""


def _key_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error: Any) -> str:
    """One line naming the offending key and what was wrong, for the most relevant schema error."""
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        name = extra[0] if extra else "?"
        key = f"{where}.{name}" if error.absolute_path else name
        return f"unknown key {key!r}; valid keys here: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "required":
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def validate(data: Any, schema_path: Path, source: str) -> dict:
    """Validate `data` against a YAML JSON-schema, fill in schema defaults, return a copy; raise ConfigError."""
    import jsonschema

    schema = yaml.safe_load(schema_path.read_text())
    validator_cls = jsonschema.validators.validator_for(schema)
    errors = list(validator_cls(schema).iter_errors(data))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"{source}: {_describe(best)}")
    data = copy.deepcopy(data)
    _fill_defaults(data, schema)
    return data


def _fill_defaults(data: Any, schema: dict) -> None:
    if not isinstance(data, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub and key not in data:
            data[key] = copy.deepcopy(sub["default"])
        if key in data:
            _fill_defaults(data[key], sub)


def load_config(config: dict) -> dict:
    """Validate the workflow config (experiments/config.yaml merged with --config)."""
    return validate(config, CONFIG_SCHEMA, "config (experiments/config.yaml + --config)")


def available_suites(suites_dir: Path = SUITES_DIR) -> list[str]:
    return sorted(p.stem for p in suites_dir.glob("*.yaml"))


@dataclass(frozen=True)
class RunSpec:
    """One training run: a (suite, env, map, algo, seed) and everything its `marie train` call needs."""

    suite: str
    env: str
    map: str
    algo: str
    seed: int
    steps: int
    preset: str
    eval_mode: str
    flags: dict = field(hash=False, compare=False)
    threads: int = 1
    gpu: int = 0
    mem_mb: int = 4000
    runtime: int = 60

    @property
    def key(self) -> str:
        return run_key(self.env, self.map, self.algo, self.seed)

    def run_dir(self, results: str = "results") -> str:
        return f"{results}/runs/{self.suite}/{self.key}"


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    preset: str
    eval_mode: str
    seeds: tuple[int, ...]
    algos: tuple[str, ...]
    runs: tuple[RunSpec, ...]
    files: tuple[Path, ...] = ()  # the suite file and the files it extends (a change to any re-collects)

    def budget(self, env: str, map_name: str) -> int:
        for run in self.runs:
            if run.env == env and run.map == map_name:
                return run.steps
        raise KeyError(f"{env}/{map_name} is not in suite {self.name}")

    @property
    def envs(self) -> list[str]:
        return list(dict.fromkeys(run.env for run in self.runs))

    def maps(self, env: str) -> list[str]:
        return list(dict.fromkeys(run.map for run in self.runs if run.env == env))

    def run(self, env: str, map_name: str, algo: str, seed: int) -> RunSpec:
        for run in self.runs:
            if (run.env, run.map, run.algo, run.seed) == (env, map_name, algo, int(seed)):
                return run
        raise KeyError(f"{run_key(env, map_name, algo, seed)} is not in suite {self.name}")


def suite_path(name: str, suites_dir: Path = SUITES_DIR) -> Path:
    path = suites_dir / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown suite {name!r}; valid suites: {', '.join(available_suites(suites_dir))}")
    return path


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        return path


def _read_suite_file(path: Path, chain: tuple[Path, ...] = ()) -> tuple[Any, tuple[Path, ...]]:
    """A suite file's mapping with ``extends: NAME`` resolved (the named suite of the same folder, whose top-level
    keys this file's keys replace one by one), and every file it was read from, this one first."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw, (path,)
    raw = dict(raw)
    base_name = raw.pop("extends")
    if not isinstance(base_name, str):
        raise ConfigError(f"{_relative(path)}: extends: {base_name!r} is not a suite name")
    try:
        base_path = suite_path(base_name, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{_relative(path)}: extends: {exc}") from None
    seen = chain + (path,)
    if base_path.resolve() in {p.resolve() for p in seen}:
        cycle = " -> ".join(p.stem for p in seen + (base_path,))
        raise ConfigError(f"{_relative(path)}: extends: {base_name!r} makes a cycle ({cycle})")
    base, files = _read_suite_file(base_path, seen)
    return {**base, **raw}, (path,) + files


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a suite by name (experiments/suites/<name>.yaml) or path, validated and expanded into runs."""
    path = Path(name_or_path)
    if path.suffix != ".yaml":
        path = suite_path(str(name_or_path))
    raw, files = _read_suite_file(path)
    rel = _relative(path)
    data = validate(raw, SUITE_SCHEMA, str(rel))
    _check_names(data, str(rel))
    name = path.stem
    base_resources = {**DEFAULT_RESOURCES, **data["resources"]}
    runs = []
    for entry in data["maps"]:
        unknown = set(entry.get("flags", {})) - set(data["algos"])
        if unknown:
            raise ConfigError(
                f"{rel}: maps entry {entry['map']!r} has flags for {sorted(unknown)[0]!r}, which is not in algos "
                f"({', '.join(data['algos'])})"
            )
        resources = {**base_resources, **entry.get("resources", {})}
        for algo, algo_cfg in data["algos"].items():
            flags = {**((algo_cfg or {}).get("flags", {})), **entry.get("flags", {}).get(algo, {})}
            for seed in data["seeds"]:
                runs.append(
                    RunSpec(
                        suite=name,
                        env=entry["env"],
                        map=entry["map"],
                        algo=algo,
                        seed=seed,
                        steps=entry["steps"],
                        preset=data["preset"],
                        eval_mode=data["eval_mode"],
                        flags=flags,
                        **resources,
                    )
                )
    keys = [r.key for r in runs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ConfigError(f"{rel}: run {duplicated[0]} appears twice (a map is listed twice for one env)")
    return Suite(
        name=name,
        path=path,
        files=files,
        description=data["description"],
        preset=data["preset"],
        eval_mode=data["eval_mode"],
        seeds=tuple(data["seeds"]),
        algos=tuple(data["algos"]),
        runs=tuple(runs),
    )


def _check_names(data: dict, source: str) -> None:
    """Names the suite shares with `marie train`, checked against the contract (the schema checks types only)."""

    def check(where: str, value: Any, valid: Any) -> None:
        if value not in valid:
            raise ConfigError(f"{source}: {where}: {value!r} is not one of {', '.join(valid)}")

    check("preset", data["preset"], PRESETS)
    check("eval_mode", data["eval_mode"], EVAL_MODES)
    for i, entry in enumerate(data["maps"]):
        check(f"maps[{i}].env", entry["env"], ENV_FAMILIES)
        check(f"maps[{i}].map", entry["map"], list_scenarios(entry["env"]))


def _env_name_args(env: str, map_name: str) -> list[str]:
    env_name, agent_conf = split_map(env, map_name)
    return ["--env_name", env_name] + ([] if agent_conf is None else ["--agent_conf", agent_conf])


def _flag_args(flags: dict) -> list[str]:
    args: list[str] = []
    for name, value in flags.items():
        if name == "set":
            for key, val in value.items():
                args += ["--set", f"{key}={_scalar(val)}"]
        elif value is True:
            args.append(f"--{name}")
        elif value is False:
            continue
        else:
            args += [f"--{name}", _scalar(value)]
    return args


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def train_args(run: RunSpec, out_dir: str) -> list[str]:
    """The `marie train` arguments of one run, in the CLI's flag syntax."""
    return [
        "train",
        "--env",
        run.env,
        *_env_name_args(run.env, run.map),
        "--algo",
        run.algo,
        "--seed",
        str(run.seed),
        "--steps",
        str(run.steps),
        "--preset",
        run.preset,
        "--eval-mode",
        run.eval_mode,
        "--threads",
        str(run.threads),
        "--device",
        "cuda" if run.gpu > 0 else "cpu",
        "--out-dir",
        out_dir,
        *_flag_args(run.flags),
    ]
