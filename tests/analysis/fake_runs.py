"""Write synthetic run directories that follow docs/architecture.md, for tests of collect and the analysis."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLUMNS = "env,map,algo,seed,step,metric,value,n_episodes,eval_mode"
WIN_RATE_ENVS = {"smax", "starcraft"}


def eval_values(env: str, algo: str, seed: int, steps: np.ndarray, budget: int) -> np.ndarray:
    """A learning curve that rises with steps; MARIE learns faster than others; small seed-dependent noise."""
    rng = np.random.default_rng(seed * 7919 + len(algo))
    level = 0.9 if algo == "marie" else 0.5
    progress = steps / budget
    values = level * (1 - np.exp(-3 * progress)) + rng.normal(0, 0.03, size=len(steps))
    if env in WIN_RATE_ENVS:
        return np.clip(values, 0, 1)
    return -60 + 50 * values


def write_run(
    run_dir: Path,
    env: str,
    map_name: str,
    algo: str,
    seed: int,
    budget: int,
    *,
    interval: int | None = None,
    eval_mode: str = "paper",
    completed: bool = True,
    extra_rows: list[str] = (),
) -> Path:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    interval = interval or max(1, budget // 10)
    # evaluations land a little after each interval, as they do when episodes end between eval points
    steps = np.array([0, *range(interval, budget + 1, interval)]) + np.array([0] + [seed % 3] * (budget // interval))
    metric = "eval/win_rate" if env in WIN_RATE_ENVS else "eval/return"
    values = eval_values(env, algo, seed, steps, budget)
    lines = [COLUMNS]
    for step, value in zip(steps, values):
        lines.append(f"{env},{map_name},{algo},{seed},{step},{metric},{value:.6f},10,{eval_mode}")
        if metric != "eval/return":
            lines.append(f"{env},{map_name},{algo},{seed},{step},eval/return,{value * 20:.6f},10,{eval_mode}")
        lines.append(f"{env},{map_name},{algo},{seed},{step},train/return,{value:.6f},,")
    lines.extend(extra_rows)
    (run_dir / "metrics.csv").write_text("\n".join(lines) + "\n")
    (run_dir / "config.resolved.yaml").write_text(f"eval:\n  mode: {eval_mode}\n  episodes: 10\n")
    (run_dir / "provenance.json").write_text(json.dumps({"git_sha": "abc1234", "git_dirty": False, "host": "test"}))
    if completed:
        marker = {"env_steps": int(steps[-1]), "wall_s": 1.0, "finished_at": "2025-01-01T00:00:00Z"}
        (run_dir / "COMPLETED").write_text(json.dumps(marker))
    return run_dir


def write_suite_runs(root: Path, suite, results: str = "results") -> list[Path]:
    """A finished run directory for every run of a Suite, at <root>/<run_dir>."""
    return [
        write_run(Path(root) / run.run_dir(results), run.env, run.map, run.algo, run.seed, run.steps)
        for run in suite.runs
    ]
