"""Tokenizers: VQ EMA semantics (spec §2.2), FSQ indexing (§2.3), symlog bins (§2.4), round trips and sizes."""

from __future__ import annotations

import math

import pytest
import torch

from marie.models.configs import TokenizerConfig
from marie.models.tokenizers.fsq import FiniteScalarQuantizer
from marie.models.optim import make_tokenizer_optimizer
from marie.models.tokenizers import build_tokenizer
from marie.models.tokenizers.vq import EMACodebook, VQTokenizer


def small_vq(**overrides: object) -> VQTokenizer:
    cfg = TokenizerConfig(num_tokens=4, embed_dim=8, codebook_size=16, hidden_dim=32, **overrides)  # type: ignore[arg-type]
    tok = build_tokenizer(cfg, obs_dim=6)
    assert isinstance(tok, VQTokenizer)
    return tok


def test_vq_initial_state_matches_library_defaults() -> None:
    book = EMACodebook(512, 128, decay=0.8, eps=1e-5)
    bound = math.sqrt(6 / (512 * 128))
    assert torch.all(book.cluster_size == 0)
    assert torch.equal(book.embed_avg, book.embed)
    assert book.embed.abs().max() <= bound
    assert book.embed.abs().max() > 0.95 * bound  # uniform over the whole range, not a smaller init


def test_vq_ema_step_matches_hand_computation() -> None:
    decay, eps = 0.8, 1e-5
    book = EMACodebook(4, 2, decay=decay, eps=eps)
    init = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, -1.0], [5.0, 5.0]])
    book.embed.copy_(init)
    book.embed_avg.copy_(init)
    z = torch.tensor([[0.1, 0.0], [0.9, 1.1], [1.1, 0.9]])
    idx = book.nearest(z)
    assert idx.tolist() == [0, 1, 1]
    book.ema_update(z, idx)
    # By hand: N = 0.2 * [1, 2, 0, 0]; m = 0.8 * init + 0.2 * (sum of assigned vectors)
    counts = torch.tensor([0.2, 0.4, 0.0, 0.0])
    sums = torch.tensor([[0.02, 0.0], [1.2, 1.2], [-0.8, -0.8], [4.0, 4.0]])
    total = 0.6
    smoothed = (counts + eps) / (total + 4 * eps) * total
    assert torch.allclose(book.cluster_size, counts)
    assert torch.allclose(book.embed_avg, sums)
    assert torch.allclose(book.embed, sums / smoothed[:, None], rtol=1e-5)
    assert book.embed[0].tolist() == pytest.approx([0.1, 0.0], abs=1e-4)
    assert book.embed[1].tolist() == pytest.approx([3.0, 3.0], rel=1e-4)  # embed_avg starts at the init, N at 0


def test_unused_code_is_parked_and_shrinks_by_decay() -> None:
    decay = 0.8
    book = EMACodebook(4, 2, decay=decay, eps=1e-5)
    init = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-0.01, -0.01], [0.02, 0.02]])
    book.embed.copy_(init)
    book.embed_avg.copy_(init)
    z = torch.tensor([[0.1, 0.0], [0.9, 1.1], [1.1, 0.9]])
    book.ema_update(z, book.nearest(z))
    parked = book.embed[2].norm()
    assert parked > 1e2 * z.norm(dim=1).max()  # ~0.8 * 0.014 / 1e-5: far from the data
    previous = parked
    for _ in range(5):
        book.ema_update(z, book.nearest(z))
        current = book.embed[2].norm()
        assert current / previous == pytest.approx(decay, rel=1e-3)
        previous = current


def test_vq_commitment_uses_code_before_update_and_updates_only_in_train_mode() -> None:
    tok = small_vq()
    obs = torch.randn(32, 6)
    before = tok.codebook.embed.clone()
    with torch.no_grad():
        z = tok._latents(obs)
        idx = tok.codebook.nearest(z.reshape(-1, 8))
        expected_commit = ((z - before[idx].view_as(z)) ** 2).mean()
    tok.eval()
    tok.compute_loss(obs)
    assert torch.equal(tok.codebook.embed, before)  # eval: no EMA
    tok.train()
    tok.encode(obs)
    assert torch.equal(tok.codebook.embed, before)  # encode never updates
    out = tok.compute_loss(obs)
    assert not torch.equal(tok.codebook.embed, before)  # train-mode loss: EMA step inside the forward
    assert float(out.parts["commitment"]) == pytest.approx(float(expected_commit), rel=1e-5)
    assert set(out.parts) == {"reconstruction", "commitment", "code_usage_pct", "total"}
    assert 0 < float(out.parts["code_usage_pct"]) <= 100


def test_vq_straight_through_reaches_encoder() -> None:
    tok = small_vq(alpha=0.0)
    tok.compute_loss(torch.randn(16, 6)).loss.backward()
    assert tok.encoder[0].weight.grad is not None and tok.encoder[0].weight.grad.abs().sum() > 0
    assert not tok.codebook.embed.requires_grad


@pytest.mark.parametrize("kind", ["vq", "fsq"])
def test_tokenizer_overfits_tiny_batch(kind: str) -> None:
    cfg = TokenizerConfig(
        kind=kind,
        num_tokens=4,
        embed_dim=8,
        codebook_size=64,
        hidden_dim=64,
        fsq_hidden_dim=64,
        fsq_levels=[5, 5],
        lr=1e-3,
        weight_decay=0.0,
    )
    tok = build_tokenizer(cfg, obs_dim=6)
    opt = make_tokenizer_optimizer(tok, cfg)
    obs = torch.rand(32, 6) * 2 - 1

    def error() -> float:
        tok.eval()
        with torch.no_grad():
            return float((tok.encode_decode(obs) - obs).abs().mean())

    start = error()
    tok.train()
    for _ in range(300):
        out = tok.compute_loss(obs)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    end = error()
    assert end < 0.7 * start  # seeds 0-7 reach 0.27-0.63 after 200 updates; no learning stays at ~1
    tokens = tok.encode(obs)
    assert tokens.shape == (32, 4) and tokens.dtype == torch.long
    assert int(tokens.min()) >= 0 and int(tokens.max()) < tok.vocab_size


def test_fsq_mixed_radix_round_trip_and_levels() -> None:
    q = FiniteScalarQuantizer([8, 6, 5])
    assert q.codebook_size == 240
    indices = torch.arange(240)
    codes = q.indices_to_codes(indices)
    assert torch.equal(q.codes_to_indices(codes), indices)
    assert codes.min() >= -1 and codes.max() <= 1
    # Quantised encoder outputs land on exactly L distinct values per channel.
    z = torch.randn(20000, 3) * 3
    quantised = q.quantize(z)
    for channel, levels in enumerate([8, 6, 5]):
        assert quantised[:, channel].unique().numel() == levels
    assert torch.equal(q.indices_to_codes(q.codes_to_indices(quantised)), quantised)
    # Mixed radix with basis (1, L1, L1*L2): the first channel is the fastest digit.
    assert q.basis.tolist() == [1, 8, 48]


def test_fsq_levels_are_one_setting_and_checked_on_load() -> None:
    trained = build_tokenizer(TokenizerConfig(kind="fsq", fsq_levels=[8, 8, 8], fsq_hidden_dim=16), obs_dim=5)
    assert trained.vocab_size == 512
    acting = build_tokenizer(TokenizerConfig(kind="fsq", fsq_levels=[8, 6, 5], fsq_hidden_dim=16), obs_dim=5)
    with pytest.raises(ValueError, match="FSQ levels"):
        acting.load_state_dict(trained.state_dict())
    same = build_tokenizer(TokenizerConfig(kind="fsq", fsq_levels=[8, 8, 8], fsq_hidden_dim=16), obs_dim=5)
    same.load_state_dict(trained.state_dict())


def test_bins_round_trip_and_out_of_range_clamp() -> None:
    tok = build_tokenizer(TokenizerConfig(kind="bins"), obs_dim=5)
    assert tok.tokens_per_obs == 5 and tok.vocab_size == 256 and not tok.trainable
    x = torch.linspace(-15, 15, 500).view(100, 5)  # symlog(15) = 2.77 < 3: all inside the bins
    tokens = tok.encode(x)
    half_bin = 6 / 256 / 2
    err = torch.sign(tok.decode(tokens)) * torch.log1p(tok.decode(tokens).abs()) - torch.sign(x) * torch.log1p(x.abs())
    assert err.abs().max() <= half_bin + 1e-5
    far = torch.tensor([[-1e6, -30.0, 0.0, 30.0, 1e6]])
    far_tokens = tok.encode(far)
    assert far_tokens[0, 0] == 0 and far_tokens[0, -1] == 255 and far_tokens[0, 1] == 0 and far_tokens[0, 3] == 255
    with pytest.raises(ValueError, match="no parameters"):
        make_tokenizer_optimizer(tok, TokenizerConfig(kind="bins"))


def test_bad_tokenizer_kind_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="'vqvae' is not one of vq, fsq, bins"):
        TokenizerConfig(kind="vqvae")


def test_vq_parameter_count_smax_3m() -> None:
    tok = build_tokenizer(TokenizerConfig(), obs_dim=75)
    count = sum(p.numel() for p in tok.parameters())
    assert count == pytest.approx(1.22e6, rel=0.02)  # spec §10.5: 513*d + 1.18M
    assert tok.tokens_per_obs == 16 and tok.vocab_size == 512
    assert build_tokenizer(TokenizerConfig(embed_dim=64), obs_dim=19).codebook.embed.shape == (512, 64)


def test_nearest_code_is_argmin_of_the_distances_and_takes_the_first_of_ties():
    book = EMACodebook(codebook_size=4, dim=2, decay=0.8, eps=1e-5)
    book.embed.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))  # codes 2, 3 repeat 0, 1
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 2.0]])
    assert book.nearest(z).tolist() == [0, 1, 0, 1]  # [0.5, 0.5] is equally far from all four codes
    generator = torch.Generator().manual_seed(0)
    book = EMACodebook(codebook_size=64, dim=3, decay=0.8, eps=1e-5)
    book.embed.copy_(torch.randint(-2, 3, (64, 3), generator=generator).float())  # many equal distances
    z = torch.randint(-2, 3, (500, 3), generator=generator).float()
    dist = (z.pow(2).sum(-1, keepdim=True) - 2.0 * z @ book.embed.t()) + book.embed.pow(2).sum(-1)
    assert torch.equal(book.nearest(z), dist.argmin(dim=-1))
