"""MAMBA's RSSM: shapes, the straight-through latents, the cross-agent attention, the prior/posterior step and
the filter's reset at episode ends."""

import pytest
import torch

from marie.algos.mamba.config import MambaConfig
from marie.algos.mamba.heads import MambaWorldModel
from marie.algos.mamba.rssm import RSSM, CrossAgentAttention, sample_one_hot
from tests.mamba.helpers import smoke_config

B, N, A = 5, 3, 4


@pytest.fixture
def rssm():
    torch.manual_seed(0)
    return RSSM(smoke_config().rssm, action_dim=A).eval()


def test_paper_sizes_match_the_spec():
    cfg = MambaConfig()
    model = MambaWorldModel(cfg, obs_dim=30, action_dim=9, discrete=True, predict_avail=True)
    assert model.feat_dim == 32 * 32 + 256 == 1280
    count = sum(p.numel() for p in model.parameters())
    assert abs(count - 4.56e6) < 0.01e6, count  # spec §10.5: ~4.56M on SMAC 3m (d=30, A=9)
    assert len(model.rssm.attention.encoder.layers) == 3
    layer = model.rssm.attention.encoder.layers[0]
    assert layer.self_attn.num_heads == 8 and layer.linear1.out_features == 256 and layer.dropout.p == 0.1


def test_step_shapes(rssm):
    cfg = rssm.cfg
    stoch_dim = cfg.n_categoricals * cfg.n_classes
    state = rssm.initial_state((B,), N, torch.device("cpu"))
    prior, post = rssm.filter_step(torch.randn(B, N, cfg.embed), torch.zeros(B, N, A), state)
    for s in (prior, post):
        assert s.logits.shape == s.stoch.shape == (B, N, stoch_dim)
        assert s.deter.shape == (B, N, cfg.deter)
        assert s.features().shape == (B, N, rssm.feat_dim)
    assert torch.equal(post.deter, prior.deter)  # the posterior shares the prior's deterministic state
    one_hots = post.stoch.reshape(B, N, cfg.n_categoricals, cfg.n_classes)
    assert torch.allclose(one_hots.sum(-1), torch.ones(B, N, cfg.n_categoricals))
    assert torch.allclose(one_hots, one_hots.round(), atol=1e-6)  # one-hot up to the straight-through rounding


def test_sequence_shapes(rssm):
    steps = 6
    embeds = torch.randn(steps, B, N, rssm.cfg.embed)
    priors, posts = rssm.observe_sequence(embeds, torch.zeros(steps, B, N, A), torch.zeros(steps, B, N, 1))
    assert priors.deter.shape == posts.deter.shape == (steps, B, N, rssm.cfg.deter)
    assert posts.features().shape == (steps, B, N, rssm.feat_dim)


def test_straight_through_latents_pass_gradients():
    logits = torch.randn(2, 4, 3, requires_grad=True)
    sample = sample_one_hot(logits, sample=True)
    (sample * torch.arange(3.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    mode = sample_one_hot(logits.detach(), sample=False)
    assert torch.equal(mode.argmax(-1), logits.detach().argmax(-1))


def test_sampled_latents_follow_the_logits():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.7]])).expand(20000, 3)
    gen = torch.Generator().manual_seed(0)
    freq = sample_one_hot(logits, sample=True, generator=gen).detach().mean(0)
    assert torch.allclose(freq, torch.tensor([0.1, 0.2, 0.7]), atol=0.015)


def test_cross_agent_attention_is_equivariant_to_agent_permutations():
    torch.manual_seed(0)
    attn = CrossAgentAttention(dim=16, layers=3, heads=2, dropout=0.1, max_agents=30).eval()
    x = torch.randn(4, 5, 16)
    perm = torch.tensor([3, 0, 4, 1, 2])
    pos = attn.agent_pos[:5]
    out = attn(x)
    permuted = attn(x[:, perm], positions=pos[perm])  # agents moved together with their index codes
    assert torch.allclose(permuted, out[:, perm], atol=1e-5)
    # The index code tells agents apart: permuting only the agents does change what each one receives.
    assert not torch.allclose(attn(x[:, perm]), out[:, perm], atol=1e-3)


def test_agents_exchange_information_in_the_prior(rssm):
    """Changing one agent's input changes the other agents' next deterministic state (and only through attention)."""
    state = rssm.initial_state((1,), N, torch.device("cpu"))
    state.stoch = torch.rand(1, N, state.stoch.shape[-1])
    action = torch.zeros(1, N, A)
    base = rssm.transition(action, state, sample=False)
    action[0, 0, 1] = 1.0  # only agent 0 acts differently
    other = rssm.transition(action, state, sample=False)
    assert not torch.allclose(base.deter[0, 1:], other.deter[0, 1:])


def test_posterior_uses_the_observation_and_the_prior_does_not(rssm):
    state = rssm.initial_state((B,), N, torch.device("cpu"))
    action = torch.zeros(B, N, A)
    prior_a, post_a = rssm.filter_step(torch.randn(B, N, rssm.cfg.embed), action, state, sample=False)
    prior_b, post_b = rssm.filter_step(torch.randn(B, N, rssm.cfg.embed), action, state, sample=False)
    assert torch.equal(prior_a.logits, prior_b.logits)
    assert not torch.allclose(post_a.logits, post_b.logits)


def test_filter_resets_after_the_last_step_of_an_episode(rssm):
    torch.manual_seed(1)
    steps = 4
    embeds = torch.randn(steps, 1, N, rssm.cfg.embed)
    actions = torch.rand(steps, 1, N, A)
    last = torch.zeros(steps, 1, N, 1)
    last[1] = 1.0  # the observation at step 1 ends its episode
    priors, _ = rssm.observe_sequence(embeds, actions, last)
    fresh = rssm.transition(actions[2], rssm.initial_state((1,), N, torch.device("cpu")), sample=False)
    assert torch.allclose(priors.deter[2], fresh.deter, atol=1e-6)  # step 2 starts from the zero state
    no_reset, _ = rssm.observe_sequence(embeds, actions, torch.zeros_like(last))
    assert not torch.allclose(no_reset.deter[2], fresh.deter, atol=1e-3)
