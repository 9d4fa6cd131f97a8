"""``world_model.precision="bf16"``: bfloat16 autocast of the world model's passes agrees with float32 within
bfloat16's resolution, keeps losses and outputs in float32, and fp32 (the default) stays the exact path."""

from __future__ import annotations

import pytest
import torch

from marie.models.configs import ImaginationConfig, WorldModelConfig
from marie.models.imagination import imagine
from tests.models.helpers import random_batch, small_world_model
from tests.models.test_imagination import A, D, K, N, VOCAB, LinearPolicy, setup


def _pair(**cfg: object):
    torch.manual_seed(0)
    fp32 = small_world_model(num_agents=N, vocab=VOCAB, k=K, num_actions=A, dropout=0.0, perceiver_dropout=0.0, **cfg)
    bf16 = small_world_model(num_agents=N, vocab=VOCAB, k=K, num_actions=A, precision="bf16", dropout=0.0,
                             perceiver_dropout=0.0, **cfg)  # fmt: skip
    bf16.load_state_dict(fp32.state_dict())
    return fp32, bf16


@pytest.mark.parametrize("ce_for_r", [False, True])
def test_bf16_loss_and_gradients_agree_with_fp32(ce_for_r: bool) -> None:
    fp32, bf16 = _pair(ce_for_r=ce_for_r)
    batch = random_batch(fp32, batch=4, steps=4, vocab=VOCAB, seed=3)
    out32, out16 = fp32.compute_loss(batch), bf16.compute_loss(batch)
    assert out16.loss.dtype == torch.float32
    for name, value in out32.parts.items():
        if "accuracy" not in name:  # argmax-based measures may flip on near-ties
            assert abs(float(out16.parts[name]) - float(value)) <= 0.02 * abs(float(value)) + 1e-3, name
    assert float(out16.loss.detach()) != float(out32.loss.detach())  # bf16 really ran (the comparison above has a subject)
    out32.loss.backward()
    out16.loss.backward()
    g32 = torch.cat([p.grad.flatten() for p in fp32.parameters() if p.grad is not None])
    g16 = torch.cat([p.grad.flatten() for p in bf16.parameters() if p.grad is not None])
    assert g16.shape == g32.shape
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.99


def test_bf16_imagination_outputs_float32_and_first_step_agrees() -> None:
    wm32, tok, start = setup()
    wm16 = small_world_model(num_agents=N, vocab=VOCAB, k=K, num_actions=A, max_blocks=4, precision="bf16")
    wm16.load_state_dict(wm32.state_dict())
    assert wm16.new_kv_cache(2).keys[0].dtype == torch.float32  # on CPU; bfloat16 on CUDA
    cfg = ImaginationConfig(horizon=4, chunk_size=None)
    out32 = imagine(wm32, tok, LinearPolicy(D), start, cfg, generator=torch.Generator().manual_seed(7))
    out16 = imagine(wm16, tok, LinearPolicy(D), start, cfg, generator=torch.Generator().manual_seed(7))
    assert out16.rewards.dtype == out16.continuations.dtype == torch.float32
    # Step 0 sees the same start and the same actions; later steps may sample other tokens.
    assert torch.equal(out16.actions[0], out32.actions[0])
    scale = out32.rewards[0].abs().max()
    assert (out16.rewards[0] - out32.rewards[0]).abs().max() <= 0.05 * scale + 1e-3
    assert (out16.continuations[0] - out32.continuations[0]).abs().max() <= 0.02
    assert not torch.equal(out16.rewards[0], out32.rewards[0])


def test_precision_is_checked() -> None:
    with pytest.raises(ValueError, match="precision 'fp16' is not one of fp32, bf16"):
        WorldModelConfig(precision="fp16")
