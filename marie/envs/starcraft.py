"""SMAC on StarCraft II (oxwhirl ``smac``), one copy per object; only runs where SC2 is installed (containers/smac).

As the original (spec §8.1): ``StarCraft2Env(map_name, continuing_episode=True, difficulty="7", seed=...)``,
SMAC's ``get_obs()`` (dead agents get zeros from SMAC), ``get_state()`` and ``get_avail_actions()`` (a dead
agent has only no-op); the team reward (SMAC's default scaling) is copied to every agent.

Differences from the original, all about bookkeeping:
- ``agent_done`` is per agent from SMAC's ``death_tracker_ally`` (all True at the end; the original copied the
  episode's done to every agent);
- ``info["episode_limit"]`` -> ``truncated`` (the original learned time-outs as terminations);
- ``won`` = ``info["battle_won"]`` at the end;
- an SC2 failure (an exception from ``reset``/``step``) restarts the game, discards the running episode (its row
  goes inactive with no end reported, ``discarded[0]`` is set, ``discarded_episodes`` counts) and is logged to
  stderr. Invalid actions are rejected with ``ValueError`` before SC2 sees them, so they never look like crashes.

Seeding: SC2's random stream is seeded once, when the game launches; SMAC has no per-episode seed. The first
``reset`` launches SC2 with its seed; later resets continue that stream, so a run replays only when its
sequence of episodes is the same.

Tests drive this adapter with a fake SMAC (``env_factory=``), so they need no StarCraft II.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

import numpy as np

from marie.envs.base import EnvSpec, EnvUnavailableError
from marie.envs.procvec import CopyStep, EpisodeDiscarded, SingleCopyEnv

MAX_RESET_TRIES = 3
INSTALL_HINT = (
    "run inside the smac container (containers/smac), or install oxwhirl SMAC "
    "(pip install git+https://github.com/oxwhirl/smac.git) and StarCraft II 4.10 with SMAC_Maps, with SC2PATH set"
)


def sc2_path() -> Path:
    return Path(os.environ.get("SC2PATH", "~/StarCraftII")).expanduser()


def real_smac_factory() -> Callable[..., object]:
    """oxwhirl SMAC's ``StarCraft2Env``; EnvUnavailableError when SMAC or the SC2 binary is missing."""
    try:
        from smac.env import StarCraft2Env
    except ImportError:
        raise EnvUnavailableError(f"StarCraft II / SMAC is not installed here: {INSTALL_HINT}") from None
    if not (sc2_path() / "Versions").is_dir():
        raise EnvUnavailableError(f"StarCraft II not found at SC2PATH={sc2_path()}: {INSTALL_HINT}")
    return StarCraft2Env


class StarCraftEnv(SingleCopyEnv):
    """One SMAC map as a single-copy ``VecEnv``. ``env_factory(map_name=, continuing_episode=, difficulty=,
    seed=)`` builds the SMAC env (default: oxwhirl's ``StarCraft2Env``)."""

    def __init__(
        self,
        map_name: str,
        continuing_episode: bool = True,
        difficulty: str = "7",
        env_factory: Callable[..., object] | None = None,
    ) -> None:
        super().__init__()
        self._factory = env_factory or real_smac_factory()
        self._map_name = map_name
        self._env_kwargs = dict(map_name=map_name, continuing_episode=continuing_episode, difficulty=difficulty)
        self._launch_seed: int | None = None
        self._sc2 = self._factory(**self._env_kwargs, seed=None)  # SMAC launches SC2 lazily: this only reads sizes
        info = self._sc2.get_env_info()
        self.spec = EnvSpec(
            env="starcraft",
            map_name=map_name,
            n_agents=int(info["n_agents"]),
            obs_dim=int(info["obs_shape"]),
            state_dim=int(info["state_shape"]),
            n_actions=int(info["n_actions"]),
            discrete=True,
            episode_limit=int(info["episode_limit"]),
            has_win=True,
            has_avail=True,
        )
        self._avail = np.ones((self.spec.n_agents, self.spec.n_actions), dtype=bool)

    # ------------------------------------------------------------------ SC2 lifecycle
    def _restart(self, why: BaseException) -> None:
        print(
            f"warning: StarCraft II failed on {self._map_name} ({type(why).__name__}: {why}); "
            "restarting it and discarding the running episode",
            file=sys.stderr,
        )
        try:
            self._sc2.close()
        except Exception:
            pass  # the process is already gone
        self._sc2 = self._factory(**self._env_kwargs, seed=self._launch_seed)

    def _observe(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        obs = np.asarray(self._sc2.get_obs(), dtype=np.float32).reshape(self.spec.n_agents, self.spec.obs_dim)
        state = np.asarray(self._sc2.get_state(), dtype=np.float32).reshape(self.spec.state_dim)
        self._avail = np.asarray(self._sc2.get_avail_actions(), dtype=bool).reshape(
            self.spec.n_agents, self.spec.n_actions
        )
        return obs, state, self._avail

    def _reset(self, seed: int):
        if self._launch_seed is None:  # first episode: launch SC2 with this seed
            self._launch_seed = seed
            self._sc2.close()
            self._sc2 = self._factory(**self._env_kwargs, seed=seed)
        for attempt in range(MAX_RESET_TRIES):
            try:
                self._sc2.reset()
                return self._observe()
            except Exception as exc:
                if attempt == MAX_RESET_TRIES - 1:
                    raise
                self._restart(exc)
        raise AssertionError("unreachable")

    def _step(self, action: np.ndarray) -> CopyStep:
        action = np.asarray(action).astype(np.int64).reshape(self.spec.n_agents)
        bad = [i for i, a in enumerate(action) if not (0 <= a < self.spec.n_actions and self._avail[i, a])]
        if bad:
            i = bad[0]
            raise ValueError(f"agent {i} cannot take action {action[i]}: available {np.flatnonzero(self._avail[i])}")
        try:
            reward, over, info = self._sc2.step([int(a) for a in action])
            obs, state, avail = self._observe()
        except Exception as exc:
            self._restart(exc)
            raise EpisodeDiscarded(str(exc)) from exc
        truncated = bool(over and info.get("episode_limit", False))
        dead = getattr(self._sc2, "death_tracker_ally", None)
        agent_done = np.asarray(dead, dtype=bool) if dead is not None else np.zeros(self.spec.n_agents, dtype=bool)
        return CopyStep(
            obs=obs,
            state=state,
            avail=avail,
            reward=np.full(self.spec.n_agents, float(reward), dtype=np.float32),
            agent_done=agent_done,
            terminated=bool(over) and not truncated,
            truncated=truncated,
            won=float(bool(info.get("battle_won", False))),
        )

    def versions(self) -> dict[str, str]:
        out = {"sc2_path": str(sc2_path())}
        versions_dir = sc2_path() / "Versions"
        builds = sorted(p.name for p in versions_dir.glob("Base*")) if versions_dir.is_dir() else []
        out["sc2_build"] = ",".join(builds) or "not found"
        try:
            out["smac"] = version("smac")
        except PackageNotFoundError:
            out["smac"] = "not installed"
        factory = self._factory
        out["smac_env"] = (
            f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', type(factory).__name__)}"
        )
        return out

    def close(self) -> None:
        try:
            self._sc2.close()
        except Exception:
            pass
