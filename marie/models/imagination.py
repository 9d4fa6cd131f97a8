"""Autoregressive imagination in the world model (spec §4).

From S real start states (all N agents of one step), roll H steps: the policy acts on decoded observations, the
Perceiver aggregates the agents' (obs, action) tokens, the transformer reads reward, continuation and next avail
mask at the aggregated token and samples the next observation's K tokens one by one. All starts and agents are
batched (row = start * N + agent); only the K sequential token passes per step are a Python loop.

Cache bookkeeping: the original feeds the last sampled obs token alone (pass K) and then [action, aggregated] at
the next step's pass 0. With causal attention the keys and values of that token do not depend on what follows, so
here it is fed together with the next [action, aggregated] tokens: K passes per step instead of K+1, with the
same cache contents (K + 2 + (H-1)(K+n_act+1) tokens at the end, 270 on SMAC) and the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from marie.models.configs import ImaginationConfig
from marie.models.tokenizers.base import Tokenizer
from marie.models.world_model import WorldModel

# policy(feat (S,N,F), avail (S,N,A) bool | None) -> (action, logits_or_logp, extra):
#   discrete: action long (S,N), masked logits (S,N,A); continuous: action float (S,N,A_dim), log-probs (S,N,A_dim).
Policy = Callable[[torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor, Any]]


@dataclass
class ImaginationStart:
    """obs_tokens (S,N,K) long; avail (S,N,A) bool, the real mask at the start step, or None;
    history (S, n_hist, N, d) reconstructed frames before the start, oldest first (unclamped, zeros where padded),
    or None without frame stacking."""

    obs_tokens: torch.Tensor
    avail: torch.Tensor | None = None
    history: torch.Tensor | None = None

    def slice(self, begin: int, end: int) -> ImaginationStart:
        return ImaginationStart(
            self.obs_tokens[begin:end],
            None if self.avail is None else self.avail[begin:end],
            None if self.history is None else self.history[begin:end],
        )


@torch.no_grad()
def make_start_states(
    tokenizer: Tokenizer,
    obs: torch.Tensor,
    avail: torch.Tensor | None = None,
    history_obs: torch.Tensor | None = None,
    history_filled: torch.Tensor | None = None,
) -> ImaginationStart:
    """Tokenise the start observations (S,N,d) and reconstruct the stack history (S,n_hist,N,d) with the current
    tokenizer; steps before the episode start (``history_filled`` (S,n_hist) False) stay raw zeros (spec §4.1)."""
    history = None
    if history_obs is not None:
        history = tokenizer.encode_decode(history_obs)
        if history_filled is not None:
            history = history * history_filled.to(history.dtype)[:, :, None, None]
    return ImaginationStart(tokenizer.encode(obs), avail, history)


@dataclass
class ImaginedRollout:
    """Time-major (H, S, N, ...) tensors of one imagination."""

    feats: torch.Tensor  # policy features incl. the frame stack (H,S,N,F); the critic gets the same features
    obs: torch.Tensor  # decoded current frame (H,S,N,d), clamped where clamp_obs
    obs_tokens: torch.Tensor  # (H,S,N,K) tokens the frame was decoded from
    actions: torch.Tensor  # (H,S,N) long or (H,S,N,A_dim) raw continuous sample
    avail: torch.Tensor | None  # (H,S,N,A) bool mask the policy acted under (real at t=0, sampled after)
    logits_or_logp: torch.Tensor  # old policy: masked logits (H,S,N,A) or per-dimension log-probs (H,S,N,A_dim)
    rewards: torch.Tensor  # (H,S,N) predicted r_t
    continuations: torch.Tensor  # (H,S,N) sigmoid of the termination logit: a soft discount, not sampled
    extras: Any = None  # the policy's third outputs stacked over time (tensor or dict of tensors), else a list

    @property
    def critic_feats(self) -> torch.Tensor:
        return self.feats


class _CachedFeeder:
    """Feeds new token embeddings through the transformer with a KV cache; returns the last output (R, W)."""

    def __init__(self, wm: WorldModel, rows: int) -> None:
        self.wm, self.cache = wm, wm.new_kv_cache(rows)

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        return self.wm.forward_embeddings(emb, kv_cache=self.cache)[:, -1]


class _RecomputeFeeder:
    """Reference path: recomputes the whole sequence for every new token (no cache)."""

    def __init__(self, wm: WorldModel, rows: int) -> None:
        self.wm, self.prefix = wm, None

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        self.prefix = emb if self.prefix is None else torch.cat([self.prefix, emb], dim=1)
        return self.wm.forward_embeddings(self.prefix)[:, -1]


@contextmanager
def _eval_mode(*modules: Any) -> Iterator[None]:
    """Dropout off during imagination; the previous train/eval flags are restored afterwards."""
    mods = [m for m in modules if isinstance(m, nn.Module)]
    flags = [m.training for m in mods]
    try:
        for m in mods:
            m.eval()
        yield
    finally:
        for m, flag in zip(mods, flags):
            m.train(flag)


def _sample(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of ``probs`` (R, V), drawn with those probabilities: inverse CDF, one uniform per row.

    Same distribution as ``torch.multinomial(probs, 1)``, which on CPU draws an exponential for every entry (12-18x
    slower at these sizes); a different random stream. The uniform is kept below the row's total, so that a draw at
    the generator's upper bound cannot land past the last token with non-zero probability."""
    cdf = probs.cumsum(dim=-1)
    total = cdf[:, -1:]
    draw = torch.rand(total.shape, generator=generator, device=probs.device, dtype=cdf.dtype) * total
    draw = torch.minimum(draw, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, draw, right=True).squeeze(-1)


def _stack(items: list[Any]) -> Any:
    first = items[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        return torch.stack(items)
    if isinstance(first, dict) and all(isinstance(v, torch.Tensor) for v in first.values()):
        return {key: torch.stack([item[key] for item in items]) for key in first}
    return items


def _concat(parts: list[Any]) -> Any:
    """Join chunk results along the start axis (dim 1 of time-major tensors)."""
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, torch.Tensor):
        return torch.cat(parts, dim=1)
    if isinstance(first, dict):
        return {key: torch.cat([p[key] for p in parts], dim=1) for key in first}
    return [item for part in parts for item in part]


@torch.no_grad()
def imagine(
    world_model: WorldModel,
    tokenizer: Tokenizer,
    policy: Policy,
    start: ImaginationStart,
    cfg: ImaginationConfig,
    *,
    use_kv_cache: bool = True,
    generator: torch.Generator | None = None,
) -> ImaginedRollout:
    """Imagine ``cfg.horizon`` steps from every start, in chunks of ``cfg.chunk_size`` starts (bounded memory).

    ``use_kv_cache=False`` is the uncached reference (full recomputation for every token). ``generator`` drives the
    world model's sampling (obs tokens, avail masks); the policy samples with its own randomness.
    """
    if cfg.horizon < 1 or cfg.horizon > world_model.cfg.max_blocks:
        raise ValueError(f"imagination horizon {cfg.horizon} must be in 1..max_blocks={world_model.cfg.max_blocks}")
    if cfg.chunk_size is not None and cfg.chunk_size < 1:
        raise ValueError(f"chunk_size must be positive or None, got {cfg.chunk_size}")
    num_starts = start.obs_tokens.shape[0]
    chunk = num_starts if cfg.chunk_size is None else cfg.chunk_size
    with _eval_mode(world_model, tokenizer):
        chunks = [
            _imagine_chunk(world_model, tokenizer, policy, start.slice(b, b + chunk), cfg, use_kv_cache, generator)
            for b in range(0, num_starts, chunk)
        ]
    if len(chunks) == 1:
        return chunks[0]
    return ImaginedRollout(**{f.name: _concat([getattr(c, f.name) for c in chunks]) for f in fields(ImaginedRollout)})


def _imagine_chunk(
    wm: WorldModel,
    tokenizer: Tokenizer,
    policy: Policy,
    start: ImaginationStart,
    cfg: ImaginationConfig,
    use_kv_cache: bool,
    generator: torch.Generator | None,
) -> ImaginedRollout:
    tokens = start.obs_tokens  # (S,N,K)
    num_starts, agents, k = tokens.shape
    if agents != wm.num_agents or k != wm.tokens_per_obs:
        raise ValueError(f"start tokens {tuple(tokens.shape)} do not match N={wm.num_agents}, K={wm.tokens_per_obs}")
    rows, dim = num_starts * agents, wm.cfg.embed_dim
    avail = start.avail
    if avail is None and wm.predict_avail:  # no real mask given: every action available at the start
        avail = torch.ones(num_starts, agents, wm.num_actions, dtype=torch.bool, device=tokens.device)
    history = [] if start.history is None else list(start.history.unbind(1))  # frames (S,N,d), oldest first
    feed = (_CachedFeeder if use_kv_cache else _RecomputeFeeder)(wm, rows)
    dtype = wm.pos_embedding.weight.dtype  # the parameters' (casting to it is a no-op without autocast)
    with wm.autocast():
        feed(wm.obs_embedding(tokens).view(rows, k, dim))  # the start observation at positions 0..K-1

    out: dict[str, list[Any]] = {f.name: [] for f in fields(ImaginedRollout)}
    for t in range(cfg.horizon):
        obs = tokenizer.decode(tokens)
        if cfg.clamp_obs:
            obs = obs.clamp(-1.0, 1.0)
        feat = torch.cat(history + [obs], dim=-1) if history else obs
        if history:  # keep the stack length: drop the oldest frame, the newest becomes history
            history = history[1:] + [obs]
        action, logits_or_logp, extra = policy(feat, avail)

        with wm.autocast():
            obs_emb = wm.obs_embedding(tokens)  # (S,N,K,W)
            act_emb = wm.action_embedding(wm.action_tokens(action))  # (S,N,n_act,W)
            agg = wm.aggregate(obs_emb, act_emb).unsqueeze(2)
            new = [act_emb, agg] if t == 0 else [obs_emb[:, :, k - 1 :], act_emb, agg]  # pending last obs token first
            h = feed(torch.cat(new, dim=2).view(rows, -1, dim))  # output at the aggregated token (R, W)
        h = h.to(dtype)  # the heads run outside autocast: predictions and sampling probabilities in full precision
        reward, cont = wm.predict_reward(h), wm.continuation_prob(h)

        out["feats"].append(feat)
        out["obs"].append(obs)
        out["obs_tokens"].append(tokens)
        out["actions"].append(action)
        out["avail"].append(avail)
        out["logits_or_logp"].append(logits_or_logp)
        out["rewards"].append(reward.view(num_starts, agents))
        out["continuations"].append(cont.view(num_starts, agents))
        out["extras"].append(extra)
        if t == cfg.horizon - 1:
            break

        if wm.predict_avail:
            prob = wm.avail_prob(h)
            draw = torch.rand(prob.shape, generator=generator, device=prob.device)
            avail = (draw < prob).view(num_starts, agents, -1)
        next_tokens = torch.empty(rows, k, dtype=torch.long, device=tokens.device)
        token = _sample(torch.softmax(wm.obs_head(h), dim=-1), generator)
        next_tokens[:, 0] = token
        for j in range(1, k):
            with wm.autocast():
                h_tok = feed(wm.obs_embedding(token).unsqueeze(1))
            token = _sample(torch.softmax(wm.obs_head(h_tok.to(dtype)), dim=-1), generator)
            next_tokens[:, j] = token
        tokens = next_tokens.view(num_starts, agents, k)

    return ImaginedRollout(**{name: _stack(items) for name, items in out.items()})
