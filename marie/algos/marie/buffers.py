"""MARIE's two stores of real experience (spec §6).

- ``FlatBuffer``: a ring of time steps (episodes back to back) for the tokenizer and the world model, with the
  original's visit-count balanced sampling of start indices.
- ``EpisodeStore``: whole episodes, from which imagination start states are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from marie.data.episode import Episode


@dataclass
class FlatSample:
    obs: np.ndarray  # (B,T,N,d)
    actions: np.ndarray  # (B,T,N) or (B,T,N,A)
    avail: np.ndarray  # (B,T,N,A)
    reward: np.ndarray  # (B,T,N)
    done: np.ndarray  # (B,T,N)
    timeout: np.ndarray  # (B,T,N) done only because of a time limit (all False unless the fix of bug #3 is on)


def timeout_mask(episode: Episode) -> np.ndarray | None:
    """(T,N) True where ``done`` comes only from the time limit: agents still acting at the last step of a truncated
    episode. None when the episode really ended. (An agent that dies exactly at that step counts as timed out.)"""
    if not episode.truncated:
        return None
    timeout = np.zeros_like(episode.done, bool)
    timeout[-1] = episode.done[-1] & ~episode.fake[-1]
    return timeout


class FlatBuffer:
    FIELDS = ("obs", "actions", "avail", "reward", "done", "timeout")

    def __init__(self, capacity: int, n_agents: int, obs_dim: int, n_actions: int, discrete: bool):
        self.capacity = capacity
        self.arrays = {
            "obs": np.zeros((capacity, n_agents, obs_dim), np.float32),
            "actions": np.zeros((capacity, n_agents) if discrete else (capacity, n_agents, n_actions),
                                np.int64 if discrete else np.float32),
            "avail": np.ones((capacity, n_agents, n_actions), bool),
            "reward": np.zeros((capacity, n_agents), np.float32),
            "done": np.zeros((capacity, n_agents), bool),
            "timeout": np.zeros((capacity, n_agents), bool),
        }  # fmt: skip
        self.visits = {"tokenizer": np.zeros(capacity, np.int64), "model": np.zeros(capacity, np.int64)}
        self.pos = 0  # next write index
        self.size = 0

    def add(self, episode: Episode, timeout: np.ndarray | None = None) -> None:
        """``timeout`` (T,N): steps whose ``done`` comes from a time limit, not a real end (None: none)."""
        length = len(episode)
        idx = (self.pos + np.arange(length)) % self.capacity
        values = {"obs": episode.obs, "actions": episode.actions, "avail": episode.avail,
                  "reward": episode.reward, "done": episode.done,
                  "timeout": np.zeros_like(episode.done, bool) if timeout is None else timeout}  # fmt: skip
        for key, value in values.items():
            self.arrays[key][idx] = value
        for counts in self.visits.values():
            counts[idx] = 0  # a fresh slot has never been visited
        self.pos = int((self.pos + length) % self.capacity)
        self.size = min(self.size + length, self.capacity)

    def _candidates(self, seq_len: int) -> np.ndarray:
        if self.size < self.capacity:
            return np.arange(0, max(self.size - seq_len + 1, 0))
        starts = np.arange(self.capacity)
        # A sequence must not cross the write pointer (the original resamples those; masking them is equivalent).
        offset = (self.pos - starts) % self.capacity
        return starts[(offset == 0) | (offset >= seq_len)]

    def sample(self, batch: int, seq_len: int, mode: str, temperature: float, generator: torch.Generator) -> FlatSample:
        candidates = self._candidates(seq_len)
        if len(candidates) == 0:
            raise RuntimeError(f"flat buffer holds {self.size} steps, fewer than one sequence of {seq_len}")
        visits = torch.as_tensor(self.visits[mode][candidates], dtype=torch.float64)
        if np.isinf(temperature):
            total = visits.sum()
            probs = torch.ones_like(visits) if total == 0 else 1.0 - visits / total
            if probs.sum() <= 0:  # a single candidate visited every time
                probs = torch.ones_like(visits)
        else:
            probs = torch.softmax(-visits / temperature, dim=0)
        count = min(batch, len(candidates))
        chosen = torch.multinomial(probs, count, replacement=False, generator=generator).numpy()
        starts = candidates[chosen]
        if count < batch:  # tiny buffers (tests): fill up with replacement
            extra = torch.multinomial(probs, batch - count, replacement=True, generator=generator).numpy()
            starts = np.concatenate([starts, candidates[extra]])
        np.add.at(self.visits[mode], starts, 1)
        idx = (starts[:, None] + np.arange(seq_len)[None]) % self.capacity
        return FlatSample(*(self.arrays[key][idx] for key in self.FIELDS))

    def recent(self, count: int, seq_len: int, n_recent: int, rng: np.random.Generator) -> FlatSample | None:
        """Up to ``count`` sequences lying inside the newest ``n_recent`` steps (data no model has trained on yet);
        None when they hold no full sequence. Visit counts are not touched."""
        n_recent = min(n_recent, self.size)
        n_starts = n_recent - seq_len + 1
        if n_starts <= 0:
            return None
        offsets = rng.choice(n_starts, size=min(count, n_starts), replace=False)
        starts = (self.pos - n_recent + offsets) % self.capacity
        idx = (starts[:, None] + np.arange(seq_len)[None]) % self.capacity
        return FlatSample(*(self.arrays[key][idx] for key in self.FIELDS))

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        if n < self.capacity:
            arrays = {k: v[:n].copy() for k, v in self.arrays.items()}
            visits = {k: v[:n].copy() for k, v in self.visits.items()}
        else:
            arrays, visits = self.arrays, self.visits
        return {"arrays": arrays, "visits": visits, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = state["size"]
        for key, value in state["arrays"].items():
            self.arrays[key][:n] = value[:n]
        for key, value in state["visits"].items():
            self.visits[key][:n] = value[:n]
        self.pos, self.size = state["pos"], n


@dataclass
class StartBatch:
    obs: np.ndarray  # (S,N,d) start observations
    avail: np.ndarray  # (S,N,A) real avail masks at the start
    history: np.ndarray | None  # (S,n_hist,N,d) earlier raw observations, oldest first (zeros where padded)
    history_filled: np.ndarray | None  # (S,n_hist) False where the history runs before the episode start


class EpisodeStore:
    """Every episode, for imagination starts (spec §4.1, §6.2)."""

    def __init__(self, agent0_length_bug: bool, start_sampling: str):
        self.episodes: list[dict[str, np.ndarray]] = []
        self.agent0_length_bug = agent0_length_bug
        self.start_sampling = start_sampling

    def add(self, episode: Episode) -> None:
        self.episodes.append({"obs": episode.obs, "avail": episode.avail, "done": episode.done})

    def _length(self, ep: dict[str, np.ndarray]) -> int:
        steps = len(ep["obs"])
        if not self.agent0_length_bug:
            return steps
        # The original's SC2Episode.__len__: T minus agent 0's done count, plus 1 (bug #5 of spec §10.1).
        return max(1, steps - int(ep["done"][:, 0].sum()) + 1)

    def sample(self, count: int, n_hist: int, rng: np.random.Generator) -> StartBatch:
        lengths = np.array([self._length(ep) for ep in self.episodes])
        if self.start_sampling == "episode":  # the original: uniform episode, then uniform step in it
            which = rng.integers(0, len(self.episodes), size=count)
            steps = (rng.random(count) * lengths[which]).astype(np.int64)
        else:  # fixed: uniform over all steps
            flat = rng.integers(0, lengths.sum(), size=count)
            which = np.searchsorted(np.cumsum(lengths), flat, side="right")
            steps = flat - (np.cumsum(lengths) - lengths)[which]
        obs = np.stack([self.episodes[e]["obs"][t] for e, t in zip(which, steps)])
        avail = np.stack([self.episodes[e]["avail"][t] for e, t in zip(which, steps)])
        if n_hist == 0:
            return StartBatch(obs, avail, None, None)
        history = np.zeros((count, n_hist) + obs.shape[1:], np.float32)
        filled = np.zeros((count, n_hist), bool)
        for i, (e, t) in enumerate(zip(which, steps)):
            for j in range(n_hist):
                src = t - n_hist + j
                if src >= 0:
                    history[i, j] = self.episodes[e]["obs"][src]
                    filled[i, j] = True
        return StartBatch(obs, avail, history, filled)

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = state["episodes"]
