"""Environment speed benchmark with random valid actions.

    python -m marie.envs.speed --env smax --env_name 3m --num_envs 8 --steps 5000

Counts env steps (one step of one env copy = 1; inactive copies are not counted) and prints steps/s, excluding
construction and the first reset+step (JIT compilation for SMAX). Episodes restart in all copies as soon as
every copy has finished, as the training collector does.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from marie.envs import make_env
from marie.envs.base import EnvSpec, EnvUnavailableError
from marie.errors import UsageError


def random_actions(spec: EnvSpec, avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform over available actions (discrete) or uniform in the action box (continuous)."""
    if spec.discrete:
        scores = rng.random(avail.shape) * avail  # an unavailable action scores 0, so argmax picks an available one
        return scores.argmax(-1).astype(np.int64)
    return rng.uniform(spec.action_low, spec.action_high, size=avail.shape).astype(np.float32)


def measure(env, steps: int, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    episode = 0

    def new_episodes():
        nonlocal episode
        seeds = [seed * 1_000_003 + episode * env.num_envs + i for i in range(env.num_envs)]
        episode += 1
        return env.reset(seeds)

    out = new_episodes()
    out = env.step(random_actions(env.spec, out.avail, rng))  # warm-up (compiles SMAX)
    counted, episodes = 0, 0
    start = time.perf_counter()
    while counted < steps:
        if not out.active.any():
            out = new_episodes()
        out = env.step(random_actions(env.spec, out.avail, rng))
        counted += int(out.active.sum())
        episodes += int((out.terminated | out.truncated).sum())
    wall = time.perf_counter() - start
    return {"steps": counted, "wall_s": wall, "steps_per_s": counted / wall, "episodes": episodes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True)
    parser.add_argument("--env_name", required=True)
    parser.add_argument("--agent_conf", default=None)
    parser.add_argument("--num_envs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--vectorize", default="auto", choices=("auto", "process", "serial"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        env = make_env(args.env, args.env_name, args.agent_conf, num_envs=args.num_envs, vectorize=args.vectorize)
    except (UsageError, EnvUnavailableError) as exc:
        parser.exit(2, f"error: {exc}\n")
    try:
        result = measure(env, args.steps, args.seed)
    finally:
        env.close()
    vec = {"SMAXVecEnv": "jax.vmap", "SerialVecEnv": "serial", "ProcVecEnv": "processes"}.get(
        type(env).__name__, "in-process"
    )
    print(
        f"{args.env} {env.spec.map_name} num_envs={args.num_envs} ({vec}): {result['steps_per_s']:,.0f} env steps/s "
        f"({result['steps']} steps, {result['episodes']} episodes ended, {result['wall_s']:.1f} s)"
    )


if __name__ == "__main__":
    main()
