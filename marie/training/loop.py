"""The generic training loop shared by every algorithm.

One iteration collects one episode per env copy (``--n_workers`` copies; with one copy this is the original's strict
alternation of collection and training), hands the episodes to the agent one by one (MARIE: the original's
``learner.step``), and evaluates after an episode whenever more than ``eval.interval`` env steps have passed since
the last evaluation (the original's trigger). Checkpoints are taken between iterations, so a resumed run replays
exactly what an uninterrupted run would have done; SIGINT/SIGTERM stop at the next iteration boundary with a
checkpoint (``signals``), and a NaN/inf stops the run with exit 4 without replacing the last good checkpoint.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from marie import registry
from marie.config import TrainConfig, dump_yaml
from marie.contract import EVAL_EPISODE_LENGTH, EVAL_RETURN, EVAL_SCORE, EVAL_WIN_RATE, METRICS_FILE
from marie.data.episode import Episode, collect_episodes
from marie.envs import make_env
from marie.errors import RunDirectoryError, RunStopped, TrainingDivergedError
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
from marie.training.checkpoint_codec import non_finite
from marie.training.progress import Progress
from marie.training.resume import resume_point
from marie.training.run_dir import RunDirectory
from marie.training.signals import StopRequests
from marie.training.sinks import MetricSinks, require_sinks


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


def _check_finite(metrics: dict[str, float]) -> None:
    for key, value in metrics.items():
        if not math.isfinite(value):
            raise TrainingDivergedError(f"non-finite {key} = {value}")


def train(cfg: TrainConfig, out_dir: Path, argv: list[str]) -> int:
    """Run (or resume, or skip when complete) one training run into ``out_dir``. Returns an exit status."""
    require_sinks(cfg)  # before anything is written
    run = RunDirectory(out_dir)
    resolved = dump_yaml(cfg)
    with run.lock():
        start = resume_point(run, resolved, cfg.run.algo)
        if start.complete:
            print(f"{out_dir}: already complete, nothing to do", file=sys.stderr)
            return 0
        return _train(cfg, run, resolved, start.state, argv)


def _restore(agent, state: dict[str, Any], run: RunDirectory, algo: str) -> Counters:
    try:
        agent.load_state_dict(state["agent"])
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise RunDirectoryError(
            f"{run.checkpoint_path} does not fit this {algo} agent ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:120]}); delete it to restart the run"
        ) from None
    set_rng_state(state["rng"])
    return Counters(**state["counters"])


def _train(cfg: TrainConfig, run: RunDirectory, resolved: str, state: dict[str, Any] | None, argv: list[str]) -> int:
    out_dir = run.root
    seed_everything(cfg.random_seed)
    device = resolve_device(cfg.run.device)
    env_kw = cfg.env.adapter_kwargs()
    env = make_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, cfg.env.n_workers, **env_kw)
    eval_copies = cfg.eval.num_envs or min(cfg.eval.episodes, 32)
    eval_env = make_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, eval_copies, quiet=True, **env_kw)
    spec = env.spec
    agent = registry.factory(cfg.run.algo)(spec, cfg, device)
    counters = Counters() if state is None else _restore(agent, state, run, cfg.run.algo)

    run.write_config(resolved)
    machine = provenance.collect(env.versions(), argv, device) | {"preset": cfg.run.preset}
    if state is not None:
        machine, note = provenance.with_earlier_cpus(run.read_provenance(), machine)
        if note:
            print(note, file=sys.stderr, flush=True)
    run.write_provenance(machine)
    keys = {"env": spec.env, "map": spec.map_name, "algo": cfg.run.algo, "seed": cfg.env.seed}
    if state is None:
        (out_dir / METRICS_FILE).unlink(missing_ok=True)  # a fresh file with its header
    metrics = run.metrics(keys)
    if state is not None:
        metrics.truncate(state["metrics_bytes"])

    sinks = MetricSinks(cfg, out_dir, resume_step=counters.env_steps)
    label = f"[{cfg.run.algo} {spec.env}:{spec.map_name} seed {cfg.env.seed} preset {cfg.run.preset}]"
    progress = Progress(cfg.run.steps, label, cfg.run.progress)
    progress.resume_from(counters.env_steps)
    if counters.env_steps:  # said even with --progress none: a log must show where a rerun started
        print(f"{label} resuming from env step {counters.env_steps}", file=sys.stderr, flush=True)
    saved = {"step": counters.env_steps, "time": time.monotonic()}

    def checkpoint() -> None:
        agent_state = agent.state_dict()
        bad = non_finite(agent_state)
        if bad is not None:  # never replace the last good checkpoint with a diverged state
            raise TrainingDivergedError(f"non-finite values in {bad}")
        run.save_checkpoint(
            {"agent": agent_state, "rng": rng_state(), "counters": vars(counters).copy(),
             "metrics_bytes": metrics.size(), "config": resolved}
        )  # fmt: skip
        saved.update(step=counters.env_steps, time=time.monotonic())

    def checkpoint_due() -> bool:
        every = cfg.run.checkpoint_every_steps
        if every and counters.env_steps - saved["step"] >= every:
            return True
        return time.monotonic() - saved["time"] >= cfg.run.checkpoint_interval_s

    def run_evaluation() -> None:
        result = evaluate(eval_env, agent, cfg, counters.evaluations)
        counters.evaluations += 1
        counters.last_eval_step = counters.env_steps
        metrics.write(counters.env_steps, result, n_episodes=cfg.eval.episodes, eval_mode=cfg.eval.mode)
        sinks.log(counters.env_steps, result)
        progress.evaluation(counters.env_steps, result)

    started = time.monotonic()
    wall_at_start = counters.wall_s
    iter_steps_start, iter_time_start = counters.env_steps, time.monotonic()
    try:
        with StopRequests() as stop:
            while counters.env_steps < cfg.run.steps and counters.episodes < cfg.run.max_episodes:
                seeds = [derive_seed(cfg.random_seed, TRAIN_STREAM, counters.episodes + i) for i in range(env.num_envs)]
                for episode in collect_episodes(env, agent, seeds, "collect"):
                    counters.env_steps += len(episode)
                    counters.episodes += 1
                    learned = agent.observe(episode)
                    _check_finite(learned)
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
                if stop.requested:  # between iterations, where a checkpoint replays exactly
                    checkpoint()
                    raise RunStopped(f"{stop.requested}: stopped with a checkpoint at env step {counters.env_steps}; "
                                     "rerun the same command to resume", stop.exit_code)  # fmt: skip
                if checkpoint_due():
                    checkpoint()
            if counters.last_eval_step < min(cfg.run.steps, counters.env_steps):
                # One evaluation at the end of the budget so every run has a final point (the original stops without).
                run_evaluation()
            counters.wall_s = wall_at_start + time.monotonic() - started
            checkpoint()
            run.mark_complete({"env_steps": counters.env_steps, "episodes": counters.episodes,
                               "wall_s": counters.wall_s})  # fmt: skip
    except TrainingDivergedError as exc:
        raise TrainingDivergedError(
            f"{exc} at env step {counters.env_steps}; stopped, keeping the last good checkpoint (env step "
            f"{saved['step']}) in {run.checkpoint_path}: check the config (learning rates, coefficients)"
        ) from None
    finally:
        progress.close()
        sinks.close()
        env.close()
        eval_env.close()
    progress.message(f"{label} done: {counters.env_steps} env steps in {counters.wall_s:.0f} s -> {out_dir}")
    return 0
