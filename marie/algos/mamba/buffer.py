"""MAMBA's replay memory (MAMBA ``agent/memory/DreamerMemory.py``): a ring of time steps, episodes back to back,
sampled as fixed-length windows uniformly over the starts that do not cross the write position.

Per step: the observation acted upon, the action taken, avail, reward, done (after the action), fake (the agent was
already done when acting) and ``last`` (the final stored step of an episode; the RSSM filter is reset after it).
After a true termination (not a time limit) MAMBA appends ``absorbing_steps`` steps with zero observations, random
actions, reward 0, done = fake = 1 and every action available; ``last`` then marks the final absorbing step.

MARIE's ``FlatBuffer`` does not fit: it has no ``fake``/``last`` and samples by visit counts, not uniformly.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from marie.algos.mamba.losses import ModelBatch


class EpisodeLike(Protocol):
    """What the buffer reads from the harness's ``Episode`` (time-major arrays, see marie.training.episode)."""

    obs: np.ndarray
    actions: np.ndarray
    avail: np.ndarray
    reward: np.ndarray
    done: np.ndarray
    fake: np.ndarray
    terminated: bool


class SequenceBuffer:
    FIELDS = ("obs", "actions", "avail", "reward", "done", "fake", "last")

    def __init__(self, capacity: int, n_agents: int, obs_dim: int, n_actions: int, discrete: bool,
                 action_low: float = -1.0, action_high: float = 1.0):  # fmt: skip
        self.capacity, self.discrete = capacity, discrete
        self.n_actions, self.action_low, self.action_high = n_actions, action_low, action_high
        self.arrays = {
            "obs": np.zeros((capacity, n_agents, obs_dim), np.float32),
            "actions": np.zeros((capacity, n_agents), np.int64) if discrete
            else np.zeros((capacity, n_agents, n_actions), np.float32),
            "avail": np.ones((capacity, n_agents, n_actions), bool),
            "reward": np.zeros((capacity, n_agents), np.float32),
            "done": np.zeros((capacity, n_agents), bool),
            "fake": np.zeros((capacity, n_agents), bool),
            "last": np.zeros((capacity, n_agents), bool),
        }  # fmt: skip
        self.pos = 0  # next write index
        self.size = 0

    def _absorbing(self, count: int, n_agents: int, generator: torch.Generator) -> dict[str, np.ndarray]:
        shape = (count, n_agents)
        if self.discrete:
            actions = torch.randint(0, self.n_actions, shape, generator=generator).numpy()
        else:
            unit = torch.rand((*shape, self.n_actions), generator=generator).numpy()
            actions = (self.action_low + unit * (self.action_high - self.action_low)).astype(np.float32)
        return {
            "obs": np.zeros((*shape, self.arrays["obs"].shape[-1]), np.float32),
            "actions": actions,
            "avail": np.ones((*shape, self.n_actions), bool),
            "reward": np.zeros(shape, np.float32),
            "done": np.ones(shape, bool),
            "fake": np.ones(shape, bool),
        }

    def add(self, episode: EpisodeLike, absorbing_steps: int, generator: torch.Generator,
            reward_scale: float = 1.0) -> int:  # fmt: skip
        """Append one episode (plus absorbing steps after a true termination); returns the steps stored."""
        steps = {
            "obs": episode.obs, "actions": episode.actions, "avail": episode.avail,
            "reward": episode.reward * np.float32(reward_scale), "done": episode.done, "fake": episode.fake,
        }  # fmt: skip
        if episode.terminated and absorbing_steps > 0:
            extra = self._absorbing(absorbing_steps, episode.obs.shape[1], generator)
            steps = {key: np.concatenate([value, extra[key]]) for key, value in steps.items()}
        length = len(steps["obs"])
        last = np.zeros_like(steps["done"], bool)
        last[-1] = True
        steps["last"] = last
        idx = (self.pos + np.arange(length)) % self.capacity
        for key, value in steps.items():
            self.arrays[key][idx] = value
        self.pos = int((self.pos + length) % self.capacity)
        self.size = min(self.size + length, self.capacity)
        return length

    def _candidates(self, seq_len: int) -> np.ndarray:
        if self.size < self.capacity:
            return np.arange(0, max(self.size - seq_len + 1, 0))
        starts = np.arange(self.capacity)
        offset = (self.pos - starts) % self.capacity  # a window must not run across the write position
        return starts[(offset == 0) | (offset >= seq_len)]

    def sample(self, batch: int, seq_len: int, generator: torch.Generator) -> dict[str, np.ndarray]:
        """``batch`` windows of ``seq_len`` consecutive steps, (B,L,...) per field; starts uniform, with replacement."""
        candidates = self._candidates(seq_len)
        if len(candidates) == 0:
            raise RuntimeError(f"buffer holds {self.size} steps, fewer than one window of {seq_len}")
        starts = candidates[torch.randint(0, len(candidates), (batch,), generator=generator).numpy()]
        idx = (starts[:, None] + np.arange(seq_len)[None]) % self.capacity
        return {key: self.arrays[key][idx] for key in self.FIELDS}

    def recent(self, batch: int, seq_len: int, n_recent: int, generator: torch.Generator) -> dict[str, np.ndarray] | None:
        """Like ``sample``, but only windows inside the newest ``n_recent`` stored steps (data no update has seen);
        None when they hold no full window."""
        n_recent = min(n_recent, self.size)
        n_starts = n_recent - seq_len + 1
        if n_starts <= 0:
            return None
        offsets = torch.randint(0, n_starts, (batch,), generator=generator).numpy()
        starts = (self.pos - n_recent + offsets) % self.capacity
        idx = (starts[:, None] + np.arange(seq_len)[None]) % self.capacity
        return {key: self.arrays[key][idx] for key in self.FIELDS}

    def state_dict(self) -> dict[str, Any]:
        n = self.size
        arrays = {k: v[:n].copy() for k, v in self.arrays.items()} if n < self.capacity else self.arrays
        return {"arrays": arrays, "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        n = state["size"]
        for key, value in state["arrays"].items():
            self.arrays[key][:n] = value[:n]
        self.pos, self.size = state["pos"], n


def model_window(window: dict[str, np.ndarray], action_input, device: torch.device) -> ModelBatch:
    """(B,L,...) windows -> MAMBA's shifted, time-major model batch with T = L - 1 steps: observation o_{k+1}, the
    action a_k before it (as the RSSM's action vector via ``action_input``) and its reward/done, and fake/avail/last
    of o_{k+1} (MAMBA ``DreamerMemory.get_transitions``)."""

    def tm(array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(np.swapaxes(array, 0, 1)), device=device, dtype=dtype)

    actions = tm(window["actions"][:, :-1])
    flag = lambda key, part: tm(window[key][:, part], torch.float32)[..., None]  # noqa: E731
    return ModelBatch(
        obs=tm(window["obs"][:, 1:]),
        actions=action_input(actions),
        action_targets=actions,
        reward=flag("reward", slice(None, -1)),
        done=flag("done", slice(None, -1)),
        fake=flag("fake", slice(1, None)),
        last=flag("last", slice(1, None)),
        avail=tm(window["avail"][:, 1:], torch.float32),
    )
