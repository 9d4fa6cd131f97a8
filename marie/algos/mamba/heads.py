"""MAMBA's prediction heads and the world-model container (MAMBA ``DreamerModel``, ``vae.py``, ``dense.py``).

Features: ``feat`` = [z_t, h_t] (RSSM features) and ``reward_feat`` = [z_t, h_{t+1}] (the stochastic state with the next
deterministic state, which has seen the action a_t):
- decoder(feat) -> (observation, hidden features); Smooth-L1, masked by ``fake``;
- reward(reward_feat) (Smooth-L1) and continuation(reward_feat) (Bernoulli logit);
- avail(feat): one Bernoulli logit per action (SMAC/SMAX only);
- action information: the decoder's hidden features of the next state predict the action that led there.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from marie.algos.mamba.config import MambaConfig
from marie.algos.mamba.rssm import RSSM, ObservationEncoder


def dense(in_dim: int, out_dim: int, layers: int, hidden: int, activation: type[nn.Module] = nn.ELU) -> nn.Sequential:
    """MAMBA's ``build_model``: ``layers`` hidden layers with ``activation``, then a linear output."""
    dims = [in_dim] + [hidden] * layers
    blocks: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        blocks += [nn.Linear(a, b), activation()]
    return nn.Sequential(*blocks, nn.Linear(dims[-1], out_dim))


class Decoder(nn.Module):
    """feat -> hidden -> hidden -> hidden (ReLU) -> obs; also returns the last hidden features (for the info loss)."""

    def __init__(self, feat_dim: int, hidden: int, obs_dim: int):
        super().__init__()
        self.body = dense(feat_dim, hidden, 2, hidden, nn.ReLU)
        self.out = nn.Linear(hidden, obs_dim)

    def forward(self, feat: Tensor) -> tuple[Tensor, Tensor]:
        hidden = torch.relu(self.body(feat))
        return self.out(hidden), hidden


class ActionInfoHead(nn.Module):
    """Decoder features -> the agent's previous action: logits (discrete) or the action vector (continuous)."""

    def __init__(self, hidden: int, head_hidden: int, action_dim: int):
        super().__init__()
        self.features = dense(hidden, head_hidden, 1, head_hidden)
        self.action = nn.Linear(head_hidden, action_dim)

    def forward(self, decoder_hidden: Tensor) -> Tensor:
        return self.action(torch.relu(self.features(decoder_hidden)))


class MambaWorldModel(nn.Module):
    """Encoder, RSSM and heads. ``action_dim``: the number of discrete actions (fed one-hot) or the action dims."""

    def __init__(self, cfg: MambaConfig, obs_dim: int, action_dim: int, discrete: bool, predict_avail: bool):
        super().__init__()
        rc, wc = cfg.rssm, cfg.world_model
        self.discrete, self.action_dim = discrete, action_dim
        self.encoder = ObservationEncoder(obs_dim, rc.hidden, rc.embed)
        self.rssm = RSSM(rc, action_dim)
        feat = self.rssm.feat_dim
        self.decoder = Decoder(feat, rc.hidden, obs_dim)
        self.reward = dense(feat, 1, wc.head_layers, wc.head_hidden)
        self.continuation = dense(feat, 1, wc.head_layers, wc.head_hidden)
        self.avail = dense(feat, action_dim, wc.head_layers, wc.head_hidden) if predict_avail else None
        self.info = ActionInfoHead(rc.hidden, wc.head_hidden, action_dim)
        for param in self.parameters():  # MAMBA: xavier-uniform on every matrix, PyTorch's default biases
            if param.dim() >= 2:
                nn.init.xavier_uniform_(param)

    @property
    def feat_dim(self) -> int:
        return self.rssm.feat_dim

    def action_input(self, actions: Tensor) -> Tensor:
        """Env actions -> the RSSM's action vector: one-hot for discrete (..., N) long, raw floats otherwise."""
        if self.discrete:
            return nn.functional.one_hot(actions.long(), self.action_dim).float()
        return actions.float()

    def avail_sample(self, feat: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A Bernoulli sample of the avail head (bool), as MAMBA masks imagined policies."""
        probs = torch.sigmoid(self.avail(feat))
        return torch.rand(probs.shape, generator=generator).to(probs.device) < probs
