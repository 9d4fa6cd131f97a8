"""MARIE's world model: decentralised causal transformer per agent + Perceiver aggregation across agents (spec §3).

Token layout per agent and step ("block"): ``[K obs tokens | n_act action token(s) | 1 aggregated token]``.
Each agent's sequence is one batch row (rows ordered sample-major, agent-minor); the transformer shares weights
across agents and sees other agents only through the aggregated token, which the Perceiver computes per step from
all agents' (obs, action) embeddings.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from marie.models.binning import action_bin_edges, actions_to_bins
from marie.models.configs import WorldModelConfig
from marie.models.hl_gauss import HLGauss, symexp, symlog
from marie.models.kv_cache import KVCache
from marie.models.outputs import LossOutput
from marie.models.perceiver import Perceiver
from marie.models.transformer import Transformer
from marie.models.wm_losses import (
    avail_labels,
    avail_loss,
    episode_attention_mask,
    next_token_accuracy,
    segmented_obs_loss,
)


@dataclass
class WorldModelBatch:
    """A batch of B sequences of T steps of N agents (T <= max_blocks).

    obs_tokens (B,T,N,K) long from the frozen tokenizer; actions (B,T,N) long (discrete) or (B,T,N,A) float (raw
    continuous sample); rewards (B,T,N) r_t after a_t; dones (B,T,N) per-agent done_t; avail (B,T,N,A) bool, the
    mask valid at o_t (required when the model predicts avail actions). rewards/dones may carry a trailing 1.
    timeouts (B,T,N) bool, optional: dones that come from a time limit; they still end the sequence (masks) but
    their continuation target is 1.
    """

    obs_tokens: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    dones: torch.Tensor
    avail: torch.Tensor | None = None
    timeouts: torch.Tensor | None = None


def _head(dim: int, hidden: int, out: int, hidden_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, out))
    return nn.Sequential(*layers)


def _per_agent(values: torch.Tensor, obs_tokens: torch.Tensor, name: str) -> torch.Tensor:
    """Accept (B,T,N) or (B,T,N,1); anything else is a clear error."""
    expected = tuple(obs_tokens.shape[:3])
    if values.dim() == 4 and values.shape[-1] == 1:
        values = values.squeeze(-1)
    if tuple(values.shape) != expected:
        raise ValueError(f"{name} has shape {tuple(values.shape)}, expected {expected} (B, T, N)")
    return values


def init_weights(module: nn.Module) -> None:
    """Linear/Embedding N(0, 0.02), zero biases, LayerNorm (1, 0); other parameters (Perceiver latents) untouched."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class WorldModel(nn.Module):
    def __init__(
        self,
        cfg: WorldModelConfig,
        *,
        num_agents: int,
        obs_vocab_size: int,
        tokens_per_obs: int,
        num_actions: int,
        continuous_actions: bool = False,
        action_low: float = -1.0,
        action_high: float = 1.0,
    ) -> None:
        """``num_actions``: discrete action count, or the action dimension A_dim for continuous actions."""
        super().__init__()
        if cfg.predict_avail and continuous_actions:
            raise ValueError("predict_avail=True needs discrete actions (set predict_avail=False for continuous envs)")
        if min(num_agents, obs_vocab_size, tokens_per_obs, num_actions) < 1:
            raise ValueError(
                f"world-model sizes must be positive: num_agents={num_agents}, obs_vocab_size={obs_vocab_size}, "
                f"tokens_per_obs={tokens_per_obs}, num_actions={num_actions}"
            )
        self.cfg = cfg
        self.num_agents, self.num_actions, self.continuous_actions = num_agents, num_actions, continuous_actions
        self.tokens_per_obs = tokens_per_obs
        self.action_tokens_per_step = num_actions if continuous_actions else 1
        self.tokens_per_block = tokens_per_obs + self.action_tokens_per_step + 1
        self.max_tokens = cfg.max_blocks * self.tokens_per_block
        self.predict_avail = cfg.predict_avail
        dim = cfg.embed_dim

        self.obs_embedding = nn.Embedding(obs_vocab_size, dim)
        self.action_embedding = nn.Embedding(cfg.action_bins if continuous_actions else num_actions, dim)
        self.pos_embedding = nn.Embedding(self.max_tokens, dim)
        if continuous_actions:
            self.register_buffer("action_edges", action_bin_edges(action_low, action_high, cfg.action_bins), False)
        self.perceiver = Perceiver(
            num_latents=num_agents,
            dim=dim,
            depth=cfg.perceiver_depth,
            heads=cfg.perceiver_heads,
            dim_head=cfg.perceiver_dim_head,
            ff_mult=cfg.perceiver_ff_mult,
            dropout=cfg.perceiver_dropout,
            max_agents=cfg.max_agents,
            init_scale=cfg.aggregate_init_scale,
        )
        self.transformer = Transformer(cfg.num_layers, dim, cfg.num_heads, cfg.dropout)

        self.obs_head = _head(dim, cfg.head_hidden, obs_vocab_size, 1)
        self.reward_head = _head(dim, cfg.head_hidden, cfg.reward_bins if cfg.ce_for_r else 1, 2)
        self.continuation_head = _head(dim, cfg.head_hidden, 1, 2)
        if self.predict_avail:
            self.avail_head = _head(dim, cfg.head_hidden, 2 * num_actions if cfg.ce_for_av else num_actions, 2)
        self.hl_gauss = (
            HLGauss(cfg.reward_min, cfg.reward_max, cfg.reward_bins, cfg.reward_sigma_ratio) if cfg.ce_for_r else None
        )
        self.apply(init_weights)

    # ---- embeddings ---------------------------------------------------------------------------------------------
    def action_tokens(self, actions: torch.Tensor) -> torch.Tensor:
        """Discrete (...) long -> (..., 1); continuous raw actions (..., A_dim) -> bins (..., A_dim)."""
        if self.continuous_actions:
            if actions.shape[-1] != self.num_actions:
                raise ValueError(f"continuous actions have {actions.shape[-1]} dims, expected {self.num_actions}")
            return actions_to_bins(actions, self.action_edges)
        if actions.dtype.is_floating_point:
            raise ValueError(f"discrete actions must be integer indices, got dtype {actions.dtype}")
        return actions.long().unsqueeze(-1)

    def aggregate(self, obs_emb: torch.Tensor, act_emb: torch.Tensor) -> torch.Tensor:
        """Perceiver over all agents of each group: (G,N,K,W), (G,N,n_act,W) -> aggregated tokens (G,N,W)."""
        out = self.perceiver(torch.cat([obs_emb, act_emb], dim=2))
        if self.cfg.aggregate_output_scale > 0:  # a deviation (see WorldModelConfig.aggregate_output_scale)
            out = F.layer_norm(out, out.shape[-1:]) * self.cfg.aggregate_output_scale
        return out

    def embed_blocks(self, obs_tokens: torch.Tensor, action_tokens: torch.Tensor) -> torch.Tensor:
        """(B,T,N,K), (B,T,N,n_act) -> per-agent token sequences (B*N, T*tpb, W), without position embedding."""
        batch, steps, agents, k = obs_tokens.shape
        obs_emb = self.obs_embedding(obs_tokens)
        act_emb = self.action_embedding(action_tokens)
        agg = self.aggregate(obs_emb.flatten(0, 1), act_emb.flatten(0, 1)).view(batch, steps, agents, 1, -1)
        blocks = torch.cat([obs_emb, act_emb, agg], dim=3)  # (B,T,N,tpb,W)
        return blocks.transpose(1, 2).reshape(batch * agents, steps * self.tokens_per_block, -1)

    def forward_embeddings(
        self, x: torch.Tensor, kv_cache: KVCache | None = None, group_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Add position embeddings (continuing after the cached tokens) and run the transformer: (R,L,W) -> (R,L,W)."""
        start = kv_cache.size if kv_cache is not None else 0
        if start + x.shape[1] > self.max_tokens:
            raise ValueError(f"sequence of {start + x.shape[1]} tokens exceeds max_tokens {self.max_tokens}")
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        return self.transformer(x + self.pos_embedding(positions), kv_cache=kv_cache, group_mask=group_mask)

    def new_kv_cache(self, rows: int) -> KVCache:
        cache = self.transformer.new_kv_cache(rows, self.max_tokens)
        if self.cfg.precision == "bf16" and cache.keys[0].device.type == "cuda":
            # Half the memory traffic of the (memory-bound) cached attention. Not on CPU: torch's bfloat16 decode
            # attention kernel there is ~2.4x slower than the float32 one (measured, 300 rows x 200 cached tokens).
            cache = KVCache(len(cache.keys), rows, *cache.keys[0].shape[1:], cache.keys[0].device, torch.bfloat16)
        return cache

    def autocast(self) -> AbstractContextManager:
        """The precision context of the world model's passes (``cfg.precision``); a no-op for fp32."""
        if self.cfg.precision == "bf16":
            return torch.autocast(self.pos_embedding.weight.device.type, dtype=torch.bfloat16)
        return nullcontext()

    # ---- heads on the aggregated token's output ------------------------------------------------------------------
    def predict_reward(self, h: torch.Tensor) -> torch.Tensor:
        return self._reward_value(self.reward_head(h))

    def _reward_value(self, head_out: torch.Tensor) -> torch.Tensor:
        """The reward head's output (..., 1 or bins) as a reward (...): the value, or the HL-Gauss expectation."""
        if self.hl_gauss is None:
            return head_out.squeeze(-1)
        return symexp(self.hl_gauss.expectation(head_out))

    def continuation_prob(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.continuation_head(h).squeeze(-1))

    def avail_prob(self, h: torch.Tensor) -> torch.Tensor:
        """Probability that each action is available at the next step: (..., W) -> (..., A)."""
        logits = self.avail_head(h)
        if self.cfg.ce_for_av:
            pair = logits.view(*logits.shape[:-1], self.num_actions, 2)
            return torch.softmax(pair, dim=-1)[..., 1]
        return torch.sigmoid(logits)

    # ---- training loss -------------------------------------------------------------------------------------------
    def hidden_states(self, batch: WorldModelBatch) -> torch.Tensor:
        """The transformer's output for every token of the batch, (B*N, T, tokens_per_block, W); the last token of
        each block is the aggregated one the reward and continuation heads read."""
        bsz, steps, agents, _ = batch.obs_tokens.shape
        dones = _per_agent(batch.dones, batch.obs_tokens, "dones").bool()
        x = self.embed_blocks(batch.obs_tokens, self.action_tokens(batch.actions))
        mask = episode_attention_mask(dones, self.tokens_per_block)
        return self.forward_embeddings(x, group_mask=mask).view(bsz * agents, steps, self.tokens_per_block, -1)

    def compute_loss(self, batch: WorldModelBatch) -> LossOutput:
        with self.autocast():
            return self._compute_loss(batch)

    def _compute_loss(self, batch: WorldModelBatch) -> LossOutput:
        # Head outputs are cast to the parameters' dtype (a no-op without autocast): every loss is computed in it.
        obs_tokens = batch.obs_tokens
        bsz, steps, agents, k = obs_tokens.shape
        if agents != self.num_agents or k != self.tokens_per_obs:
            raise ValueError(
                f"obs_tokens shape {tuple(obs_tokens.shape)} does not match N={self.num_agents}, K={self.tokens_per_obs}"
            )
        if steps > self.cfg.max_blocks:
            raise ValueError(f"sequence length {steps} exceeds max_blocks {self.cfg.max_blocks}")
        rows = bsz * agents
        dones = _per_agent(batch.dones, obs_tokens, "dones").bool()
        h = self.hidden_states(batch)

        def per_row(t: torch.Tensor) -> torch.Tensor:  # (B,T,N,...) -> (B*N, T, ...)
            return t.transpose(1, 2).reshape(rows, steps, *t.shape[3:])

        agent_dones = per_row(dones)
        dtype = self.pos_embedding.weight.dtype  # the parameters' (= h's without autocast): losses are in it
        obs_positions = torch.cat([h[:, :, : k - 1], h[:, :, -1:]], dim=2)  # obs 0..K-2 and the aggregated token
        obs_logits = self.obs_head(obs_positions).to(dtype)
        loss_obs = segmented_obs_loss(obs_logits, per_row(obs_tokens), agent_dones)

        agg = h[:, :, -1]  # (R, T, W)
        rewards = per_row(_per_agent(batch.rewards, obs_tokens, "rewards").to(dtype))
        reward_out = self.reward_head(agg).to(dtype)
        if self.hl_gauss is None:
            loss_reward = F.smooth_l1_loss(reward_out.squeeze(-1), rewards)
        else:
            loss_reward = self.hl_gauss.loss(reward_out, symlog(rewards))
        terminal = agent_dones
        if batch.timeouts is not None:
            terminal = terminal & ~per_row(_per_agent(batch.timeouts, obs_tokens, "timeouts").bool())
        continuation = (~terminal).to(dtype)
        cont_logits = self.continuation_head(agg).to(dtype).squeeze(-1)
        loss_cont = F.binary_cross_entropy_with_logits(cont_logits, continuation)

        total = loss_obs + loss_reward + loss_cont
        parts = {"obs": loss_obs.detach(), "reward": loss_reward.detach(), "continuation": loss_cont.detach()}
        with torch.no_grad():  # quality measures in the units a reader expects (not optimised)
            parts["obs_accuracy"] = next_token_accuracy(obs_logits, per_row(obs_tokens), agent_dones)
            parts["reward_mae"] = (self._reward_value(reward_out).reshape(rewards.shape) - rewards).abs().mean()
            # The same error of the best constant guess (the batch's median): a reward MAE near it means the model
            # has not learned the reward, whatever the reward's scale.
            parts["reward_mae_median"] = (rewards - rewards.median()).abs().mean()
            parts["continuation_accuracy"] = ((cont_logits > 0).to(dtype) == continuation).float().mean()
        if self.predict_avail:
            if batch.avail is None:
                raise ValueError("this world model predicts avail actions: the batch needs an avail mask")
            labels = avail_labels(per_row(batch.avail), agent_dones)  # (R, T-1, A)
            loss_av = avail_loss(self.avail_head(agg[:, :-1]).to(dtype), labels, self.cfg.ce_for_av)
            total = total + loss_av
            parts["avail"] = loss_av.detach()
        parts["total"] = total.detach()
        return LossOutput(total, parts)
