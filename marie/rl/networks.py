"""Actor and critic networks shared by MARIE (acting on reconstructed observations) and MAPPO.

The classes follow the original MARIE code (spec §5.2):
- ``MLPActor`` + ``AttentionCritic`` for discrete SMAC/SMAX (the original ``Actor`` / ``AugmentedCritic``);
- ``StochasticPolicy`` + ``FeatureNormedAttentionCritic`` for MPE, MAMuJoCo and GRF (MAPPO-style layers);
- ``StateCritic``: MAPPO's centralised critic on the global state plus a one-hot agent id.

All networks take inputs with the agent axis second to last: ``(..., N, F)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Normal

from marie.models.perceiver import sinusoid_table  # the same agent-index table as the Perceiver's (spec §5.2)
from marie.rl.configs import ActorCriticConfig

MASKED_LOGIT = -1e10  # what the original writes into unavailable actions' logits


class PolicyDistribution:
    """A per-agent action distribution with the few operations PPO needs.

    Discrete: masked categorical over logits. Continuous: diagonal Gaussian; ``log_prob`` returns per-dimension
    log-probabilities (…, A) so the PPO ratio is the product over dimensions, as in the original.
    """

    def __init__(self, logits: Tensor | None = None, mean: Tensor | None = None, std: Tensor | None = None):
        self.discrete = logits is not None
        self.logits, self.mean, self._std = logits, mean, std
        self._built: Categorical | Normal | None = None

    @property
    def _dist(self) -> Categorical | Normal:
        """Built on first use: acting and imagination only sample (no normalisation or argument checks needed)."""
        if self._built is None:
            self._built = Categorical(logits=self.logits) if self.discrete else Normal(self.mean, self._std)
        return self._built

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        if self.discrete:
            gumbel = -torch.log(-torch.log(torch.rand(self.logits.shape, generator=generator).clamp_(1e-20, 1.0)))
            return torch.argmax(self.logits.float() + gumbel.to(self.logits.device), dim=-1)
        noise = torch.randn(self.mean.shape, generator=generator).to(self.mean.device)
        return self.mean + noise * self._dist.stddev

    def mode(self) -> Tensor:
        return self.logits.argmax(-1) if self.discrete else self.mean

    def log_prob(self, action: Tensor) -> Tensor:
        """(…,) for discrete actions, (…, A) per dimension for continuous actions."""
        return self._dist.log_prob(action)

    def entropy(self) -> Tensor:
        """(…,): summed over action dimensions for continuous actions."""
        ent = self._dist.entropy()
        return ent if self.discrete else ent.sum(-1)


def mask_logits(logits: Tensor, avail: Tensor | None) -> Tensor:
    if avail is None:
        return logits
    return logits.masked_fill(~avail.bool(), MASKED_LOGIT)


def _orthogonal_init(module: nn.Module, gain: float) -> None:
    for param in module.parameters():
        if param.dim() >= 2:
            nn.init.orthogonal_(param, gain=gain)


class MLPActor(nn.Module):
    """The original discrete ``Actor``: in -> H -> H -> A with ReLU, orthogonal (gain 1) init of matrices."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        dims = [in_dim] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*blocks, nn.Linear(dims[-1], n_actions))
        _orthogonal_init(self, gain=1.0)

    def forward(self, feat: Tensor) -> Tensor:
        return self.net(feat)

    def distribution(self, feat: Tensor, avail: Tensor | None = None, temperature: float = 1.0) -> PolicyDistribution:
        logits = mask_logits(self(feat), avail)
        return PolicyDistribution(logits=logits / temperature)


class _MLPBase(nn.Module):
    """MAPPO's MLP base: LayerNorm(in) then ``layers`` x [Linear - ReLU - LayerNorm]."""

    def __init__(self, in_dim: int, hidden: int, layers: int, input_norm: bool = True):
        super().__init__()
        blocks: list[nn.Module] = [nn.LayerNorm(in_dim)] if input_norm else []
        dim = in_dim
        for _ in range(layers):
            linear = nn.Linear(dim, hidden)
            nn.init.orthogonal_(linear.weight, gain=math.sqrt(2))
            nn.init.zeros_(linear.bias)
            blocks += [linear, nn.ReLU(), nn.LayerNorm(hidden)]
            dim = hidden
        self.net = nn.Sequential(*blocks)
        self.out_dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class StochasticPolicy(nn.Module):
    """MAPPO-style policy: MLP base, then a categorical head or a Gaussian mean with state-independent std.

    The Gaussian follows the original: a learnable ``log_std`` vector initialised to 1 and
    ``std = 0.5 * sigmoid(log_std)`` (about 0.37 at init).
    """

    def __init__(self, in_dim: int, n_actions: int, hidden: int, layers: int, discrete: bool):
        super().__init__()
        self.discrete = discrete
        self.base = _MLPBase(in_dim, hidden, layers)
        self.head = nn.Linear(self.base.out_dim, n_actions)
        nn.init.orthogonal_(self.head.weight, gain=0.01)
        nn.init.zeros_(self.head.bias)
        if not discrete:
            self.log_std = nn.Parameter(torch.ones(n_actions))

    def forward(self, feat: Tensor) -> Tensor:
        return self.head(self.base(feat))

    def distribution(self, feat: Tensor, avail: Tensor | None = None, temperature: float = 1.0) -> PolicyDistribution:
        out = self(feat)
        if self.discrete:
            return PolicyDistribution(logits=mask_logits(out, avail) / temperature)
        std = 0.5 * torch.sigmoid(self.log_std).expand_as(out)
        return PolicyDistribution(mean=out, std=std)


class AttentionCritic(nn.Module):
    """The original ``AugmentedCritic``: per-agent embedding, one post-norm self-attention layer across agents.

    Lin(in,H)+ReLU, + sinusoid agent-index vector, TransformerEncoderLayer(H, 8 heads, FF H, dropout 0), ReLU,
    Lin(H,H)-ReLU-Lin(H,1). Xavier-uniform on matrices; biases keep PyTorch's default init.
    """

    def __init__(self, in_dim: int, hidden: int = 256, max_agents: int = 30):
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.register_buffer("agent_pos", sinusoid_table(max_agents, hidden), persistent=False)
        self.encoder = nn.TransformerEncoderLayer(hidden, 8, dim_feedforward=hidden, dropout=0.0, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        for param in self.parameters():
            if param.dim() >= 2:
                nn.init.xavier_uniform_(param)

    def forward(self, feat: Tensor) -> Tensor:
        lead, (n_agents, dim) = feat.shape[:-2], feat.shape[-2:]
        x = torch.relu(self.embed(feat.reshape(-1, n_agents, dim))) + self.agent_pos[:n_agents]
        x = torch.relu(self.encoder(x))
        return self.head(x).reshape(*lead, n_agents, 1)


class FeatureNormedAttentionCritic(nn.Module):
    """The original ``FeatureNormedAugmentedCritic`` (MPE, MAMuJoCo, GRF).

    LN(in) -> Lin(in,H)+ReLU -> pre-norm encoder layer across agents (8 heads, FF H, dropout 0) -> ReLU ->
    MLP base (LN + layers x [Lin-ReLU-LN]) -> Lin(H,1).
    """

    def __init__(self, in_dim: int, hidden: int, layers: int, max_agents: int = 30):
        super().__init__()
        self.norm = nn.LayerNorm(in_dim)
        self.embed = nn.Linear(in_dim, hidden)
        nn.init.orthogonal_(self.embed.weight, gain=math.sqrt(2))
        nn.init.zeros_(self.embed.bias)
        self.register_buffer("agent_pos", sinusoid_table(max_agents, hidden), persistent=False)
        self.encoder = nn.TransformerEncoderLayer(
            hidden, 8, dim_feedforward=hidden, dropout=0.0, batch_first=True, norm_first=True
        )
        _orthogonal_init(self.encoder, gain=1.0)
        self.base = _MLPBase(hidden, hidden, layers)
        self.value = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)

    def forward(self, feat: Tensor) -> Tensor:
        lead, (n_agents, dim) = feat.shape[:-2], feat.shape[-2:]
        x = torch.relu(self.embed(self.norm(feat.reshape(-1, n_agents, dim)))) + self.agent_pos[:n_agents]
        x = torch.relu(self.encoder(x))
        return self.value(self.base(x)).reshape(*lead, n_agents, 1)


class StateCritic(nn.Module):
    """MAPPO's centralised critic: V(global state, one-hot agent id) with the MAPPO MLP base."""

    def __init__(self, state_dim: int, n_agents: int, hidden: int, layers: int):
        super().__init__()
        self.n_agents = n_agents
        self.base = _MLPBase(state_dim + n_agents, hidden, layers)
        self.value = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)
        self.register_buffer("agent_ids", torch.eye(n_agents), persistent=False)

    def forward(self, state: Tensor) -> Tensor:
        """state: (..., S) -> values (..., N, 1)."""
        lead = state.shape[:-1]
        expanded = state.unsqueeze(-2).expand(*lead, self.n_agents, state.shape[-1])
        ids = self.agent_ids.expand(*lead, self.n_agents, self.n_agents)
        return self.value(self.base(torch.cat([expanded, ids], dim=-1)))


def build_marie_actor_critic(
    cfg: ActorCriticConfig, in_dim: int, n_actions: int, discrete: bool
) -> tuple[nn.Module, nn.Module]:
    """The original's selection rule: the SMAC pair only for discrete SMAC/SMAX, else the MAPPO-style pair."""
    if cfg.kind == "smac":
        if not discrete:
            raise ValueError("actor_critic.kind 'smac' needs a discrete action space; use 'mappo_style'")
        return MLPActor(in_dim, n_actions, cfg.hidden, cfg.layers), AttentionCritic(in_dim, cfg.critic_hidden)
    if cfg.kind == "mappo_style":
        actor = StochasticPolicy(in_dim, n_actions, cfg.hidden, cfg.layers, discrete)
        return actor, FeatureNormedAttentionCritic(in_dim, cfg.hidden, cfg.layers)
    raise ValueError(f"unknown actor_critic.kind {cfg.kind!r}; valid: smac, mappo_style")
