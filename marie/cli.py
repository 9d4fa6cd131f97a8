"""``marie``: the command line.

``marie train`` accepts the original MARIE flags verbatim (``--n_workers --env --env_name --seed --agent_conf --steps
--mode --tokenizer --decay --temperature --sample_temp --ce_for_av --ce_for_r``, plus ``--average_r`` and the no-op
``--ce_for_end``) with their original meanings and defaults, and adds ``--algo --out-dir --device --eval-mode
--preset --config --set --threads``. Bad input exits with status 2 and one line naming the value and the valid
choices, before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import yaml

from marie import bench
from marie.contract import ENV_FAMILIES, list_scenarios, validate_env
from marie.envs.capacity import check_env_copies
from marie.errors import INTERRUPTED_EXIT, TERMINATED_EXIT, UsageError, exit_status
from marie.runtime import keep_freed_heap, limit_threads, set_torch_threads


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints usage + error over two lines; we want exactly one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _budget(text: str) -> int:
    """--steps: an integer, also written as 1e6 / 100000.0 (the original's default is the float 1e6)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --steps {text!r}: expected a positive integer") from None
    if not value.is_integer() or value <= 0:
        raise argparse.ArgumentTypeError(f"invalid --steps {text!r}: expected a positive integer")
    return int(value)


def _out_dir(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("invalid --out-dir '': give a directory for the run (it is created)")
    return Path(text)


def _check_out_dir(path: Path) -> None:
    """The run directory must be a directory we can create or write, found out before any training starts."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out-dir {path} exists and is not a directory")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"--out-dir {path}: {existing} is a regular file, so no directory can be made under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out-dir {path}: {existing} is not writable by this user")


def _add_train_args(p: argparse.ArgumentParser) -> None:
    original = p.add_argument_group("original MARIE flags")
    original.add_argument("--env", required=True, help=f"environment family: {', '.join(ENV_FAMILIES)}")
    original.add_argument("--env_name", required=True, help="map / scenario, e.g. 3m, simple_spread_v2, HalfCheetah")
    original.add_argument("--agent_conf", default=None, help="MAMuJoCo partition, e.g. 2x3")
    original.add_argument("--n_workers", type=int, default=2, help="env copies collecting in parallel (default 2)")
    original.add_argument("--seed", type=int, default=1, help="run seed; RNGs use 23 + 100*seed (default 1)")
    original.add_argument("--steps", type=_budget, default=1_000_000, help="env-step budget (default 1e6)")
    original.add_argument("--mode", default="disabled", help="wandb mode: disabled, offline, online")
    original.add_argument("--tokenizer", default=None, help="vq (default) or fsq")
    original.add_argument("--decay", type=float, default=None, help="VQ codebook EMA decay (default 0.8)")
    original.add_argument("--temperature", type=float, default=None, help="data-collection softmax temperature")
    original.add_argument("--sample_temp", type=float, default=None, help="balanced-sampling temperature (inf)")
    original.add_argument("--ce_for_av", action="store_true", help="avail-action head as 2-class CE")
    original.add_argument("--ce_for_r", action="store_true", help="HL-Gauss reward head on symlog targets")
    original.add_argument("--average_r", action="store_true", help="average imagined rewards over agents")
    original.add_argument("--ce_for_end", action="store_true", help="accepted and ignored, as in the original")
    ours = p.add_argument_group("suite flags")
    ours.add_argument("--algo", default="marie", help="algorithm: marie (default), mappo, or a registered baseline")
    ours.add_argument("--out-dir", required=True, type=_out_dir,
                      help="run directory (resumed if it holds a checkpoint)")  # fmt: skip
    ours.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ours.add_argument("--eval-mode", default="paper", help="paper (10 sampled eps / 500 steps) or standard (32 greedy)")
    ours.add_argument("--preset", default="paper", help="paper (default), quick (CPU suite) or smoke (tests)")
    ours.add_argument("--config", type=Path, default=None, help="YAML file of config overrides (nested keys)")
    ours.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                      help="dotted config override, repeatable, e.g. --set marie.world_model.num_layers=4")  # fmt: skip
    ours.add_argument("--threads", type=int, default=None, help="torch/XLA CPU threads for this run")
    ours.add_argument("--progress", default="auto", help="auto (live line on a TTY) or none")


def _original_flags(args: argparse.Namespace) -> dict[str, object]:
    flags: dict[str, object] = {
        "env.agent_conf": args.agent_conf,
        "env.n_workers": args.n_workers,
        "env.seed": args.seed,
        "run.steps": args.steps,
        "run.wandb_mode": args.mode,
        "run.algo": args.algo,
        "run.device": args.device,
        "run.progress": args.progress,
    }
    optional = {
        "marie.tokenizer.kind": args.tokenizer,
        "marie.tokenizer.decay": args.decay,
        "marie.temperature": args.temperature,
        "marie.sample_temp": args.sample_temp,
        "run.threads": args.threads,
    }
    flags.update({key: value for key, value in optional.items() if value is not None})
    for flag, key in (("ce_for_av", "marie.world_model.ce_for_av"), ("ce_for_r", "marie.world_model.ce_for_r"),
                      ("average_r", "marie.average_r")):  # fmt: skip
        if getattr(args, flag):
            flags[key] = True
    return flags


def _load_config_file(path: Path | None) -> dict:
    if path is None:
        return {}
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"--config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: expected a mapping of config sections at the top level")
    return data


def cmd_train(args: argparse.Namespace) -> int:
    if args.env not in ENV_FAMILIES:
        raise UsageError(f"unknown --env {args.env!r}; valid choices: {', '.join(ENV_FAMILIES)}")
    if args.ce_for_end:
        print("note: --ce_for_end is accepted and ignored, as in the original MARIE code", file=sys.stderr)
    _check_out_dir(args.out_dir)
    validate_env(args.env, args.env_name, args.agent_conf, quiet=True)  # fails before torch loads; make_env notes
    if args.threads is not None and args.threads < 0:
        raise UsageError(f"invalid --threads {args.threads}: must be >= 1 (or 0 for torch's default)")
    limit_threads(args.threads)
    from marie.config import build_config  # torch-free: a bad key fails fast

    cfg = build_config(
        args.env,
        args.env_name,
        preset=args.preset,
        eval_mode=args.eval_mode,
        config_file=_load_config_file(args.config),
        flags=_original_flags(args),
        overrides=args.overrides,
    )
    validate_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, quiet=True)  # again: --set env.* may change them
    copies = {"--n_workers": cfg.env.n_workers, "eval.num_envs": cfg.eval.num_envs}
    check_env_copies(cfg.env.env, cfg.env.env_name, copies)  # before memory grows without bound
    set_torch_threads(cfg.run.threads)
    keep_freed_heap(cfg.run.heap_keep_mb)
    from marie.training.loop import train

    return train(cfg, args.out_dir, sys.argv[1:])


def cmd_envs(args: argparse.Namespace) -> int:
    for family in ENV_FAMILIES if args.env is None else (args.env,):
        if family not in ENV_FAMILIES:
            raise UsageError(f"unknown env {family!r}; valid choices: {', '.join(ENV_FAMILIES)}")
        print(f"{family}: {' '.join(list_scenarios(family))}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    return bench.run_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="marie", description="MARIE reproduction suite")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    train = sub.add_parser("train", help="train one run into a run directory (resumes; no-op when complete)")
    _add_train_args(train)
    train.set_defaults(func=cmd_train)
    envs = sub.add_parser("envs", help="list the scenarios of each environment family")
    envs.add_argument("env", nargs="?", default=None)
    envs.set_defaults(func=cmd_envs)
    bench_parser = sub.add_parser("bench", help="measure speed and memory per training phase (MARIE, MAMBA)")
    bench.add_bench_args(bench_parser)
    bench_parser.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except (Exception, KeyboardInterrupt) as exc:
        status = exit_status(exc)
        if status is None:  # a bug, not a user error: the full traceback
            raise
        code, message = status
        print(f"marie: {'' if code in (INTERRUPTED_EXIT, TERMINATED_EXIT) else 'error: '}{message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
