"""The generic training loop shared by every algorithm.

One iteration collects one episode per env copy (``--n_workers`` copies; with one copy this is the original's strict
alternation of collection and training), hands the episodes to the agent one by one (MARIE: the original's
``learner.step``), and evaluates after an episode whenever more than ``eval.interval`` env steps have passed since
the last evaluation (the original's trigger). Checkpoints are taken between iterations, so a resumed run replays
exactly what an uninterrupted run would have done.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from marie import registry
from marie.config import TrainConfig, dump_yaml, flatten
from marie.config.schema import GENERIC_SECTIONS
from marie.contract import EVAL_EPISODE_LENGTH, EVAL_RETURN, EVAL_SCORE, EVAL_WIN_RATE
from marie.data.episode import Episode, collect_episodes
from marie.envs import make_env
from marie.errors import TrainingDivergedError, UsageError
from marie.runtime import (
    EVAL_STREAM,
    TRAIN_STREAM,
    derive_seed,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
)
from marie.training import provenance
from marie.training.progress import Progress
from marie.training.run_dir import RunDirectory
from marie.training.sinks import MetricSinks


@dataclass
class Counters:
    env_steps: int = 0
    episodes: int = 0
    last_eval: int = 0
    evaluations: int = 0
    last_eval_step: int = -1  # env step of the latest evaluation actually run
    wall_s: float = 0.0


def evaluation_mode(cfg: TrainConfig, discrete: bool) -> str:
    """paper: sampled at T=1 for discrete actions, deterministic for continuous ones; standard: greedy."""
    if cfg.eval.mode == "paper" and discrete:
        return "sample"
    return "greedy"


def evaluate(env, agent, cfg: TrainConfig, eval_index: int) -> dict[str, float]:
    episodes: list[Episode] = []
    n_copies = env.num_envs
    batch = 0
    while len(episodes) < cfg.eval.episodes:
        base = batch * n_copies
        if cfg.eval.distinct_seeds:
            first = eval_index * 100_000 + base
            seeds = [derive_seed(cfg.random_seed, EVAL_STREAM, first + j) for j in range(n_copies)]
        else:  # the original: every eval worker used the run's seed
            seeds = [cfg.random_seed] * n_copies
        episodes += collect_episodes(env, agent, seeds, evaluation_mode(cfg, env.spec.discrete))
        batch += 1
    episodes = episodes[: cfg.eval.episodes]
    metrics = {
        EVAL_RETURN: float(np.mean([ep.team_return for ep in episodes])),
        EVAL_SCORE: float(np.mean([ep.score for ep in episodes])),
        EVAL_EPISODE_LENGTH: float(np.mean([len(ep) for ep in episodes])),
    }
    if env.spec.has_win:
        metrics = {EVAL_WIN_RATE: float(np.mean([ep.won for ep in episodes]))} | metrics
    return metrics


def _check_finite(metrics: dict[str, float], step: int) -> None:
    for key, value in metrics.items():
        if not math.isfinite(value):
            component, _, part = key.partition("/")
            raise TrainingDivergedError(
                f"non-finite {component} loss part {part!r} = {value} at env step {step}; "
                "stopping with the last good checkpoint kept"
            )


# Settings that may change between a run and its resumption without changing its results.
_RESUMABLE_CHANGES = {"run.threads", "run.progress", "run.checkpoint_interval_s"}


def _changed_keys(old: dict[str, Any], new: dict[str, Any], algo: str) -> list[str]:
    """Keys whose value differs, among those that can change the run: the generic sections and the run's own
    algorithm's section (another algorithm's section, e.g. one registered after the run started, cannot)."""
    relevant = {*GENERIC_SECTIONS, algo}
    old_flat, new_flat = flatten(old), flatten(new)
    keys = sorted(k for k in set(old_flat) | set(new_flat) if k.split(".", 1)[0] in relevant)
    return [k for k in keys if k not in _RESUMABLE_CHANGES and old_flat.get(k) != new_flat.get(k)]


def train(cfg: TrainConfig, out_dir: Path, argv: list[str]) -> int:
    """Run (or resume, or skip when complete) one training run into ``out_dir``. Returns an exit status."""
    run = RunDirectory(out_dir)
    resolved = dump_yaml(cfg)
    existing = run.existing_config()
    if existing is not None and (run.has_checkpoint() or run.is_complete()):
        changed = _changed_keys(yaml.safe_load(existing), yaml.safe_load(resolved), cfg.run.algo)  # both as on disk
        if changed:
            raise UsageError(
                f"{out_dir} holds a run with a different config ({', '.join(changed[:5])}); "
                "use another --out-dir or delete it"
            )
    if run.is_complete():
        print(f"{out_dir}: already complete, nothing to do", file=sys.stderr)
        return 0

    seed_everything(cfg.random_seed)
    device = resolve_device(cfg.run.device)
    env_kw = {} if cfg.env.episode_limit is None else {"episode_limit": cfg.env.episode_limit}
    env = make_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, cfg.env.n_workers, **env_kw)
    eval_copies = cfg.eval.num_envs or min(cfg.eval.episodes, 32)
    eval_env = make_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, eval_copies, quiet=True, **env_kw)
    spec = env.spec
    agent = registry.factory(cfg.run.algo)(spec, cfg, device)

    run.root.mkdir(parents=True, exist_ok=True)
    run.write_config(resolved)
    run.write_provenance(provenance.collect(env.versions(), argv, device) | {"preset": cfg.run.preset})
    keys = {"env": spec.env, "map": spec.map_name, "algo": cfg.run.algo, "seed": cfg.env.seed}
    metrics = run.metrics(keys)
    counters = Counters()
    if run.has_checkpoint():
        state = run.load_checkpoint()
        agent.load_state_dict(state["agent"])
        set_rng_state(state["rng"])
        counters = Counters(**state["counters"])
        metrics.truncate(state["metrics_bytes"])
    else:
        metrics.truncate(0)
        metrics = run.metrics(keys)  # rewrites the header

    sinks = MetricSinks(cfg, out_dir)
    label = f"[{cfg.run.algo} {spec.env}:{spec.map_name} seed {cfg.env.seed} preset {cfg.run.preset}]"
    progress = Progress(cfg.run.steps, label, cfg.run.progress)
    progress.resume_from(counters.env_steps)
    if counters.env_steps:
        progress.message(f"{label} resuming from env step {counters.env_steps}")

    def checkpoint() -> None:
        run.save_checkpoint(
            {"agent": agent.state_dict(), "rng": rng_state(), "counters": vars(counters).copy(),
             "metrics_bytes": metrics.size()}
        )  # fmt: skip

    def run_evaluation() -> None:
        result = evaluate(eval_env, agent, cfg, counters.evaluations)
        counters.evaluations += 1
        counters.last_eval_step = counters.env_steps
        metrics.write(counters.env_steps, result, n_episodes=cfg.eval.episodes, eval_mode=cfg.eval.mode)
        sinks.log(counters.env_steps, result)
        progress.evaluation(counters.env_steps, result)

    started = time.monotonic()
    wall_at_start = counters.wall_s
    last_checkpoint = time.monotonic()
    iter_steps_start, iter_time_start = counters.env_steps, time.monotonic()
    try:
        while counters.env_steps < cfg.run.steps and counters.episodes < cfg.run.max_episodes:
            seeds = [derive_seed(cfg.random_seed, TRAIN_STREAM, counters.episodes + i) for i in range(env.num_envs)]
            for episode in collect_episodes(env, agent, seeds, "collect"):
                counters.env_steps += len(episode)
                counters.episodes += 1
                learned = agent.observe(episode)
                _check_finite(learned, counters.env_steps)
                row = {"train/return": episode.team_return, "train/episode_length": float(len(episode))}
                if spec.has_win:
                    row["train/win"] = episode.won
                metrics.write(counters.env_steps, row | learned)
                sinks.log(counters.env_steps, row | learned)
                if counters.env_steps - counters.last_eval > cfg.eval.interval:
                    counters.last_eval = (counters.env_steps // cfg.eval.interval) * cfg.eval.interval
                    rate = (counters.env_steps - iter_steps_start) / max(time.monotonic() - iter_time_start, 1e-9)
                    metrics.write(counters.env_steps, {"train/steps_per_s": rate})
                    iter_steps_start, iter_time_start = counters.env_steps, time.monotonic()
                    run_evaluation()
                progress.update(counters.env_steps)
            counters.wall_s = wall_at_start + time.monotonic() - started
            if time.monotonic() - last_checkpoint >= cfg.run.checkpoint_interval_s:
                checkpoint()
                last_checkpoint = time.monotonic()
        if counters.last_eval_step < min(cfg.run.steps, counters.env_steps):
            # One evaluation at the end of the budget so every run has a final point (the original stops without).
            run_evaluation()
        counters.wall_s = wall_at_start + time.monotonic() - started
        checkpoint()
        run.mark_complete({"env_steps": counters.env_steps, "episodes": counters.episodes, "wall_s": counters.wall_s})
    finally:
        progress.close()
        sinks.close()
        env.close()
        eval_env.close()
    progress.message(f"{label} done: {counters.env_steps} env steps in {counters.wall_s:.0f} s -> {out_dir}")
    return 0
