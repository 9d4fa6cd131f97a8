"""The loss object every trainable model component returns from ``compute_loss``."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class LossOutput:
    """``loss`` is what the optimiser minimises; ``parts`` holds detached scalars for logging (incl. ``total``)."""

    loss: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)

    def scalars(self, prefix: str = "") -> dict[str, float]:
        """Parts as Python floats (one host sync), keys prefixed e.g. ``world_model/``."""
        return {f"{prefix}{name}": float(value) for name, value in self.parts.items()}
