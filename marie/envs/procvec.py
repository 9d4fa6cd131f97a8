"""Vectorising CPU simulators that run one copy per Python object.

``SingleCopyEnv`` turns a one-episode-at-a-time simulator (MPE, MAMuJoCo, SMAC, GRF) into a ``VecEnv`` with
``num_envs == 1``: it keeps the "no auto-reset, inactive after the end" bookkeeping, so an adapter only
implements ``_reset(seed)`` and ``_step(action)`` for one copy. ``SerialVecEnv`` steps several such copies in
turn in this process; ``ProcVecEnv`` spreads them over worker processes (spawn context, one pipe per worker,
at most one worker per CPU core by default) that step in parallel. Copy ``i`` only ever sees ``seeds[i]`` and
its own actions, so both give exactly what ``num_envs`` separate single-copy envs would.
"""

from __future__ import annotations

import abc
import dataclasses
import multiprocessing as mp
import os
import signal
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from marie.envs.base import EnvSpec, Reset, Step, VecEnv


@dataclass
class CopyStep:
    """One copy's transition (no env axis): what ``SingleCopyEnv._step`` returns."""

    obs: np.ndarray  # (N,d)
    state: np.ndarray  # (S,)
    avail: np.ndarray  # (N,A) bool
    reward: np.ndarray  # (N,)
    agent_done: np.ndarray  # (N,) bool
    terminated: bool
    truncated: bool
    won: float = float("nan")  # only meaningful when the episode is over
    score: float = 0.0


class EpisodeDiscarded(Exception):
    """Raised by ``_step`` when the simulator failed mid-episode and the episode cannot be used."""


class SingleCopyEnv(abc.ABC):
    """Base for one-copy adapters: a ``VecEnv`` with ``num_envs == 1`` and arrays of leading size 1.

    After the episode ends (or is discarded) ``step`` returns the last obs/state/avail with ``active=False``,
    zero reward, all agents done, ``terminated = truncated = False`` (the end was reported once) and ``won``
    NaN. ``discarded[0]`` is True when the current episode was thrown away (``EpisodeDiscarded``): its row goes
    inactive without ever reporting an end, and the collector must drop the episode.
    """

    spec: EnvSpec
    num_envs = 1

    def __init__(self) -> None:
        self._active = False
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.discarded = np.zeros(1, dtype=bool)
        self.discarded_episodes = 0

    @abc.abstractmethod
    def _reset(self, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start an episode seeded with ``seed``; return obs (N,d), state (S,), avail (N,A)."""

    @abc.abstractmethod
    def _step(self, action: np.ndarray) -> CopyStep:
        """Advance the running episode with this copy's action (N,) or (N,A)."""

    def reset(self, seeds: Sequence[int]) -> Reset:
        if len(seeds) != 1:
            raise ValueError(f"a single-copy env takes exactly 1 seed, got {len(seeds)}")
        obs, state, avail = self._reset(int(seeds[0]))
        self._last = (_f32(obs), _f32(state), np.asarray(avail, dtype=bool))
        self._active = True
        self.discarded[0] = False
        return Reset(*(x[None] for x in self._last))

    def step(self, actions: np.ndarray) -> Step:
        if self._last is None:
            raise RuntimeError("step() called before reset()")
        if not self._active:
            return self._inactive_step()
        try:
            t = self._step(np.asarray(actions)[0])
        except EpisodeDiscarded:
            self._active = False
            self.discarded[0] = True
            self.discarded_episodes += 1
            return self._inactive_step()
        self._last = (_f32(t.obs), _f32(t.state), np.asarray(t.avail, dtype=bool))
        over = bool(t.terminated or t.truncated)
        self._active = not over
        n = self.spec.n_agents
        return Step(
            obs=self._last[0][None],
            state=self._last[1][None],
            avail=self._last[2][None],
            reward=_f32(np.broadcast_to(t.reward, (n,)))[None],
            agent_done=(np.asarray(t.agent_done, dtype=bool) | over)[None],
            terminated=np.array([bool(t.terminated)]),
            truncated=np.array([bool(t.truncated) and not t.terminated]),
            won=np.array([t.won if over else np.nan], dtype=np.float32),
            score=np.array([t.score], dtype=np.float32),
            active=np.array([True]),
        )

    def _inactive_step(self) -> Step:
        obs, state, avail = self._last
        n = self.spec.n_agents
        return Step(
            obs=obs[None],
            state=state[None],
            avail=avail[None],
            reward=np.zeros((1, n), dtype=np.float32),
            agent_done=np.ones((1, n), dtype=bool),
            terminated=np.zeros(1, dtype=bool),
            truncated=np.zeros(1, dtype=bool),
            won=np.full(1, np.nan, dtype=np.float32),
            score=np.zeros(1, dtype=np.float32),
            active=np.zeros(1, dtype=bool),
        )

    def close(self) -> None:  # adapters with a simulator to shut down override this
        pass

    def versions(self) -> dict[str, str]:
        return {}


def _f32(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


@dataclass(frozen=True)
class EnvFactory:
    """A picklable recipe for one single-copy env: ``cls(map_name, **kwargs)``."""

    cls: Callable[..., VecEnv]
    map_name: str
    kwargs: dict[str, Any]

    def __call__(self) -> VecEnv:
        return self.cls(self.map_name, **self.kwargs)


def stack(parts: Sequence[Any]) -> Any:
    """Concatenate same-typed Reset/Step dataclasses along the env axis."""
    cls = type(parts[0])
    return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls)})


def _split(actions: np.ndarray, num_envs: int) -> list[np.ndarray]:
    actions = np.asarray(actions)
    if actions.shape[0] != num_envs:
        raise ValueError(f"actions have {actions.shape[0]} rows, expected num_envs={num_envs}")
    return [actions[i : i + 1] for i in range(num_envs)]


class SerialVecEnv:
    """``num_envs`` single-copy envs stepped one after another in this process."""

    def __init__(self, factories: Sequence[Callable[[], VecEnv]]) -> None:
        self.envs = []
        try:
            for factory in factories:
                self.envs.append(factory())
        except BaseException:
            self.close()
            raise
        self.spec: EnvSpec = self.envs[0].spec
        self.num_envs = len(self.envs)

    def reset(self, seeds: Sequence[int]) -> Reset:
        _check_seeds(seeds, self.num_envs)
        return stack([env.reset([seed]) for env, seed in zip(self.envs, seeds)])

    def step(self, actions: np.ndarray) -> Step:
        return stack([env.step(a) for env, a in zip(self.envs, _split(actions, self.num_envs))])

    @property
    def discarded(self) -> np.ndarray:
        return np.concatenate([getattr(env, "discarded", np.zeros(1, dtype=bool)) for env in self.envs])

    @property
    def discarded_episodes(self) -> int:
        return sum(getattr(env, "discarded_episodes", 0) for env in self.envs)

    def versions(self) -> dict[str, str]:
        return self.envs[0].versions()

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


def _check_seeds(seeds: Sequence[int], num_envs: int) -> None:
    if len(seeds) != num_envs:
        raise ValueError(f"got {len(seeds)} seeds for num_envs={num_envs}")


# ------------------------------------------------------------------------------------------------- processes


class WorkerError(RuntimeError):
    """A worker process failed; the message carries its traceback."""


def _worker(conn, factories: Sequence[Callable[[], VecEnv]]) -> None:
    """Serve reset/step/close for a group of copies (a SerialVecEnv) over one pipe."""
    # Ctrl-C goes to the whole process group: let the parent decide and shut us down via close().
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    env = None
    try:
        env = SerialVecEnv(factories)
        conn.send(("ok", (env.spec, env.versions())))
        while True:
            cmd, arg = conn.recv()
            if cmd == "close":
                break
            if cmd == "reset":
                result = env.reset(arg)
            elif cmd == "step":
                result = env.step(arg)
            else:
                raise ValueError(f"unknown worker command {cmd!r}")
            conn.send(("ok", (result, env.discarded, env.discarded_episodes)))
    except (EOFError, KeyboardInterrupt):
        pass  # parent went away
    except BaseException as exc:  # report, then exit: the parent raises
        try:
            conn.send(("error", _portable_error(exc)))
        except (BrokenPipeError, EOFError, OSError):
            pass
    finally:
        if env is not None:
            try:
                env.close()
            except Exception:
                traceback.print_exc(file=sys.stderr)
        conn.close()


def _portable_error(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (keeps EnvUnavailableError's type), else a WorkerError."""
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return WorkerError("".join(traceback.format_exception(exc)).strip())


class ProcVecEnv:
    """``num_envs`` single-copy envs spread over ``num_workers`` worker processes (default: one per CPU core,
    at most one per copy), stepped in parallel over pipes; each worker steps its copies in turn.

    Copy ``i`` lives in worker ``i * num_workers // num_envs`` (contiguous blocks). Workers are started with the
    ``spawn`` context (safe with JAX/torch/MuJoCo already imported in the parent). Any worker error closes all
    workers and is re-raised here; ``close()`` is idempotent and also runs on garbage collection.
    """

    def __init__(
        self,
        factories: Sequence[Callable[[], VecEnv]],
        num_workers: int | None = None,
        context: str = "spawn",
        start_timeout_s: float = 600.0,
    ) -> None:
        ctx = mp.get_context(context)
        self.num_envs = len(factories)
        self.num_workers = max(1, min(num_workers or os.cpu_count() or 1, self.num_envs))
        bounds = [w * self.num_envs // self.num_workers for w in range(self.num_workers + 1)]
        self._blocks = list(zip(bounds[:-1], bounds[1:]))
        self._conns = []
        self._procs = []
        self._discarded = np.zeros(self.num_envs, dtype=bool)
        self._discarded_episodes = [0] * self.num_workers
        try:
            for w, (lo, hi) in enumerate(self._blocks):
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker, args=(child, list(factories[lo:hi])), name=f"marie-env-{w}", daemon=True
                )
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            ready = [self._receive(w, timeout=start_timeout_s) for w in range(self.num_workers)]
        except BaseException:
            self.close()
            raise
        self.spec: EnvSpec = ready[0][0]
        self._versions: dict[str, str] = ready[0][1]

    def _receive(self, w: int, timeout: float | None = None) -> Any:
        conn = self._conns[w]
        if timeout is not None and not conn.poll(timeout):
            raise WorkerError(f"env worker {w} did not answer within {timeout:.0f} s")
        try:
            status, payload = conn.recv()
        except EOFError:
            code = self._procs[w].exitcode
            raise WorkerError(f"env worker {w} died (exit code {code})") from None
        if status == "error":
            raise payload
        return payload

    def _call_all(self, cmd: str, args: Sequence[Any]) -> Any:
        """Send one command per worker, gather the answers, concatenate them along the env axis."""
        if not self._conns:
            raise RuntimeError("ProcVecEnv is closed")
        try:
            for conn, arg in zip(self._conns, args):
                conn.send((cmd, arg))
            answers = [self._receive(w) for w in range(self.num_workers)]
        except BaseException:
            self.close()
            raise
        for w, ((lo, hi), (_, discarded, n_discarded)) in enumerate(zip(self._blocks, answers)):
            self._discarded[lo:hi] = discarded
            self._discarded_episodes[w] = int(n_discarded)
        return stack([answer[0] for answer in answers])

    def reset(self, seeds: Sequence[int]) -> Reset:
        _check_seeds(seeds, self.num_envs)
        return self._call_all("reset", [[int(s) for s in seeds[lo:hi]] for lo, hi in self._blocks])

    def step(self, actions: np.ndarray) -> Step:
        actions = np.asarray(actions)
        if actions.shape[0] != self.num_envs:
            raise ValueError(f"actions have {actions.shape[0]} rows, expected num_envs={self.num_envs}")
        return self._call_all("step", [actions[lo:hi] for lo, hi in self._blocks])

    @property
    def discarded(self) -> np.ndarray:
        return self._discarded.copy()

    @property
    def discarded_episodes(self) -> int:
        return sum(self._discarded_episodes)

    def versions(self) -> dict[str, str]:
        return dict(self._versions)

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close", None))
            except (BrokenPipeError, EOFError, OSError):
                pass
        for proc in self._procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
