"""marie/roofline.py: FLOP and byte counts per op, the roofline time, and the bandwidth measurement."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from marie.roofline import Roofline, bandwidth_curve, roofline

FLAT = {2**30: 1e10}  # 10 GB/s at every size


def count_flops(fn) -> float:
    return roofline(fn, peak_flops=1e12, curve=FLAT).flops


def test_cpu_attention_products_are_counted() -> None:
    """torch's counter alone has no formula for the CPU flash-attention kernel and counts 0 FLOPs for it."""
    q, k, v = torch.randn(2, 4, 1, 32), torch.randn(2, 4, 10, 32), torch.randn(2, 4, 10, 32)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == 2 * (2 * 2 * 4 * 1 * 10 * 32)
    q, k, v = (torch.randn(2, 4, 6, 32, requires_grad=True) for _ in range(3))
    forward = 2 * (2 * 2 * 4 * 6 * 6 * 32)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()) > 2 * forward


def test_a_matmul_counts_its_flops_and_operand_bytes_and_is_compute_bound_at_a_low_peak() -> None:
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    counter = roofline(lambda: a @ b, peak_flops=1e6, curve=FLAT)
    flops, nbytes = 2 * 64 * 32 * 16, 4 * (64 * 32 + 32 * 16 + 64 * 16)
    assert counter.flops == flops and counter.bytes == nbytes
    assert counter.seconds == pytest.approx(flops / 1e6) and counter.memory_bound_seconds == 0.0


def test_an_elementwise_op_is_memory_bound_and_views_move_nothing() -> None:
    x = torch.randn(1000, 10)
    counter = roofline(lambda: (x.t().reshape(-1).view(10, 1000) + 1.0), peak_flops=1e12, curve=FLAT)
    # the transpose's reshape copies (non-contiguous), the add reads and writes: 2 x (read + write) of 40 KB
    assert counter.flops == 0 and counter.bytes == 4 * 40_000
    assert counter.seconds == pytest.approx(160_000 / 1e10) and counter.memory_bound_seconds == counter.seconds


def test_bandwidth_is_read_at_the_nearest_measured_size_at_or_above_the_ops_bytes() -> None:
    counter = Roofline(1e9, {1_000: 1.0, 1_000_000: 2.0, 10_000_000: 3.0})
    assert [counter.bandwidth(n) for n in (10, 1_000, 1_001, 5_000_000, 10**9)] == [1.0, 1.0, 2.0, 3.0, 3.0]


def test_bandwidth_curve_measures_a_positive_rate_per_size() -> None:
    curve = bandwidth_curve("cpu", sizes=(2**14, 2**20), reps=2)
    assert list(curve) == [2**14, 2**20] and all(rate > 1e6 for rate in curve.values())
