#!/opt/venv/bin/python
"""Self-test of a marie container image: `marie-selftest [--full]`.

Quick mode (Docker HEALTHCHECK): Python, torch variant, `import marie` and the image's simulators import.
Full mode (Apptainer %test, the end of every Docker build, or by hand): one short episode in each simulator
of the image, e.g. one episode of SMAC 3m against the built-in AI in the `smac` image.
The image family comes from MARIE_IMAGE_FAMILY, set in each image.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

FAMILIES = ("base", "cpu", "mujoco", "football", "smac")


def log(msg: str) -> None:
    print(f"marie-selftest: {msg}", flush=True)


def check_core() -> None:
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"marie-selftest: expected Python 3.11, found {sys.version.split()[0]}")
    import torch

    import marie  # noqa: F401  (the package must import without any simulator)

    variant = os.environ.get("MARIE_TORCH_VARIANT", "")
    has_cuda = torch.version.cuda is not None
    if variant and has_cuda != (variant == "cuda"):
        raise SystemExit(f"marie-selftest: image says torch variant {variant!r}, torch has CUDA={torch.version.cuda}")
    log(f"python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}), marie imports")


def smax_episode() -> None:
    import jax
    import jaxmarl
    from jaxmarl.environments.smax import map_name_to_scenario

    env = jaxmarl.make("HeuristicEnemySMAX", scenario=map_name_to_scenario("3m"))
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key)
    step = jax.jit(env.step)
    for t in range(1, 1000):
        key, act_key, step_key = jax.random.split(key, 3)
        avail = env.get_avail_actions(state)
        keys = jax.random.split(act_key, len(env.agents))
        actions = {a: jax.random.choice(k, avail[a].shape[0], p=avail[a] / avail[a].sum()) for a, k in zip(env.agents, keys)}
        _, state, _, dones, _ = step(step_key, state, actions)
        if bool(dones["__all__"]):
            log(f"SMAX 3m: one episode, {t} steps")
            return
    raise SystemExit("marie-selftest: SMAX 3m episode did not end within 1000 steps")


def mpe_episode() -> None:
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(max_cycles=25)
    env.reset(seed=0)
    steps = 0
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
        steps += 1
    env.close()
    log(f"MPE simple_spread_v3: one episode, {steps} steps")


def mamujoco_steps(n: int = 100) -> None:
    from gymnasium_robotics import mamujoco_v1

    env = mamujoco_v1.parallel_env("HalfCheetah", "2x3", agent_obsk=1)
    env.reset(seed=0)
    for _ in range(n):
        env.step({a: env.action_space(a).sample() for a in env.agents})
    env.close()
    log(f"MAMuJoCo HalfCheetah 2x3: {n} steps")


def football_episode() -> None:
    import gfootball.env as football_env
    import numpy as np

    env = football_env.create_environment(
        env_name="academy_3_vs_1_with_keeper",
        representation="simple115v2",
        number_of_left_players_agent_controls=3,
        render=False,
    )
    env.reset()
    rng = np.random.default_rng(0)
    done, steps = False, 0
    while not done:
        _, _, done, _ = env.step(rng.integers(0, env.action_space.nvec[0], size=3).tolist())
        steps += 1
    env.close()
    log(f"GRF academy_3_vs_1_with_keeper: one episode, {steps} steps")


def check_sc2_files() -> None:
    sc2path = Path(os.environ.get("SC2PATH", ""))
    build = os.environ.get("SC2_BUILD", "")
    binary = sc2path / "Versions" / f"Base{build}" / "SC2_x64"
    if not binary.is_file():
        raise SystemExit(f"marie-selftest: StarCraft II binary {binary} missing (SC2PATH={sc2path}, SC2_BUILD={build})")
    if not (sc2path / "Maps" / "SMAC_Maps" / "3m.SC2Map").is_file():
        raise SystemExit(f"marie-selftest: SMAC map 3m.SC2Map missing under {sc2path}/Maps/SMAC_Maps")
    log(f"StarCraft II {os.environ.get('SC2_VERSION', '?')} (Base{build}) and SMAC maps present in {sc2path}")


def smac_episode() -> None:
    import numpy as np
    from smac.env import StarCraft2Env

    env = StarCraft2Env(map_name="3m", seed=0)
    rng = np.random.default_rng(0)
    env.reset()
    done, steps, info = False, 0, {}
    while not done:
        actions = [rng.choice(np.nonzero(env.get_avail_agent_actions(i))[0]) for i in range(env.n_agents)]
        _, done, info = env.step(actions)
        steps += 1
    env.close()
    log(f"SMAC 3m on StarCraft II: one episode, {steps} steps, battle_won={info.get('battle_won')}")


def imports(*modules: str) -> Callable[[], None]:
    def check() -> None:
        import importlib

        for name in modules:
            importlib.import_module(name)
        log("imports: " + ", ".join(modules))

    return check


QUICK: dict[str, list[Callable[[], None]]] = {
    "base": [],
    "cpu": [imports("jaxmarl", "mpe2", "gymnasium_robotics", "mujoco")],
    "mujoco": [imports("gymnasium_robotics", "mujoco")],
    "football": [imports("gfootball.env", "gym")],
    "smac": [check_sc2_files, imports("pysc2.run_configs", "smac.env")],
}
FULL: dict[str, list[Callable[[], None]]] = {
    "base": [],
    "cpu": [smax_episode, mpe_episode, mamujoco_steps],
    "mujoco": [mamujoco_steps],
    "football": [football_episode],
    "smac": [smac_episode],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="marie-selftest", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run one short episode per simulator")
    parser.add_argument("--family", default=os.environ.get("MARIE_IMAGE_FAMILY", "base"), help="image family")
    args = parser.parse_args(argv)
    if args.family not in FAMILIES:
        parser.error(f"unknown image family {args.family!r}; valid: {', '.join(FAMILIES)}")
    start = time.perf_counter()
    check_core()
    for check in QUICK[args.family] + (FULL[args.family] if args.full else []):
        check()
    log(f"{args.family} image OK ({'full' if args.full else 'quick'}, {time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
