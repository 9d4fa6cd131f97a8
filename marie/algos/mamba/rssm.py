"""MAMBA's per-agent RSSM (spec §11.1; MAMBA ``networks/dreamer/rnns.py``, ``vae.py``).

State per agent: a discrete stochastic part z (``n_categoricals`` one-hots of ``n_classes``, sampled with
straight-through gradients) and a deterministic GRU state h. One step, for all agents at once:

    prior:     x_i = ReLU(Lin([a_i, z_i]))  ->  x = CrossAgentTransformer(x + agent-index code)  ->  h_i' = GRU(x_i,h_i)
               ->  z_i' ~ Cat(MLP(h_i'))
    posterior: z_i' ~ Cat(MLP([h_i', embed(o_i')]))   (h_i' shared with the prior)

The transformer across agents (post-norm, ``attention_layers`` layers) is where the agents exchange information.
All tensors keep the agent axis second to last: (..., N, F).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import torch
from torch import Tensor, nn

from marie.algos.mamba.config import RSSMConfig
from marie.models.perceiver import sinusoid_table  # the standard sin/cos table MAMBA's PositionalEncoding builds


@dataclass
class RSSMState:
    """logits/stoch (..., N, n_categoricals * n_classes), deter (..., N, deter)."""

    logits: Tensor
    stoch: Tensor
    deter: Tensor

    def features(self) -> Tensor:
        """[z, h]: what the decoder, the avail head, the actor and the critic see."""
        return torch.cat([self.stoch, self.deter], dim=-1)

    def map(self, fn: Callable[[Tensor], Tensor]) -> "RSSMState":
        return RSSMState(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    @staticmethod
    def stack(states: list["RSSMState"], dim: int = 0) -> "RSSMState":
        return RSSMState(**{f.name: torch.stack([getattr(s, f.name) for s in states], dim) for f in fields(RSSMState)})


def sample_one_hot(logits: Tensor, sample: bool, generator: torch.Generator | None = None) -> Tensor:
    """One-hot per categorical (..., C, K): a Gumbel-max sample (or the mode) plus the straight-through gradient
    ``probs - sg(probs)``, as MAMBA's ``DiscreteLatentDist``."""
    probs = torch.softmax(logits, dim=-1)
    if sample:
        uniform = torch.rand(logits.shape, generator=generator).to(logits.device).clamp_(1e-20, 1.0)
        index = torch.argmax(logits.detach() - torch.log(-torch.log(uniform)), dim=-1)
    else:
        index = torch.argmax(logits.detach(), dim=-1)
    one_hot = nn.functional.one_hot(index, logits.shape[-1]).to(probs.dtype)
    return one_hot + probs - probs.detach()


class DiscreteLatent(nn.Module):
    """MLP in -> hidden -> C*K logits, then a one-hot sample per categorical (flattened to C*K)."""

    def __init__(self, in_dim: int, hidden: int, n_categoricals: int, n_classes: int):
        super().__init__()
        self.shape = (n_categoricals, n_classes)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_categoricals * n_classes))

    def forward(
        self, x: Tensor, sample: bool = True, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        logits = self.net(x)
        grouped = logits.reshape(*logits.shape[:-1], *self.shape)
        stoch = sample_one_hot(grouped, sample, generator).reshape(logits.shape)
        return logits, stoch


class ObservationEncoder(nn.Module):
    """d -> hidden -> hidden -> hidden -> embed, ReLU between (MAMBA ``Encoder``)."""

    def __init__(self, obs_dim: int, hidden: int, embed: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, embed),
        )  # fmt: skip

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs)


class CrossAgentAttention(nn.Module):
    """Sinusoid agent-index code + a post-norm transformer encoder over the agent axis (MAMBA ``AttentionEncoder``).

    Without the index code the stack is permutation-equivariant over agents; ``positions`` lets a caller (and the
    tests) pass the code rows explicitly, e.g. permuted together with the agents."""

    def __init__(self, dim: int, layers: int, heads: int, dropout: float, max_agents: int):
        super().__init__()
        self.register_buffer("agent_pos", sinusoid_table(max_agents, dim), persistent=False)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: Tensor, positions: Tensor | None = None) -> Tensor:
        lead, (n_agents, dim) = x.shape[:-2], x.shape[-2:]
        pos = self.agent_pos[:n_agents] if positions is None else positions
        out = self.encoder((x + pos).reshape(-1, n_agents, dim))
        return out.reshape(*lead, n_agents, dim)


class RSSM(nn.Module):
    """Prior transition (with the cross-agent transformer) and posterior of MAMBA's world model."""

    def __init__(self, cfg: RSSMConfig, action_dim: int):
        super().__init__()
        self.cfg = cfg
        self.stoch_dim = cfg.n_categoricals * cfg.n_classes
        self.feat_dim = self.stoch_dim + cfg.deter
        self.action_in = nn.Sequential(nn.Linear(action_dim + self.stoch_dim, cfg.model_hidden), nn.ReLU())
        self.attention = CrossAgentAttention(
            cfg.model_hidden, cfg.attention_layers, cfg.attention_heads, cfg.attention_dropout, cfg.max_agents
        )
        self.cell = nn.GRUCell(cfg.model_hidden, cfg.deter)
        self.prior = DiscreteLatent(cfg.deter, cfg.model_hidden, cfg.n_categoricals, cfg.n_classes)
        self.posterior = DiscreteLatent(cfg.deter + cfg.embed, cfg.hidden, cfg.n_categoricals, cfg.n_classes)

    def initial_state(self, lead: tuple[int, ...], n_agents: int, device: torch.device) -> RSSMState:
        zeros = lambda d: torch.zeros(*lead, n_agents, d, device=device)  # noqa: E731
        return RSSMState(logits=zeros(self.stoch_dim), stoch=zeros(self.stoch_dim), deter=zeros(self.cfg.deter))

    def transition(
        self, prev_action: Tensor, state: RSSMState, sample: bool = True, generator: torch.Generator | None = None
    ) -> RSSMState:
        """Prior of the next step from (previous action vector, state) of every agent: (..., N, ·)."""
        x = self.action_in(torch.cat([prev_action, state.stoch], dim=-1))
        x = self.attention(x)
        lead = x.shape[:-1]
        deter = self.cell(x.reshape(-1, x.shape[-1]), state.deter.reshape(-1, state.deter.shape[-1]))
        deter = deter.reshape(*lead, -1)
        logits, stoch = self.prior(deter, sample, generator)
        return RSSMState(logits=logits, stoch=stoch, deter=deter)

    def observe(
        self, embed: Tensor, prior: RSSMState, sample: bool = True, generator: torch.Generator | None = None
    ) -> RSSMState:
        """Posterior given the prior's deterministic state and the observation embedding."""
        logits, stoch = self.posterior(torch.cat([prior.deter, embed], dim=-1), sample, generator)
        return RSSMState(logits=logits, stoch=stoch, deter=prior.deter)

    def filter_step(
        self, embed: Tensor, prev_action: Tensor, state: RSSMState, sample: bool = True,
        generator: torch.Generator | None = None,
    ) -> tuple[RSSMState, RSSMState]:  # fmt: skip
        """One step of the filter: (prior, posterior) after ``prev_action`` given the new observation's embedding."""
        prior = self.transition(prev_action, state, sample, generator)
        return prior, self.observe(embed, prior, sample, generator)

    def observe_sequence(
        self, embeds: Tensor, actions: Tensor, last: Tensor, generator: torch.Generator | None = None
    ) -> tuple[RSSMState, RSSMState]:
        """Filter a time-major window (MAMBA ``rollout_representation``).

        embeds (T,B,N,E) of o_1..o_T; actions (T,B,N,A) the action taken before each of them; last (T,B,N,1) 1 where
        that observation ends its episode: the state is zeroed after it. Starts from the zero state. Returns the
        stacked priors and posteriors (T,B,N,·)."""
        state = self.initial_state(embeds.shape[1:2], embeds.shape[2], embeds.device)
        priors, posts = [], []
        for t in range(embeds.shape[0]):
            prior, post = self.filter_step(embeds[t], actions[t], state, True, generator)
            priors.append(prior)
            posts.append(post)
            keep = 1.0 - last[t]
            state = post.map(lambda x: x * keep)
        return RSSMState.stack(priors), RSSMState.stack(posts)
