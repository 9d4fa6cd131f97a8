"""Perceiver aggregation: the symmetries that hold (spec §3.2)."""

from __future__ import annotations

import torch

from marie.models.perceiver import Perceiver, sinusoid_table


def make_perceiver(num_agents: int = 3) -> Perceiver:
    return Perceiver(num_agents, dim=32, depth=2, heads=4, dim_head=8, ff_mult=2, dropout=0.1, max_agents=30).eval()


def test_sinusoid_table_rows() -> None:
    table = sinusoid_table(30, 8)
    assert table.shape == (30, 8)
    assert torch.allclose(table[0], torch.tensor([0.0, 1.0] * 4))
    assert table[3, 0] == torch.sin(torch.tensor(3.0)) and table[3, 1] == torch.cos(torch.tensor(3.0))
    assert torch.allclose(table[2, 2], torch.sin(torch.tensor(2.0 / 10000 ** (2 / 8))))


def test_within_agent_token_order_does_not_matter() -> None:
    perceiver = make_perceiver()
    tokens = torch.randn(4, 3, 6, 32)
    shuffled = tokens[:, :, torch.randperm(6)]
    assert torch.allclose(perceiver(tokens), perceiver(shuffled), atol=1e-5)


def test_agent_sets_with_their_ids_attached_are_a_set() -> None:
    """The output depends only on the set of (token + agent-ID) vectors: any permutation of that flat context,
    across agents too, leaves it unchanged. Latent i stays tied to output slot i."""
    perceiver = make_perceiver()
    tokens = torch.randn(2, 3, 5, 32)
    out = perceiver(tokens)
    context = (tokens + perceiver.agent_ids[:3, None]).reshape(2, 15, 32)
    permuted = context[:, torch.randperm(15)]
    assert torch.allclose(perceiver.forward_context(permuted), out, atol=1e-5)
    # Swapping whole agents while keeping their IDs attached is such a permutation.
    agent_perm = torch.tensor([2, 0, 1])
    swapped = (tokens + perceiver.agent_ids[:3, None])[:, agent_perm].reshape(2, 15, 32)
    assert torch.allclose(perceiver.forward_context(swapped), out, atol=1e-5)
    # Without the IDs following, agent identity changes the output: the IDs carry information.
    assert not torch.allclose(perceiver(tokens[:, agent_perm]), out, atol=1e-4)


def test_latents_keep_std_one_init_and_output_shape() -> None:
    perceiver = Perceiver(20, dim=256, depth=2, heads=8, dim_head=64, ff_mult=4, dropout=0.1, max_agents=30)
    assert 0.9 < float(perceiver.latents.detach().std()) < 1.1
    assert perceiver(torch.randn(3, 20, 4, 256)).shape == (3, 20, 256)


def test_init_scale_shrinks_latents_and_agent_ids_alike() -> None:
    torch.manual_seed(0)
    base = Perceiver(4, dim=64, depth=1, heads=4, dim_head=16, ff_mult=2, dropout=0.0, max_agents=30)
    torch.manual_seed(0)
    small = Perceiver(4, 64, depth=1, heads=4, dim_head=16, ff_mult=2, dropout=0.0, max_agents=30, init_scale=0.02)
    assert torch.allclose(small.latents, base.latents * 0.02)
    assert torch.allclose(small.agent_ids, base.agent_ids * 0.02)


def test_small_init_scale_lets_the_tokens_move_the_aggregated_token() -> None:
    """Why the switch exists: with the original scale the output barely depends on the tokens (std-0.02 embeddings),
    at 0.02 it does. Relative spread across inputs of each agent's output, at initialisation."""
    spreads = {}
    for scale in (1.0, 0.02):
        torch.manual_seed(0)
        perceiver = Perceiver(3, 64, 1, 4, 16, 2, 0.0, 30, init_scale=scale).eval()
        for module in perceiver.modules():  # the world model's init (N(0, 0.02) Linear weights)
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=0.02)
                torch.nn.init.zeros_(module.bias)
        with torch.no_grad():
            out = perceiver(torch.randn(64, 3, 5, 64) * 0.02)
        spreads[scale] = float((out.std(0) / out.abs().mean(0)).mean())
    assert spreads[0.02] > 10 * spreads[1.0]
