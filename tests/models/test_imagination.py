"""Imagination: KV-cached vs recomputed rollouts, shapes, frame stack, clamping and chunking (spec §4)."""

from __future__ import annotations

import pytest
import torch

from marie.models.configs import ImaginationConfig, TokenizerConfig
from marie.models.imagination import ImaginationStart, imagine, make_start_states
from marie.models.tokenizers import build_tokenizer
from marie.models.world_model import WorldModel
from tests.models.helpers import small_wm_config, small_world_model

N, K, VOCAB, A, D = 3, 4, 16, 5, 6


class LinearPolicy:
    """Discrete test policy: masked logits from a fixed linear map, sampled with its own generator."""

    def __init__(self, feat_dim: int, seed: int = 0) -> None:
        self.weight = torch.randn(feat_dim, A, generator=torch.Generator().manual_seed(123))
        self.generator = torch.Generator().manual_seed(seed)
        self.calls: list[tuple[torch.Size, bool]] = []

    def __call__(self, feat: torch.Tensor, avail: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, None]:
        self.calls.append((feat.shape, avail is not None))
        logits = feat @ self.weight
        if avail is not None:
            logits = logits.masked_fill(~avail, -1e10)
        probs = torch.softmax(logits, dim=-1).reshape(-1, A)
        action = torch.multinomial(probs, 1, generator=self.generator).view(feat.shape[:-1])
        return action, logits, None


def sharpen(wm: WorldModel) -> WorldModel:
    """Larger weights than the N(0, 0.02) init, so that outputs depend visibly on every input and position."""
    with torch.no_grad():
        for param in wm.parameters():
            if param.dim() > 1:
                param.normal_(0.0, 0.3)
    return wm


def setup(horizon: int = 4) -> tuple[WorldModel, object, ImaginationStart]:
    wm = sharpen(small_world_model(num_agents=N, vocab=VOCAB, k=K, num_actions=A, max_blocks=horizon))
    tok = build_tokenizer(TokenizerConfig(num_tokens=K, embed_dim=8, codebook_size=VOCAB, hidden_dim=16), D)
    start = make_start_states(tok, torch.randn(5, N, D), avail=torch.rand(5, N, A) < 0.8)
    return wm, tok, start


def test_cached_and_recomputed_rollouts_agree() -> None:
    wm, tok, start = setup()
    cfg = ImaginationConfig(horizon=4, chunk_size=None)
    cached = imagine(wm, tok, LinearPolicy(D), start, cfg, generator=torch.Generator().manual_seed(7))
    full = imagine(wm, tok, LinearPolicy(D), start, cfg, use_kv_cache=False, generator=torch.Generator().manual_seed(7))
    assert torch.equal(cached.obs_tokens, full.obs_tokens)
    assert torch.equal(cached.actions, full.actions)
    assert torch.equal(cached.avail, full.avail)
    assert cached.rewards.std() > 0.1  # outputs are not near-constant, so the comparisons below have teeth
    assert (cached.rewards - full.rewards).abs().max() < 1e-4
    assert (cached.continuations - full.continuations).abs().max() < 1e-4
    assert (cached.feats - full.feats).abs().max() < 1e-4
    # The rollout moves: imagined tokens are not just the start tokens repeated.
    assert not torch.equal(cached.obs_tokens[1], cached.obs_tokens[0])


def test_rollout_shapes_and_semantics() -> None:
    wm, tok, start = setup()
    policy = LinearPolicy(D)
    out = imagine(wm, tok, policy, start, ImaginationConfig(horizon=4, chunk_size=None))
    h, s = 4, 5
    assert out.feats.shape == (h, s, N, D) and out.obs.shape == (h, s, N, D)
    assert out.obs_tokens.shape == (h, s, N, K) and torch.equal(out.obs_tokens[0], start.obs_tokens)
    assert out.actions.shape == (h, s, N) and out.actions.dtype == torch.long
    assert out.avail.shape == (h, s, N, A) and out.avail.dtype == torch.bool
    assert torch.equal(out.avail[0], start.avail)  # real mask at t = 0, sampled afterwards
    assert out.logits_or_logp.shape == (h, s, N, A)
    assert out.rewards.shape == (h, s, N) and out.continuations.shape == (h, s, N)
    assert out.continuations.min() > 0 and out.continuations.max() < 1  # soft discount, not sampled
    assert out.obs.abs().max() <= 1.0  # clamp_obs
    assert out.critic_feats is out.feats
    assert len(policy.calls) == h and policy.calls[0] == (torch.Size([s, N, D]), True)
    assert wm.training  # the caller's mode is restored


def test_frame_stack_history_is_unclamped_and_shifts() -> None:
    wm, tok, start = setup()
    history = torch.full((5, 2, N, D), 3.0)  # two history frames outside [-1, 1]
    history[:, 1] = -2.0
    stacked = ImaginationStart(start.obs_tokens, start.avail, history)
    out = imagine(wm, tok, LinearPolicy(3 * D), stacked, ImaginationConfig(horizon=3, chunk_size=None))
    assert out.feats.shape == (3, 5, N, 3 * D)
    assert torch.all(out.feats[0, ..., :D] == 3.0) and torch.all(out.feats[0, ..., D : 2 * D] == -2.0)
    assert torch.equal(out.feats[0, ..., 2 * D :], out.obs[0])
    assert torch.all(out.feats[1, ..., :D] == -2.0) and torch.equal(out.feats[1, ..., D : 2 * D], out.obs[0])
    assert torch.equal(out.feats[2, ..., :D], out.obs[0])


def test_make_start_states_zeroes_unfilled_history() -> None:
    _, tok, _ = setup()
    history_obs = torch.randn(5, 4, N, D)
    filled = torch.ones(5, 4, dtype=torch.bool)
    filled[:, :2] = False
    start = make_start_states(tok, torch.randn(5, N, D), None, history_obs, filled)
    assert start.history is not None and torch.all(start.history[:, :2] == 0)
    assert torch.allclose(start.history[:, 2:], tok.encode_decode(history_obs[:, 2:]))


def test_chunking_equals_sequential_calls() -> None:
    wm, tok, start = setup()
    chunked = imagine(
        wm,
        tok,
        LinearPolicy(D, seed=3),
        start,
        ImaginationConfig(horizon=4, chunk_size=2),
        generator=torch.Generator().manual_seed(11),
    )
    policy, gen = LinearPolicy(D, seed=3), torch.Generator().manual_seed(11)
    parts = [
        imagine(wm, tok, policy, start.slice(b, b + 2), ImaginationConfig(horizon=4, chunk_size=None), generator=gen)
        for b in (0, 2, 4)
    ]
    assert chunked.rewards.shape == (4, 5, N)
    assert torch.equal(chunked.obs_tokens, torch.cat([p.obs_tokens for p in parts], dim=1))
    assert torch.allclose(chunked.rewards, torch.cat([p.rewards for p in parts], dim=1))


def test_continuous_policy_and_no_avail() -> None:
    cfg = small_wm_config(predict_avail=False, max_blocks=3)
    wm = WorldModel(cfg, num_agents=2, obs_vocab_size=VOCAB, tokens_per_obs=K, num_actions=3, continuous_actions=True)
    tok = build_tokenizer(TokenizerConfig(num_tokens=K, embed_dim=8, codebook_size=VOCAB, hidden_dim=16), D)

    def gaussian_policy(feat: torch.Tensor, avail: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, dict]:
        assert avail is None
        mean = feat[..., :3]
        action = mean + torch.randn_like(mean)
        logp = torch.distributions.Normal(mean, 1.0).log_prob(action)
        return action, logp, {"mean": mean}

    start = make_start_states(tok, torch.randn(4, 2, D))
    out = imagine(wm, tok, gaussian_policy, start, ImaginationConfig(horizon=3, clamp_obs=False, chunk_size=3))
    assert out.actions.shape == (3, 4, 2, 3) and out.logits_or_logp.shape == (3, 4, 2, 3)
    assert out.avail is None and out.extras["mean"].shape == (3, 4, 2, 3)


def test_horizon_longer_than_context_is_an_error() -> None:
    wm, tok, start = setup(horizon=4)
    with pytest.raises(ValueError, match="horizon 5"):
        imagine(wm, tok, LinearPolicy(D), start, ImaginationConfig(horizon=5))


def test_imagined_predictions_equal_a_teacher_forced_forward() -> None:
    """Re-running the imagined sequence [obs tokens | action | aggregated] through the training-style forward
    gives the same rewards and continuations: the cached passes feed every token at the right position."""
    wm, tok, start = setup()
    out = imagine(wm, tok, LinearPolicy(D), start, ImaginationConfig(horizon=4, chunk_size=None))
    wm.eval()
    with torch.no_grad():
        obs_tokens = out.obs_tokens.transpose(0, 1)  # (S, H, N, K)
        x = wm.embed_blocks(obs_tokens, wm.action_tokens(out.actions.transpose(0, 1)))
        h = wm.forward_embeddings(x).view(5 * N, 4, wm.tokens_per_block, -1)[:, :, -1]  # (S*N, H, W)
        rewards = wm.predict_reward(h).view(5, N, 4).permute(2, 0, 1)
        conts = wm.continuation_prob(h).view(5, N, 4).permute(2, 0, 1)
    assert (rewards - out.rewards).abs().max() < 1e-4
    assert (conts - out.continuations).abs().max() < 1e-4


def test_token_sampler_draws_with_the_given_probabilities() -> None:
    from marie.models.imagination import _sample

    probs = torch.tensor([0.1, 0.0, 0.6, 0.3]).expand(200_000, 4).contiguous()
    counts = torch.bincount(_sample(probs, torch.Generator().manual_seed(0)), minlength=4).double() / 200_000
    assert counts[1] == 0
    assert (counts - probs[0]).abs().max() < 5 * (0.25 / 200_000) ** 0.5
    unnormalised = _sample(probs * 3.0, torch.Generator().manual_seed(0))  # rows need not sum to 1
    assert torch.equal(unnormalised, _sample(probs, torch.Generator().manual_seed(0)))


def test_token_sampler_never_draws_past_the_last_token_with_probability(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uniform draw at its upper bound (some generators include it) still lands on a token with probability."""
    from marie.models.imagination import _sample

    monkeypatch.setattr(torch, "rand", lambda shape, **kw: torch.ones(shape, dtype=kw.get("dtype")))
    probs = torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0]])
    assert _sample(probs, None).tolist() == [1, 3, 2]
