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
        if not self.parts:
            return {}
        # float64 holds every float32/float64 part exactly: the same floats as float(part), with one sync, not one each
        values = torch.stack([value.detach().reshape(()).to(torch.float64) for value in self.parts.values()]).tolist()
        return {f"{prefix}{name}": value for name, value in zip(self.parts, values)}
