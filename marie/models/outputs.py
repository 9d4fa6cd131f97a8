"""The loss object every trainable model component returns from ``compute_loss``."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


# Logged quality parts measured in the reward's units: the agents divide them by ``reward_scale`` (the world models
# learn rewards x scale) so that every report reads them in the env's reward units.
REWARD_UNIT_PARTS = ("reward_mae", "reward_mae_median")


def in_env_reward_units(parts: dict[str, float], prefix: str, reward_scale: float) -> dict[str, float]:
    """``parts`` with each of ``REWARD_UNIT_PARTS`` (keys ``prefix + name``) divided by ``reward_scale``, in place."""
    for name in REWARD_UNIT_PARTS:
        parts[f"{prefix}{name}"] /= reward_scale
    return parts


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
