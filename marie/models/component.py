"""One generic update step for a trainable model component (tokenizer, world model): sample -> loss -> backward ->
clip -> step, returning the named loss parts averaged over the updates (the original logs means over a round)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, TypeVar

import torch
from torch import nn

from marie.errors import TrainingDivergedError
from marie.models.outputs import LossOutput

Batch = TypeVar("Batch")


class MeanMetrics:
    """Averages metric dicts key by key."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            self.sums[key] += value
            self.counts[key] += 1

    def result(self) -> dict[str, float]:
        return {key: self.sums[key] / self.counts[key] for key in self.sums}


def require_finite(value: float | torch.Tensor, what: str) -> None:
    """Stop (TrainingDivergedError, exit 4) before a NaN/inf reaches an optimiser step."""
    value = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not math.isfinite(value):
        raise TrainingDivergedError(f"non-finite {what} ({value})")


def require_finite_parameters(module: nn.Module, what: str) -> None:
    """After an optimiser step: the next forward pass must not meet NaN/inf weights (one device sync per call)."""
    params = dict(module.named_parameters())
    # Fast path: one fused pass over all parameters; a NaN/inf anywhere makes its tensor's norm non-finite.
    if bool(torch.isfinite(torch.stack(torch._foreach_norm(list(params.values())))).all()):
        return
    # Slow path, also for finite weights whose norm overflows float32: which parameter (if any) is non-finite.
    finite = torch.stack([torch.isfinite(p).all() for p in params.values()])
    if not bool(finite.all()):
        name = list(params)[int((~finite).nonzero()[0])]
        raise TrainingDivergedError(f"non-finite {what} parameter {name} after an update")


def backward_loss(out: LossOutput, prefix: str) -> dict[str, float]:
    """The usual ``backward`` of ``train_component``: gradients of one loss, its parts as floats."""
    out.loss.backward()
    return out.scalars(prefix)


def train_component(
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    updates: int,
    grad_clip: float,
    sample: Callable[[], Batch],
    backward: Callable[[Batch], dict[str, float]],
) -> dict[str, float]:
    """``updates`` optimiser steps of ``module`` in train mode (left in eval mode after).

    Per update: ``sample()`` draws a batch; ``backward(batch)`` computes the loss, accumulates its gradients (in
    micro-batches if it likes) and returns the named loss parts; the gradient norm is clipped to ``grad_clip``."""
    means = MeanMetrics()
    module.train()
    for _ in range(updates):
        batch = sample()
        optimizer.zero_grad(set_to_none=True)
        parts = backward(batch)
        for key, value in parts.items():
            require_finite(value, f"loss part {key}")
        means.add(parts)
        grad_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), grad_clip)
        require_finite(grad_norm, f"{type(module).__name__} gradient norm")
        optimizer.step()
        require_finite_parameters(module, type(module).__name__)  # a finite step can still overflow (lr = inf)
    module.eval()
    return means.result()
