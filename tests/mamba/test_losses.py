"""MAMBA's world-model losses: KL balancing and the information loss against hand-computed values, masking by
``fake``, and a few updates reducing the loss on a fixed batch."""

import math

import numpy as np
import pytest
import torch

from marie.algos.mamba.buffer import SequenceBuffer, model_window
from marie.algos.mamba.heads import MambaWorldModel
from marie.algos.mamba.losses import information_loss, kl_balance, world_model_loss
from tests.mamba.helpers import MUJOCO_LIKE, SMAX_LIKE, fake_episode, smoke_config


def test_kl_balancing_matches_a_hand_computed_case():
    # Two categoricals of two classes: #0 has post p = (1/2, 1/2), prior q = (1/4, 3/4); #1 has post = prior.
    post_logits = torch.tensor([[0.0, 0.0, 0.3, -0.2]], requires_grad=True)
    prior_logits = torch.tensor([[math.log(0.25), math.log(0.75), 0.3, -0.2]], requires_grad=True)
    loss = kl_balance(post_logits, prior_logits, n_classes=2, balance=0.2)
    kl0 = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)  # 0.143841
    assert loss.item() == pytest.approx(kl0 / 2, abs=1e-6)  # mean over the two categoricals
    loss.backward()
    # d KL(p||q) / d prior logits = q - p; weighted by 1 - balance = 0.8 and the 1/2 of the mean.
    assert torch.allclose(prior_logits.grad, torch.tensor([[-0.1, 0.1, 0.0, 0.0]]), atol=1e-5)
    # d KL(p||q) / d post logit j = p_j (log(p_j / q_j) - KL); weighted by balance = 0.2 and 1/2.
    g = 0.2 * 0.5 * 0.5 * (math.log(2.0) - kl0)
    assert torch.allclose(post_logits.grad, torch.tensor([[g, -g, 0.0, 0.0]]), atol=1e-5)


def test_kl_balance_weights_only_the_gradients():
    post, prior = torch.randn(3, 8), torch.randn(3, 8)
    values = [kl_balance(post, prior, 4, b).item() for b in (0.0, 0.2, 1.0)]
    assert values[0] == pytest.approx(values[1]) == pytest.approx(values[2])


def test_information_loss_hand_computed():
    logits = torch.tensor([[0.0, math.log(2.0), 0.0], [5.0, 0.0, 0.0]])
    targets = torch.tensor([1, 2])
    mask = torch.tensor([1.0, 0.0])  # the second agent was dead: not counted, but still in the mean's denominator
    assert information_loss(logits, targets, mask, discrete=True).item() == pytest.approx(math.log(2.0) / 2)
    predicted = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    target_vec = torch.tensor([[0.0, 0.0], [5.0, 5.0]])
    assert information_loss(predicted, target_vec, mask, discrete=False).item() == pytest.approx(2.5 / 2)


def _batch(spec, cfg, model, seed=0):
    rng = np.random.default_rng(seed)
    buffer = SequenceBuffer(500, spec.n_agents, spec.obs_dim, spec.n_actions, spec.discrete)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(6):
        buffer.add(fake_episode(spec, 12, rng), 2, gen)
    return model_window(buffer.sample(6, cfg.buffer.seq_len, gen), model.action_input, torch.device("cpu"))


@pytest.mark.parametrize("spec", [SMAX_LIKE, MUJOCO_LIKE], ids=["discrete", "continuous"])
def test_world_model_loss_parts_and_a_few_updates_reduce_it(spec):
    torch.manual_seed(0)
    cfg = smoke_config(**{"world_model.predict_avail": spec.discrete})
    model = MambaWorldModel(cfg, spec.obs_dim, spec.n_actions, spec.discrete, cfg.world_model.predict_avail)
    batch = _batch(spec, cfg, model)
    gen = torch.Generator().manual_seed(1)
    loss, parts = world_model_loss(model, batch, cfg.world_model, gen)
    expected = {"loss", "kl", "obs", "reward", "continuation", "info", "reward_mae", "reward_mae_median"}
    expected |= {"continuation_accuracy"}
    expected |= {"avail"} if spec.discrete else set()
    assert {k.removeprefix("world_model/") for k in parts} == expected
    assert all(math.isfinite(v) for v in parts.values())
    measures = ("world_model/loss", "world_model/reward_mae", "world_model/reward_mae_median",
                "world_model/continuation_accuracy")  # fmt: skip
    weighted = sum(v for k, v in parts.items() if k not in measures)
    assert 0.0 <= parts["world_model/continuation_accuracy"] <= 1.0 and parts["world_model/reward_mae"] >= 0.0
    assert parts["world_model/loss"] == pytest.approx(weighted, rel=1e-5)  # all weights 1
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    first = loss.item()
    for _ in range(60):
        loss, _ = world_model_loss(model, batch, cfg.world_model, gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.85 * first  # random observations: mostly the continuation, avail and reward parts fall


def test_dead_agents_do_not_count_in_the_observation_and_information_losses():
    torch.manual_seed(0)
    cfg = smoke_config()
    model = MambaWorldModel(cfg, SMAX_LIKE.obs_dim, SMAX_LIKE.n_actions, True, True)
    batch = _batch(SMAX_LIKE, cfg, model)
    batch.fake = torch.ones_like(batch.fake)
    _, parts = world_model_loss(model, batch, cfg.world_model)
    assert parts["world_model/obs"] == 0.0 and parts["world_model/info"] == 0.0
    assert parts["world_model/reward"] > 0.0
