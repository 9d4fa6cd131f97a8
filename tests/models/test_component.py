"""The generic component-training step shared by the tokenizer and the world model."""

import torch
from torch import nn

from marie.models.component import MeanMetrics, backward_loss, train_component
from marie.models.outputs import LossOutput


def test_train_component_samples_steps_clips_and_averages():
    torch.manual_seed(0)
    module = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    calls: list[str] = []
    before = module.weight.detach().clone()

    def sample() -> torch.Tensor:
        calls.append("sample")
        assert module.training  # the component trains in train mode
        return torch.full((4, 2), 100.0)

    def backward(batch: torch.Tensor) -> dict[str, float]:
        calls.append("backward")
        assert all(p.grad is None for p in module.parameters())  # gradients were reset before the loss
        loss = module(batch).pow(2).mean()
        return backward_loss(LossOutput(loss, {"total": loss.detach()}), "part/")

    parts = train_component(module, optimizer, updates=3, grad_clip=1e-3, sample=sample, backward=backward)
    assert calls == ["sample", "backward"] * 3 and not module.training
    assert set(parts) == {"part/total"} and parts["part/total"] > 0
    step = (module.weight.detach() - before).norm()
    assert 0 < step <= 3 * 0.1 * 1e-3 * (1 + 1e-4)  # every update's gradient was clipped to norm 1e-3


def test_mean_metrics_averages_key_by_key():
    means = MeanMetrics()
    means.add({"a": 1.0, "b": 2.0})
    means.add({"a": 3.0})
    assert means.result() == {"a": 2.0, "b": 2.0}


def test_require_finite_parameters_names_the_bad_parameter_and_accepts_huge_finite_weights():
    import pytest

    from marie.errors import TrainingDivergedError
    from marie.models.component import require_finite_parameters

    module = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    with torch.no_grad():
        module[0].weight.fill_(3e38)  # finite, but its float32 norm overflows: the slow path must clear it
    require_finite_parameters(module, "toy")
    with torch.no_grad():
        module[1].bias.fill_(float("nan"))
    with pytest.raises(TrainingDivergedError, match="non-finite toy parameter 1.bias"):
        require_finite_parameters(module, "toy")


def test_loss_output_scalars_equal_float_of_each_part():
    parts = {"a": torch.tensor(0.1, dtype=torch.float32), "b": torch.tensor(1 / 3, dtype=torch.float64),
             "c": torch.tensor([2.5])}  # fmt: skip
    out = LossOutput(torch.tensor(0.0), parts).scalars("p/")
    assert out == {"p/a": float(parts["a"]), "p/b": float(parts["b"]), "p/c": float(parts["c"])}
    assert LossOutput(torch.tensor(0.0)).scalars() == {}
