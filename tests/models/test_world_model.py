"""World model: sizes, init, optimiser groups, the segment mask in use, loss variants and overfitting."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from marie.models.configs import WorldModelConfig
from marie.models.optim import make_world_model_optimizer, world_model_param_groups
from marie.models.wm_losses import episode_attention_mask
from marie.models.world_model import WorldModel, WorldModelBatch
from tests.models.helpers import random_batch, small_wm_config, small_world_model


def test_parameter_count_smax_3m_paper_size() -> None:
    wm = WorldModel(WorldModelConfig(), num_agents=3, obs_vocab_size=512, tokens_per_obs=16, num_actions=8)
    count = sum(p.numel() for p in wm.parameters())
    assert count == pytest.approx(12.65e6, rel=0.02)  # spec §10.5
    assert sum(p.numel() for p in wm.transformer.parameters()) == pytest.approx(7.90e6, rel=0.01)
    assert sum(p.numel() for p in wm.perceiver.parameters()) == pytest.approx(3.95e6, rel=0.01)
    assert wm.tokens_per_block == 18 and wm.max_tokens == 270


def test_init_follows_spec() -> None:
    wm = WorldModel(WorldModelConfig(), num_agents=3, obs_vocab_size=512, tokens_per_obs=16, num_actions=8)
    block = wm.transformer.blocks[0]
    assert float(block.mlp[0].weight.detach().std()) == pytest.approx(0.02, rel=0.05)
    assert torch.all(block.mlp[0].bias == 0) and torch.all(block.ln1.weight == 1)
    assert float(wm.obs_embedding.weight.detach().std()) == pytest.approx(0.02, rel=0.05)
    assert 0.8 < float(wm.perceiver.latents.detach().std()) < 1.2


def test_param_groups_decay_linear_weights_only() -> None:
    wm = small_world_model()
    decay, no_decay = world_model_param_groups(wm, 0.01)
    linear_weights = {id(m.weight) for m in wm.modules() if isinstance(m, nn.Linear)}
    assert {id(p) for p in decay["params"]} == linear_weights
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    no_decay_ids = {id(p) for p in no_decay["params"]}
    assert id(wm.perceiver.latents) in no_decay_ids and id(wm.obs_embedding.weight) in no_decay_ids
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(wm.parameters()))
    opt = make_world_model_optimizer(wm, wm.cfg)
    assert opt.defaults["betas"] == (0.9, 0.999) and opt.defaults["lr"] == 1e-4


def _hidden(wm: WorldModel, batch: WorldModelBatch) -> torch.Tensor:
    return wm.hidden_states(batch).flatten(1, 2)  # (B*N, T*tpb, W)


def test_hidden_states_are_what_the_loss_reads() -> None:
    wm = small_world_model().eval()
    batch = random_batch(wm, batch=2, steps=3, vocab=16)
    h = wm.hidden_states(batch)
    assert h.shape == (2 * wm.num_agents, 3, wm.tokens_per_block, wm.cfg.embed_dim)
    manual = wm.forward_embeddings(
        wm.embed_blocks(batch.obs_tokens, wm.action_tokens(batch.actions)),
        group_mask=episode_attention_mask(batch.dones.bool(), wm.tokens_per_block),
    )
    assert torch.equal(h.flatten(1, 2), manual)
    rewards = batch.rewards.transpose(1, 2).reshape(2 * wm.num_agents, 3)
    mae = (wm.predict_reward(h[:, :, -1]) - rewards).abs().mean()
    parts = wm.compute_loss(batch).parts
    assert torch.allclose(parts["reward_mae"], mae)
    assert torch.allclose(parts["reward_mae_median"], (rewards - rewards.median()).abs().mean())


def test_episode_boundary_blocks_information_but_single_deaths_do_not() -> None:
    wm = small_world_model().eval()
    batch = random_batch(wm, batch=2, steps=4, vocab=16)
    batch.dones[:] = False
    batch.dones[0, 1] = True  # sample 0: all agents done after step 1
    batch.dones[1, 1, 0] = True  # sample 1: only agent 0 dies
    base = _hidden(wm, batch)
    changed = WorldModelBatch(batch.obs_tokens.clone(), batch.actions, batch.rewards, batch.dones, batch.avail)
    changed.obs_tokens[:, 0] = (changed.obs_tokens[:, 0] + 1) % 16  # alter step 0 of both samples
    after = _hidden(wm, changed)
    tpb, n = wm.tokens_per_block, wm.num_agents
    second_segment = slice(2 * tpb, 4 * tpb)
    assert torch.allclose(base[:n, second_segment], after[:n, second_segment], atol=1e-6)  # sample 0 rows
    assert not torch.allclose(base[n:, second_segment], after[n:, second_segment], atol=1e-4)  # sample 1 rows


@pytest.mark.parametrize(
    "overrides",
    [{}, {"ce_for_r": True}, {"ce_for_av": False}, {"predict_avail": False}],
    ids=["default", "hl_gauss_reward", "bernoulli_avail", "no_avail"],
)
def test_loss_parts_and_overfitting_a_tiny_batch(overrides: dict[str, object]) -> None:
    wm = small_world_model(dropout=0.0, perceiver_dropout=0.0, **overrides)
    batch = random_batch(wm, batch=2, steps=4, vocab=16)
    opt = torch.optim.AdamW(world_model_param_groups(wm, 0.0), lr=3e-3)
    wm.train()
    first = wm.compute_loss(batch)
    losses = {"obs", "reward", "continuation"} | ({"avail"} if wm.predict_avail else set())
    quality = {"obs_accuracy", "reward_mae", "reward_mae_median", "continuation_accuracy"}
    assert set(first.parts) == losses | quality | {"total"}
    assert float(first.parts["total"]) == pytest.approx(sum(float(first.parts[k]) for k in losses))
    assert 0.0 <= float(first.parts["obs_accuracy"]) <= 1.0 and 0.0 <= float(first.parts["continuation_accuracy"]) <= 1.0
    for _ in range(60):
        out = wm.compute_loss(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    last = wm.compute_loss(batch)
    assert float(last.parts["total"]) < 0.5 * float(first.parts["total"])
    assert float(last.parts["obs"]) < 0.5 * float(first.parts["obs"])
    assert float(last.parts["obs_accuracy"]) > float(first.parts["obs_accuracy"]) + 0.2


def test_continuous_actions_are_binned_tokens() -> None:
    cfg = small_wm_config(predict_avail=False)
    wm = WorldModel(cfg, num_agents=2, obs_vocab_size=16, tokens_per_obs=3, num_actions=4, continuous_actions=True)
    assert wm.tokens_per_block == 3 + 4 + 1
    tokens = wm.action_tokens(torch.tensor([[-5.0, -1.0, 1.0, 7.0], [0.0, -0.999, 0.999, 0.5]]))
    assert tokens[0].tolist() == [0, 0, 255, 255]  # clipped to [low, high] before binning
    # edges from -1-1e-6 to 1 in 256 steps, bin i = (edge_i, edge_i+1]: 0.0 lies just above edge_128
    assert tokens[1, 0] == 128 and tokens[1, 1] == 0 and tokens[1, 2] == 255
    batch = WorldModelBatch(
        obs_tokens=torch.randint(0, 16, (2, 3, 2, 3)),
        actions=torch.randn(2, 3, 2, 4),
        rewards=torch.randn(2, 3, 2),
        dones=torch.zeros(2, 3, 2, dtype=torch.bool),
    )
    out = wm.compute_loss(batch)
    assert torch.isfinite(out.loss) and "avail" not in out.parts


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="predict_avail"):
        WorldModel(
            small_wm_config(), num_agents=2, obs_vocab_size=8, tokens_per_obs=2, num_actions=3, continuous_actions=True
        )
    wm = small_world_model()
    batch = random_batch(wm, batch=1, steps=2, vocab=16)
    with pytest.raises(ValueError, match="integer"):
        wm.action_tokens(batch.actions.float())
    with pytest.raises(ValueError, match="avail mask"):
        wm.compute_loss(WorldModelBatch(batch.obs_tokens, batch.actions, batch.rewards, batch.dones, None))
    with pytest.raises(ValueError, match="max_blocks"):
        wm.compute_loss(random_batch(wm, batch=1, steps=5, vocab=16))


def test_rewards_and_dones_accept_a_trailing_singleton() -> None:
    wm = small_world_model().eval()
    batch = random_batch(wm, batch=2, steps=3, vocab=16)
    flat = wm.compute_loss(batch)
    trailing = WorldModelBatch(
        batch.obs_tokens, batch.actions, batch.rewards.unsqueeze(-1), batch.dones.unsqueeze(-1), batch.avail
    )
    assert torch.allclose(wm.compute_loss(trailing).loss, flat.loss)
    with pytest.raises(ValueError, match=r"rewards has shape \(2, 3\)"):
        wm.compute_loss(
            WorldModelBatch(batch.obs_tokens, batch.actions, batch.rewards[..., 0], batch.dones, batch.avail)
        )


def test_timeouts_turn_time_limit_dones_into_continuation_targets_of_one() -> None:
    """Bug #3 fix: a done marked as a timeout keeps ending the sequence but is learned as 'continues'."""
    wm = small_world_model().eval()
    head = wm.continuation_head[-1]
    with torch.no_grad():  # the head always says "continues" with a large logit
        head.weight.zero_()
        head.bias.fill_(20.0)
    batch = random_batch(wm, batch=3, steps=4, vocab=16)
    assert batch.dones.any()
    faithful = wm.compute_loss(batch).parts["continuation"]
    fixed = wm.compute_loss(dataclasses.replace(batch, timeouts=batch.dones.clone())).parts["continuation"]
    # target 0 costs ~20 per done position under this head; target 1 costs ~0
    assert float(faithful) == pytest.approx(20.0 * float(batch.dones.float().mean()), rel=1e-3)
    assert float(fixed) < 1e-6


def test_aggregate_output_scale_normalises_the_aggregated_token() -> None:
    """0 (the original) leaves the Perceiver's output as it is; > 0 layer-normalises it to that size, in training
    and in imagination alike (both read ``aggregate``)."""
    torch.manual_seed(0)
    plain = small_world_model().eval()
    torch.manual_seed(0)
    scaled = small_world_model(aggregate_output_scale=0.02).eval()
    obs_emb, act_emb = torch.randn(5, 3, 4, 32), torch.randn(5, 3, 1, 32)
    raw = plain.aggregate(obs_emb, act_emb)
    assert torch.equal(raw, plain.perceiver(torch.cat([obs_emb, act_emb], dim=2)))
    out = scaled.aggregate(obs_emb, act_emb)
    assert torch.allclose(out.mean(-1), torch.zeros(5, 3), atol=1e-6)
    assert torch.allclose(out.std(-1, unbiased=False), torch.full((5, 3), 0.02), rtol=1e-3)
    assert torch.allclose(out, torch.nn.functional.layer_norm(raw, (32,)) * 0.02, atol=1e-6)
    with pytest.raises(ValueError, match="aggregate_output_scale"):
        small_wm_config(aggregate_output_scale=-1.0)
