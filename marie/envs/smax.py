"""SMAX (JaxMARL 0.2.0's SMAC re-implementation in JAX): ``num_envs`` copies vmapped and jitted on the CPU.

SMAX is a stand-in for SMAC: unit stats and terrain differ from StarCraft II; its numbers are never SMAC's.

Setup as in the original (spec §8.2): ``HeuristicEnemySMAX`` (heuristic enemy, ``attack_mode="closest"``,
enemies shoot), ``use_self_play_reward=False, walls_cause_death=True, see_enemy_actions=False,
action_type="discrete", observation_type="unit_list"``; ``episode_limit`` defaults to SMAX's ``max_steps`` = 100.

Maps: JaxMARL's built-in ones plus SMAC maps whose units SMAX has, built from SMAC's unit lists (2m_vs_1z,
3s_vs_3z, 3s_vs_4z). ``corridor_noterrain`` has SMAC corridor's units (6 zealots vs 24 zerglings) on SMAX's open
map: the corridor terrain, the point of that map, does not exist here. Maps needing other units are refused by
``marie.contract.validate_env``.

Per step (one jitted, vmapped call, then one host transfer of one packed buffer):
- ``env.step_env`` (no auto-reset), so the final observation is the real one; each copy has its own key chain
  ``PRNGKey(seed)`` -> split per reset/step, so the same seeds give identical trajectories.
- ``reward``: the team reward per agent as JaxMARL returns it (enemy health removed / n_enemies, +1 on a win).
- ``agent_done``: the agent is dead (SMAX per-agent dones); all True at the episode end.
- ``won`` at the end: all enemies dead and at least one ally alive, read from the env state's ``unit_alive``
  (the same condition JaxMARL uses for its +1 win bonus).
- ``truncated``: the episode reached ``episode_limit`` steps with both teams still alive; every other end is
  ``terminated`` (a side wiped out at the last step counts as a decision). We apply the limit ourselves:
  JaxMARL's ``max_steps`` would end one step late (it compares the step count before incrementing it); the
  original wrapper ended at ``cur_step >= max_steps``, and so do we.
- ``avail``: ``get_avail_actions`` (stop is always available, also for the dead); ``state``: ``world_state``.
- Copies whose episode is over keep their last values and report ``active=False``.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import io
import os
import sys
import types
from typing import Sequence

# The original forced JAX to the CPU at import; we only pick the CPU when the user did not choose a platform.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

from marie.contract import SMAX_BUILTIN_MAPS, SMAX_CUSTOM_UNITS  # noqa: E402
from marie.envs import xla_cache  # noqa: E402
from marie.envs.base import EnvSpec, EnvUnavailableError, Reset, Step  # noqa: E402


@contextlib.contextmanager
def _quiet_jaxmarl_import():
    """jaxmarl 0.2.0 prints to stdout on import and resets sys.stdout/sys.stderr to the process's originals
    (which breaks any redirection, e.g. pytest's): silence fd 1 meanwhile and put the streams back after."""
    saved = sys.stdout, sys.stderr
    sys.stdout.flush()
    saved_fd, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.__stdout__.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        os.close(devnull)
        sys.stdout, sys.stderr = saved


def _import_smax_package() -> types.ModuleType:
    """``jaxmarl.environments.smax`` without running ``jaxmarl/__init__.py``, which imports every JaxMARL env
    (storm, coin game, jaxnav, ...: ~4 of the ~5 s the import takes, in every SMAX process of a suite). The two
    parent packages are empty stand-ins while the SMAX modules load; after, every ``jaxmarl`` module loaded here
    leaves ``sys.modules`` (this module keeps what it uses), so a later ``import jaxmarl`` is a complete import of
    its own. With jaxmarl already imported this is a plain import."""
    if "jaxmarl" in sys.modules:
        return importlib.import_module("jaxmarl.environments.smax")
    spec = importlib.util.find_spec("jaxmarl")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'jaxmarl'")
    root = list(spec.submodule_search_locations)
    stand_ins = {"jaxmarl": root, "jaxmarl.environments": [os.path.join(path, "environments") for path in root]}
    loaded_before = set(sys.modules)
    for name, path in stand_ins.items():
        package = types.ModuleType(name)
        package.__path__, package.__package__ = path, name
        sys.modules[name] = package
    try:
        return importlib.import_module("jaxmarl.environments.smax")
    finally:
        for name in set(sys.modules) - loaded_before:
            if name.split(".")[0] == "jaxmarl":
                del sys.modules[name]


try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402

    # Before JaxMARL's import, whose module-level array constants are compiled kernels too.
    xla_cache.enable(jax)  # compiled kernels on disk, shared by the processes of a suite (see xla_cache)
    with _quiet_jaxmarl_import():
        _smax = _import_smax_package()
    HeuristicEnemySMAX = _smax.HeuristicEnemySMAX
    Scenario, map_name_to_scenario = _smax.Scenario, _smax.map_name_to_scenario
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise EnvUnavailableError(
        f"SMAX needs JaxMARL, which is not importable here ({_exc}): pip install 'jaxmarl==0.2.0'"
    ) from None

MAX_STEPS = 100


def scenario_for(map_name: str) -> "Scenario":
    if map_name in SMAX_BUILTIN_MAPS:
        return map_name_to_scenario(map_name)
    allies, enemies = SMAX_CUSTOM_UNITS[map_name]
    unit_types = jnp.array(allies + enemies, dtype=jnp.uint8)
    return Scenario(unit_types, len(allies), len(enemies), False, False)


def make_smax(map_name: str, max_steps: int = MAX_STEPS):
    """The JaxMARL env exactly as the original built it (``max_steps`` aside)."""
    return HeuristicEnemySMAX(  # what jaxmarl.make("HeuristicEnemySMAX", ...) builds
        scenario=scenario_for(map_name),
        use_self_play_reward=False,
        walls_cause_death=True,
        see_enemy_actions=False,
        action_type="discrete",
        observation_type="unit_list",
        max_steps=max_steps,
    )


def seed_key(seed: int) -> np.ndarray:
    """``jax.random.PRNGKey(seed)`` for 0 <= seed < 2**32, extended to 64-bit seeds (JAX would truncate them)."""
    seed = int(seed) % 2**64
    return np.array([seed >> 32, seed & 0xFFFFFFFF], dtype=np.uint32)


# Step-result fields in the order they are packed into one float32 row per copy.
_BOOL_FIELDS = ("avail", "agent_done", "terminated", "truncated", "active")


class _Kernel:
    """One map's jitted, vmapped reset and step. Cached per map (``kernel_for``), so env objects of the same map
    share compilations (per batch size); the time limit is a runtime argument, not a compile-time constant."""

    def __init__(self, map_name: str) -> None:
        # JaxMARL's own limit is switched off; _step_one applies ours (see the module docstring).
        self.env = make_smax(map_name, max_steps=2**31 - 1)
        self.agents = list(self.env.agents)
        self.n_allies = self.env.num_allies
        n, d, s, a = self.n_allies, int(self.env.obs_size), int(self.env.state_size), int(self.env.num_ally_actions)
        self.sizes = {
            "obs": (n, d), "state": (s,), "avail": (n, a), "reward": (n,), "agent_done": (n,),
            "terminated": (), "truncated": (), "won": (), "active": (),
        }  # fmt: skip
        ends = np.cumsum([int(np.prod(shape)) for shape in self.sizes.values()])
        self.slices = {
            name: (int(end - np.prod(shape)), int(end), shape, name in _BOOL_FIELDS)
            for (name, shape), end in zip(self.sizes.items(), ends)
        }
        self.reset = jax.jit(jax.vmap(self._reset_one))
        # the carry (args 0-5) is replaced every step: donate its buffers instead of copying them
        self.step = jax.jit(
            jax.vmap(self._step_one, in_axes=(0, 0, 0, 0, 0, 0, 0, None)), donate_argnums=(0, 1, 2, 3, 4, 5)
        )

    def _observe(self, obs: dict, env_state) -> tuple:
        obs_arr = jnp.stack([obs[a] for a in self.agents]).astype(jnp.float32)
        avail = self.env.get_avail_actions(env_state)
        avail_arr = jnp.stack([avail[a] for a in self.agents]).astype(bool)
        return obs_arr, obs["world_state"].astype(jnp.float32), avail_arr

    def _reset_one(self, key):
        key, reset_key = jax.random.split(key)
        obs, env_state = self.env.reset(reset_key)
        # drop weak types so the step function sees the same input types as its own carry (one compile, not two)
        env_state = jax.tree.map(lambda x: x.astype(x.dtype), env_state)
        return (key, env_state, *self._observe(obs, env_state))

    def _step_one(self, key, env_state, active, last_obs, last_state, last_avail, action, limit):
        key, step_key = jax.random.split(key)
        actions = {a: action[i] for i, a in enumerate(self.agents)}
        obs, new_state, rewards, dones, _ = self.env.step_env(step_key, env_state, actions)
        obs_arr, state_arr, avail_arr = self._observe(obs, new_state)
        alive = new_state.state.unit_alive
        allies_alive = jnp.any(alive[: self.n_allies])
        enemies_alive = jnp.any(alive[self.n_allies :])
        over = dones["__all__"] | (new_state.state.step >= limit)
        truncated = over & allies_alive & enemies_alive
        won = (~enemies_alive & allies_alive).astype(jnp.float32)
        reward = jnp.stack([rewards[a] for a in self.agents]).astype(jnp.float32)
        agent_done = jnp.stack([dones[a] for a in self.agents]) | over

        def keep(new, old):  # an inactive copy stays exactly as it was
            return jnp.where(active, new, old)

        out = dict(
            obs=keep(obs_arr, last_obs),
            state=keep(state_arr, last_state),
            avail=keep(avail_arr, last_avail),
            reward=jnp.where(active, reward, 0.0),
            agent_done=keep(agent_done, jnp.ones_like(agent_done)),
            terminated=active & over & ~truncated,
            truncated=active & truncated,
            won=jnp.where(active & over, won, jnp.nan),
            active=active,
        )
        carry = (key, jax.tree.map(keep, new_state, env_state), active & ~over, out["obs"], out["state"], out["avail"])
        packed = jnp.concatenate([out[k].astype(jnp.float32).ravel() for k in self.sizes])
        return carry, packed

    def unpack(self, packed: np.ndarray) -> Step:
        """One host array (B, row) -> Step."""
        b, fields = packed.shape[0], {}
        for name, (start, stop, shape, is_bool) in self.slices.items():
            part = packed[:, start:stop].reshape((b, *shape))
            fields[name] = part > 0.5 if is_bool else part
        fields["score"] = np.zeros(b, dtype=np.float32)
        return Step(**fields)


@functools.lru_cache(maxsize=None)
def kernel_for(map_name: str) -> _Kernel:
    return _Kernel(map_name)


class SMAXVecEnv:
    """``num_envs`` copies of one SMAX map behind the ``VecEnv`` interface."""

    def __init__(self, map_name: str, num_envs: int = 1, episode_limit: int = MAX_STEPS) -> None:
        self.num_envs = num_envs
        self._kernel = kernel_for(map_name)
        env = self._kernel.env
        self.spec = EnvSpec(
            env="smax",
            map_name=map_name,
            n_agents=int(env.num_allies),
            obs_dim=int(env.obs_size),
            state_dim=int(env.state_size),
            n_actions=int(env.num_ally_actions),
            discrete=True,
            episode_limit=episode_limit,
            has_win=True,
            has_avail=True,
        )
        self._limit = jnp.int32(episode_limit)
        self._carry = None  # (keys, env states, active, last obs, last state, last avail) on the device

    def reset(self, seeds: Sequence[int]) -> Reset:
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for num_envs={self.num_envs}")
        keys = jnp.asarray(np.stack([seed_key(s) for s in seeds]))
        keys, env_states, obs, state, avail = self._kernel.reset(keys)
        self._carry = (keys, env_states, jnp.ones(self.num_envs, dtype=bool), obs, state, avail)
        obs, state, avail = jax.device_get((obs, state, avail))
        return Reset(obs=np.asarray(obs), state=np.asarray(state), avail=np.asarray(avail))

    def step(self, actions: np.ndarray) -> Step:
        if self._carry is None:
            raise RuntimeError("step() called before reset()")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs, self.spec.n_agents):
            raise ValueError(f"SMAX actions must have shape {(self.num_envs, self.spec.n_agents)}, got {actions.shape}")
        # int32 on the host: jnp.asarray(..., dtype=int32) of int64 actions dispatches a conversion op (~2x the time)
        self._carry, packed = self._kernel.step(*self._carry, jnp.asarray(actions.astype(np.int32)), self._limit)
        return self._kernel.unpack(np.asarray(packed))

    def versions(self) -> dict[str, str]:
        from importlib.metadata import version

        return {"jaxmarl": version("jaxmarl"), "jax": jax.__version__, "jax_backend": jax.default_backend()}

    def close(self) -> None:
        self._carry = None
