"""MAMBA's world-model loss (MAMBA ``agent/optim/loss.py::model_loss`` and ``agent/optim/utils.py``).

The batch is a time-major window already shifted as MAMBA's ``DreamerMemory.get_transitions`` does (see
``buffer.model_window``): at model step t the RSSM sees observation o_{t+1} after action a_t; ``reward``, ``done``
belong to a_t; ``fake``, ``avail``, ``last`` to o_{t+1}. With T model steps the losses use T-1 of them:

    KL          balanced KL(post_t || prior_t), t < T-1 (per-categorical KL summed over classes, mean elsewhere)
    observation Smooth-L1(decoder([z_t, h_t]), o_{t+1}) summed over obs dims, masked by 1 - fake, / rows
    reward      Smooth-L1(reward([z_t, h_{t+1}]), r_{t+1})            (r_{t+1}: reward of the next action)
    continuation BCE(continuation([z_t, h_{t+1}]), 1 - done_{t+1})
    avail       BCE summed over actions (decoder features [z_t, h_t] -> avail of o_{t+1})
    information CE (discrete) / MSE (continuous) of a_{t+1} from the decoder hidden features of state t+1, masked
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from marie.algos.mamba.config import WorldModelConfig
from marie.algos.mamba.heads import MambaWorldModel

KL_EPS = 1e-7  # MAMBA's kl_div_categorical adds this inside both logs


@dataclass
class ModelBatch:
    """Time-major (T,B,N,...) tensors: obs, actions (the RSSM's action vectors), action_targets ((T,B,N) long or
    (T,B,N,A)), reward/done/fake/last (T,B,N,1) float, avail (T,B,N,A) float or None."""

    obs: Tensor
    actions: Tensor
    action_targets: Tensor
    reward: Tensor
    done: Tensor
    fake: Tensor
    last: Tensor
    avail: Tensor | None


def categorical_kl(p: Tensor, q: Tensor) -> Tensor:
    """KL(p || q) over the last axis of probability tensors, with MAMBA's epsilon."""
    return (p * (torch.log(p + KL_EPS) - torch.log(q + KL_EPS))).sum(-1)


def kl_balance(post_logits: Tensor, prior_logits: Tensor, n_classes: int, balance: float) -> Tensor:
    """balance * KL(post || sg(prior)) + (1 - balance) * KL(sg(post) || prior); per categorical, averaged over
    categoricals and all leading axes. Logits (..., C*K)."""
    post = torch.softmax(post_logits.reshape(*post_logits.shape[:-1], -1, n_classes), -1)
    prior = torch.softmax(prior_logits.reshape(*prior_logits.shape[:-1], -1, n_classes), -1)
    train_post = categorical_kl(post, prior.detach())
    train_prior = categorical_kl(post.detach(), prior)
    return (balance * train_post + (1 - balance) * train_prior).mean()


def information_loss(predicted: Tensor, targets: Tensor, mask: Tensor, discrete: bool) -> Tensor:
    """Action-information loss, averaged over all rows (masked rows count as zeros, as MAMBA's mean does).

    predicted (...,A); targets (...) long or (...,A); mask (...) 1 where the agent was alive."""
    if discrete:
        per_row = F.cross_entropy(predicted.reshape(-1, predicted.shape[-1]), targets.reshape(-1), reduction="none")
    else:  # MAMBA authors' recipe for continuous actions: MSE instead of cross-entropy
        per_row = ((predicted - targets) ** 2).mean(-1).reshape(-1)
    return (mask.reshape(-1) * per_row).mean()


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(target) of independent Bernoullis summed over the last axis, averaged over the rest."""
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1).mean()


def world_model_loss(
    model: MambaWorldModel, batch: ModelBatch, cfg: WorldModelConfig, generator: torch.Generator | None = None
) -> tuple[Tensor, dict[str, float]]:
    steps = batch.obs.shape[0]
    if steps < 3:
        raise ValueError(f"a model window needs >= 3 steps (buffer.seq_len >= 4), got {steps}")
    embeds = model.encoder(batch.obs)
    priors, posts = model.rssm.observe_sequence(embeds, batch.actions, batch.last, generator)
    prior, post = priors.map(lambda x: x[:-1]), posts.map(lambda x: x[:-1])
    feat = post.features()  # [z_t, h_t]
    reward_feat = torch.cat([post.stoch, posts.deter[1:]], dim=-1)  # [z_t, h_{t+1}]

    recon, hidden = model.decoder(feat)
    alive = 1.0 - batch.fake
    obs_loss = (F.smooth_l1_loss(recon, batch.obs[:-1], reduction="none") * alive[:-1]).sum() / recon[..., 0].numel()
    reward_pred = model.reward(reward_feat)
    reward_loss = F.smooth_l1_loss(reward_pred, batch.reward[1:])
    continuation_logits = model.continuation(reward_feat)
    continuation_loss = bernoulli_nll(continuation_logits, 1.0 - batch.done[1:])
    avail_loss = torch.zeros((), device=feat.device)
    if model.avail is not None and batch.avail is not None:
        avail_loss = bernoulli_nll(model.avail(feat), batch.avail[:-1])
    info_loss = information_loss(
        model.info(hidden[1:]), batch.action_targets[1:-1], alive[1:-1].squeeze(-1), model.discrete
    )
    kl = kl_balance(post.logits, prior.logits, model.rssm.cfg.n_classes, cfg.kl_balance)
    total = (
        cfg.kl_weight * kl + cfg.obs_weight * obs_loss + cfg.reward_weight * reward_loss
        + cfg.continuation_weight * continuation_loss + cfg.avail_weight * avail_loss + cfg.info_weight * info_loss
    )  # fmt: skip
    parts = {
        "loss": total, "kl": kl, "obs": obs_loss, "reward": reward_loss, "continuation": continuation_loss,
        "info": info_loss,
        # In the units the model learns (the agent divides by reward_scale) and as a hit rate, for the reports.
        "reward_mae": (reward_pred - batch.reward[1:]).abs().mean(),
        "reward_mae_median": (batch.reward[1:] - batch.reward[1:].median()).abs().mean(),  # a constant's error
        "continuation_accuracy": ((continuation_logits > 0).float() == 1.0 - batch.done[1:]).float().mean(),
    }  # fmt: skip
    if model.avail is not None:
        parts["avail"] = avail_loss
    return total, {f"world_model/{k}": float(v.detach()) for k, v in parts.items()}
