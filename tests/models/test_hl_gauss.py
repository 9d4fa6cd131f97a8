"""symlog/symexp and the HL-Gauss reward head's target, loss and prediction (spec §3.5)."""

from __future__ import annotations

import pytest
import torch

from marie.models.hl_gauss import HLGauss, symexp, symlog


def test_symlog_symexp_round_trip() -> None:
    x = torch.tensor([-1e4, -20.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 1e4], dtype=torch.float64)
    assert torch.allclose(symexp(symlog(x)), x, rtol=1e-12)
    assert symlog(torch.tensor(1.0)) == pytest.approx(0.6931472)
    assert torch.equal(torch.sign(symlog(x)), torch.sign(x))


def test_hl_gauss_target_is_a_distribution_centred_on_y() -> None:
    hl = HLGauss(-3.0, 3.0, 128, sigma_ratio=0.75)
    assert hl.sigma == pytest.approx(0.75 * 6 / 128)
    y = torch.tensor([-2.5, -0.3, 0.0, 1.234, 2.9])
    probs = hl.target_probs(y)
    assert probs.shape == (5, 128)
    assert torch.allclose(probs.sum(-1), torch.ones(5), atol=1e-5)
    assert torch.allclose(probs @ hl.centers, y, atol=1e-3)
    # Outside the support the target is clamped (no NaN) and sits in the edge bin.
    far = hl.target_probs(torch.tensor([50.0, -50.0]))
    assert torch.isfinite(far).all() and far[0].argmax() == 127 and far[1].argmax() == 0


def test_hl_gauss_loss_is_minimised_by_the_target_and_predicts_y() -> None:
    hl = HLGauss(-3.0, 3.0, 128)
    y = torch.tensor([0.7, -1.9])
    target = hl.target_probs(y)
    best = target.clamp_min(1e-30).log()
    assert torch.allclose(hl.expectation(best), y, atol=1e-3)
    entropy = -(target * best).sum(-1).mean()
    assert float(hl.loss(best, y)) == pytest.approx(float(entropy), abs=1e-5)  # CE = entropy at the target
    shifted = hl.target_probs(y + 0.2).clamp_min(1e-30).log()
    assert float(hl.loss(shifted, y)) > float(entropy) + 0.1
    uniform = torch.zeros(2, 128)
    assert float(hl.expectation(uniform).abs().max()) < 1e-5


def test_hl_gauss_rejects_empty_support() -> None:
    with pytest.raises(ValueError, match="empty"):
        HLGauss(1.0, 1.0, 10)
