"""What a piece of work costs in FLOPs and bytes, and the shortest time the machine allows for it (a roofline).

`marie bench` reads each phase's wall-clock against two limits of the machine it runs on: the matmul peak
(:func:`marie.runtime.matmul_peak_gflops`) and the memory bandwidth measured here, by the size of the data an op
moves (small operands stay in cache and stream faster). Each aten op of the work is bounded below by
``max(flops / peak, bytes / bandwidth(bytes))``; the sum over ops is the phase's roofline time. A phase whose ops are
memory-bound (the KV-cached decode attention of an imagination) cannot reach a high fraction of the matmul peak
however well it is written; its fraction of the roofline time says how close it is to what the machine allows.

The byte count is each op's operands and results as tensors (views count the elements they span), without cache
reuse between ops: an upper bound on traffic for ops whose operands are still in cache, which the size-dependent
bandwidth partly accounts for. Compute-bound ops outside matrix products (random number generation) count as their
bytes only, so their cost shows up as distance from the roofline.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from marie.runtime import memory_bandwidth_gbs

_aten = torch.ops.aten


# torch's FLOP counter has no formula for the CPU flash-attention kernels that scaled_dot_product_attention runs on
# CPU without dropout (every cached decode step of an imagination), so it would count their products as 0.
def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _sdpa_cpu_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


EXTRA_FLOP_FORMULAS: dict[Any, Callable[..., int]] = {
    _aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu_flops,
    _aten._scaled_dot_product_flash_attention_for_cpu_backward: _sdpa_cpu_backward_flops,
}


SIZES = tuple(2**k for k in range(16, 30, 2))  # 64 KB (in L2) to 256 MB (main memory) of traffic per op


def bandwidth_curve(device: torch.device | str = "cpu", sizes: tuple[int, ...] = SIZES, reps: int = 5) -> dict:
    """Bytes per second a tensor copy moves (read + write), best of ``reps``, for each total traffic in ``sizes``."""
    return {size: memory_bandwidth_gbs(device, size, reps) * 1e9 for size in sizes}


class Roofline(TorchDispatchMode):
    """Counts every aten op run inside it: FLOPs (torch's formulas plus the CPU attention ones), bytes of its tensor
    operands and results, and its roofline time at ``peak_flops`` FLOP/s and the bandwidth ``curve`` (the entry of
    the nearest measured size at or above the op's bytes; the largest entry beyond)."""

    def __init__(self, peak_flops: float, curve: dict[int, float]) -> None:
        super().__init__()
        self.peak_flops = peak_flops
        self._sizes = sorted(curve)
        self._rates = [curve[s] for s in self._sizes]
        # torch's formulas plus ours, wrapped by FlopCounterMode to take the op's arguments and result
        self._flop_formulas = FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS).flop_registry
        self.flops = 0.0
        self.bytes = 0.0
        self.seconds = 0.0  # roofline time: sum over ops of max(compute time, memory time)
        self.memory_bound_seconds = 0.0  # the part of it from ops whose memory time is the larger

    def bandwidth(self, nbytes: float) -> float:
        i = min(bisect.bisect_left(self._sizes, nbytes), len(self._sizes) - 1)
        return self._rates[i]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view or func.overloadpacket in _NO_TRAFFIC:
            return out
        formula = self._flop_formulas.get(func.overloadpacket)
        flops = float(formula(*args, **kwargs, out_val=out)) if formula is not None else 0.0
        tensors = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
        nbytes = float(sum(t.numel() * t.element_size() for t in tensors))
        compute_s, memory_s = flops / self.peak_flops, nbytes / self.bandwidth(nbytes) if nbytes else 0.0
        self.flops += flops
        self.bytes += nbytes
        self.seconds += max(compute_s, memory_s)
        if memory_s > compute_s:
            self.memory_bound_seconds += memory_s
        return out


# Ops that move no tensor data (metadata, views torch does not tag as views, allocation without initialisation).
_NO_TRAFFIC = {_aten.empty, _aten.empty_like, _aten.empty_strided, _aten.detach, _aten.alias, _aten.lift_fresh,
               _aten._unsafe_view, _aten._local_scalar_dense, _aten.sym_size, _aten.sym_stride,
               _aten.sym_numel}  # fmt: skip


def roofline(fn: Callable[[], Any], peak_flops: float, curve: dict[int, float]) -> Roofline:
    """Run ``fn`` once under :class:`Roofline` and return the counter."""
    with Roofline(peak_flops, curve) as counter:
        fn()
    return counter
