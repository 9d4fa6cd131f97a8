"""Perceiver that aggregates all agents' (obs, action) tokens of one step into one token per agent (spec §3.2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from marie.models.dropout import Dropout, attention


def sinusoid_table(num_positions: int, dim: int) -> torch.Tensor:
    """Standard Transformer table: sin on even dims, cos on odd dims, wavelength base 10000."""
    position = torch.arange(num_positions, dtype=torch.float64).unsqueeze(1)
    exponent = 2 * (torch.arange(dim) // 2).to(torch.float64) / dim
    angles = position / torch.pow(10000.0, exponent)
    table = torch.where(torch.arange(dim) % 2 == 0, torch.sin(angles), torch.cos(angles))
    return table.float()


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module, context_dim: int | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(context_dim) if context_dim is not None else None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_context is None:
            return self.fn(self.norm(x))
        return self.fn(self.norm(x), self.norm_context(context))


class GEGLUFeedForward(nn.Module):
    """dim -> 2*mult*dim, split into (a, gate), a * GELU(gate) -> dim, dropout at the end."""

    def __init__(self, dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.proj_in = nn.Linear(dim, dim * mult * 2)
        self.proj_out = nn.Linear(dim * mult, dim)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.proj_in(x).chunk(2, dim=-1)
        return self.dropout(self.proj_out(a * F.gelu(gate)))


class Attention(nn.Module):
    """Multi-head attention with biased q, kv and out projections; self-attention when no context is given."""

    def __init__(self, dim: int, heads: int, dim_head: int, dropout: float) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head, self.dropout = heads, dim_head, dropout
        self.to_q = nn.Linear(dim, inner)
        self.to_kv = nn.Linear(dim, 2 * inner)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        batch, n_q, _ = x.shape
        q = self.to_q(x).view(batch, n_q, self.heads, self.dim_head).transpose(1, 2)
        k, v = self.to_kv(context).view(batch, -1, 2, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        dropout_p = self.dropout if self.training else 0.0
        out = attention(q, k, v, dropout_p=dropout_p, scale=1.0 / math.sqrt(self.dim_head))
        return self.to_out(out.transpose(1, 2).reshape(batch, n_q, self.heads * self.dim_head))


class Perceiver(nn.Module):
    """N learned latents (std-``init_scale`` init) cross-attend to all agents' tokens, then ``depth`` latent
    self-attention blocks.

    Input (G, N, M, dim): M tokens per agent; agent i's tokens all get row i of a fixed sinusoid table (times
    ``init_scale``), and nothing marks a token's slot inside its agent's set. Output (G, N, dim): latent i becomes
    agent i's aggregated token.
    """

    def __init__(
        self,
        num_latents: int,
        dim: int,
        depth: int,
        heads: int,
        dim_head: int,
        ff_mult: int,
        dropout: float,
        max_agents: int,
        init_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if num_latents > max_agents:
            raise ValueError(f"{num_latents} agents exceed the agent-ID table of {max_agents} rows (max_agents)")
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * init_scale)
        self.register_buffer("agent_ids", sinusoid_table(max_agents, dim) * init_scale, persistent=False)
        self.cross_attn = PreNorm(dim, Attention(dim, heads, dim_head, dropout), context_dim=dim)
        self.cross_ff = PreNorm(dim, GEGLUFeedForward(dim, ff_mult, dropout))
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(dim, Attention(dim, heads, dim_head, dropout)),
                    PreNorm(dim, GEGLUFeedForward(dim, ff_mult, dropout)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        groups, num_agents, per_agent, dim = tokens.shape
        if num_agents != self.latents.shape[0]:
            raise ValueError(f"Perceiver built for {self.latents.shape[0]} agents got {num_agents}")
        return self.forward_context((tokens + self.agent_ids[:num_agents, None]).reshape(groups, -1, dim))

    def forward_context(self, context: torch.Tensor) -> torch.Tensor:
        """Latents attend to a flat context (G, L, dim) whose tokens already carry their agent-ID vectors."""
        x = self.latents.unsqueeze(0).expand(context.shape[0], -1, -1)
        x = x + self.cross_attn(x, context)
        x = x + self.cross_ff(x)
        for attn, ff in self.layers:
            x = x + attn(x)
            x = x + ff(x)
        return x
