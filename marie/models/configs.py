"""Dataclass configs of MARIE's models (no torch import, so config handling stays cheap).

Every default is the paper value for SMAC/SMAX (spec §2, §3, §4, §7.3); per-env overrides (MAMuJoCo
``embed_dim=64``, MPE ``kind="bins"`` and reward range [-4, 4], GRF ``embed_dim=32`` and 50 reward bins, ...)
are applied by the config module that assembles a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TOKENIZER_KINDS = ("vq", "fsq", "bins")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TokenizerConfig:
    """Per-agent observation tokenizer (spec §2)."""

    kind: str = "vq"  # vq (default) | fsq | bins (MPE's `use_bin`: one token per observation dimension)
    num_tokens: int = 16  # K tokens per agent observation (vq, fsq); bins uses K = obs_dim
    embed_dim: int = 128  # VQ code dimension E: 128 SMAC/SMAX/MPE, 64 MAMuJoCo, 32 GRF
    codebook_size: int = 512  # VQ vocabulary
    decay: float = 0.8  # EMA decay of the VQ codebook (`--decay`)
    alpha: float = 10.0  # commitment weight in L1 + alpha * commit
    eps: float = 1e-5  # Laplace smoothing of the EMA cluster sizes
    hidden_dim: int = 256  # VQ encoder/decoder width (hard-coded 256 in the original)
    fsq_hidden_dim: int = 512  # FSQ encoder/decoder width
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 8])  # one field for training and acting
    bins: int = 256  # `use_bin`: bins of symlog(obs) on [-bin_range, bin_range]
    bin_range: float = 3.0
    lr: float = 3e-4  # AdamW, hard-coded in the original
    weight_decay: float = 0.01  # applied to every tokenizer parameter (no groups), as the original
    grad_clip: float = 10.0
    batch_size: int = 256  # single time steps (x N agents) per update
    updates_per_round: int = 200  # MODEL_EPOCHS (100 on MPE/MAMuJoCo)

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer kind {self.kind!r} is not one of {', '.join(TOKENIZER_KINDS)}")


@dataclass
class WorldModelConfig:
    """Transformer world model with Perceiver aggregation (spec §3)."""

    num_layers: int = 10
    num_heads: int = 4
    embed_dim: int = 256
    dropout: float = 0.1  # embedding, attention-probability and residual dropout
    max_blocks: int = 15  # context in agent-steps (= HORIZON = training sequence length)
    perceiver_depth: int = 2  # latent self-attention blocks after the one cross-attention block
    perceiver_heads: int = 8
    perceiver_dim_head: int = 64
    perceiver_ff_mult: int = 4  # GEGLU feed-forward: dim -> 2*mult*dim -> (split) -> dim
    perceiver_dropout: float = 0.1
    max_agents: int = 30  # rows of the fixed sinusoid agent-ID table (30 in the original)
    # Scale of the Perceiver's learned latents (init std) and of its fixed agent-ID table. 1.0 as the original:
    # both then dwarf the token embeddings (std 0.02), so the aggregated token - the one the reward and continuation
    # heads read - barely varies with the agents' observations and actions early in training. 0.02 puts them on the
    # embeddings' scale: on HalfCheetah the reward then starts to be learned, slowly, and the returns got worse
    # (README, "HalfCheetah 2x3"). A deviation, not a bug fix; no preset uses it.
    aggregate_init_scale: float = 1.0
    # 0 (the original): the Perceiver's output is the aggregated token as it is. > 0: it is layer-normalised (no
    # affine) and scaled to this size. Measured on HalfCheetah: the raw output grows to ~5 per dimension within
    # ~100 updates while varying little between samples, and the transformer's output at the aggregated token
    # becomes nearly constant (spread across samples 0.04 against 0.54 at init), so the reward head has nothing to
    # read; at the embeddings' scale (0.02) the reward is learned (README, "HalfCheetah 2x3"). A deviation.
    aggregate_output_scale: float = 0.0
    head_hidden: int = 256  # width of the prediction heads' hidden layers
    ce_for_r: bool = False  # HL-Gauss reward head on symlog targets instead of Smooth-L1 on raw rewards
    ce_for_av: bool = True  # avail head as per-action 2-class CE (every published SMAC run passes --ce_for_av)
    predict_avail: bool = True  # avail-action head (SMAC/SMAX only)
    reward_bins: int = 128  # HL-Gauss support: [-3,3]/128 (MPE [-4,4], GRF [-1,1]/50)
    reward_min: float = -3.0
    reward_max: float = 3.0
    reward_sigma_ratio: float = 0.75  # HL-Gauss sigma in bin widths
    action_bins: int = 256  # continuous actions: tokens per dimension from bins on [low - 1e-6, high]
    lr: float = 1e-4  # AdamW
    weight_decay: float = 0.01  # Linear weights only
    betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    grad_clip: float = 10.0
    batch_size: int = 30  # sequences of max_blocks steps (40 on MPE/MAMuJoCo)
    # Sequences per forward/backward pass; the gradients of the micro-batches are summed with weights equal to
    # their share of the batch, which gives the full batch's loss (every loss part is a mean over sequences).
    # It bounds memory: a paper-size update (SMAX 3m) peaks at ~9.5 GB on CPU in one pass (attention
    # probabilities with dropout are materialised), ~2.3 GB in passes of 3, at the same speed. 0 = one pass.
    micro_batch_size: int = 3
    updates_per_round: int = 200  # WM_EPOCHS
    # Mixed precision of the world model's passes (training loss and imagination): "bf16" runs its matmuls and
    # attention under bfloat16 autocast (cached attention in the KV cache's dtype: bfloat16 on CUDA, float32 on
    # CPU); losses, heads' outputs and the optimiser stay float32. fp32 by default: bf16 changes the numbers
    # (tests/models/test_precision.py bounds by how much).
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"world_model.precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.aggregate_output_scale < 0:
            raise ValueError(f"aggregate_output_scale {self.aggregate_output_scale} must be >= 0 (0: off)")
        if self.aggregate_init_scale <= 0:
            raise ValueError(f"aggregate_init_scale {self.aggregate_init_scale} must be positive")
        if self.reward_max <= self.reward_min:
            raise ValueError(f"reward range [{self.reward_min}, {self.reward_max}] is empty")


@dataclass
class ImaginationConfig:
    """Autoregressive imagination in the world model (spec §4)."""

    num_starts: int = 600  # real start states per rollout
    horizon: int = 15  # imagined steps H (<= WorldModelConfig.max_blocks)
    clamp_obs: bool = True  # clamp decoded start and imagined frames to [-1, 1] (SMAC/SMAX)
    chunk_size: int | None = 100  # starts per chunk (bounds the KV cache: ~5.5 MB per start and agent); None = all
