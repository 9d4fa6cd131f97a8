"""Process-level runtime helpers shared by training, bench and the algorithms: seeds, RNG state, device, threads.

torch is imported inside the functions: ``limit_threads`` must run before torch (or JAX) starts its thread pools,
so importing this module must not import torch.
"""

from __future__ import annotations

import ctypes
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from marie.errors import UsageError

if TYPE_CHECKING:
    import torch

TRAIN_STREAM, EVAL_STREAM = 0, 1  # seed streams of derive_seed


def derive_seed(random_seed: int, stream: int, index: int) -> int:
    """Distinct, reproducible env seeds per (stream, index): stream 0 = training episodes, 1 = evaluation."""
    return int(np.random.SeedSequence([random_seed, stream, index]).generate_state(1)[0] % (2**31 - 1))


def seed_everything(random_seed: int) -> None:
    import torch

    random.seed(random_seed)
    np.random.seed(random_seed)
    torch.manual_seed(random_seed)


def rng_state() -> dict[str, Any]:
    """The global RNG states (python, numpy, torch), for a checkpoint."""
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def resolve_device(name: str) -> "torch.device":
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but torch sees no CUDA device; valid here: cpu, auto")
    return torch.device(name)


def limit_threads(threads: int | None) -> None:
    """Cap the OpenMP/MKL/XLA CPU thread pools. Must run before torch/jax start their thread pools."""
    if not threads:
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    xla = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in xla:
        os.environ["XLA_FLAGS"] = f"{xla} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"


def set_torch_threads(threads: int | None) -> None:
    """torch's intra-op threads (0/None: torch's default)."""
    import torch

    if threads:
        torch.set_num_threads(threads)


def _load_glibc_malloc():
    """glibc's ``malloc_trim`` and ``mallopt``, or (None, None) off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return None, None


_MALLOC_TRIM, _MALLOPT = _load_glibc_malloc()
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (glibc's malloc.h)
_MMAP_THRESHOLD_BYTES = 32 << 20  # the ceiling of glibc's own adaptive threshold: larger blocks stay mmap'ed


def keep_freed_heap(megabytes: int) -> bool:
    """Let glibc keep up to ``megabytes`` of freed heap memory for reuse (0: leave glibc's defaults). Returns whether
    the setting was applied (False off glibc).

    By default glibc hands freed memory at the top of its heap back to the OS as soon as more than an adaptive
    threshold is free. A world-model update frees its activations at the end and allocates them again at the next
    update, so every update faulted ~5-8K pages back in (quick preset, SMAX 3m: ~13 ms of kernel time in a ~170 ms
    update). Keeping the freed pages changes no number; ``release_free_memory`` still returns them between phases.
    Setting a trim threshold turns glibc's adaptive thresholds off, so the mmap threshold is fixed as well, at the
    adaptive one's ceiling (blocks above it are mapped and unmapped, as before).
    """
    if megabytes <= 0 or _MALLOPT is None:
        return False
    return bool(_MALLOPT(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and bool(_MALLOPT(_M_TRIM_THRESHOLD, megabytes << 20))


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS between phases: the world-model update and the imagination allocate
    differently sized blocks, and without this glibc keeps both phases' peaks resident (measured: ~1.5 GB more)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def matmul_peak_gflops(device: "torch.device | str" = "cpu", size: int = 2048, reps: int = 5) -> float:
    """Best-of-``reps`` fp32 ``size`` x ``size`` matmul rate with the current thread count. Machines of one kind differ
    ~2x in speed, so every wall-clock we quote (bench, run provenance, the report) is read against this number."""
    import torch

    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(0)  # leaves the run's global RNG stream untouched
    a = torch.randn(size, size, device=device, generator=generator)
    b = torch.randn(size, size, device=device, generator=generator)
    a @ b  # warm-up
    return 2 * size**3 / _best_seconds(lambda: a @ b, reps, device) / 1e9


def cpu_fields() -> dict[str, str]:
    """The first CPU's ``/proc/cpuinfo`` fields (``model name``, ``flags``, ...); empty where there is no such file."""
    try:
        first_cpu = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return {}
    pairs = (line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def cpu_model() -> str:
    """Vendor, family, model and model name of the first CPU (Linux), else what ``platform`` knows.

    Floating-point results depend on it, not only on the vector ISA: MKL and oneDNN pick different kernels on
    different CPU models, so the same seed gives other trajectories on another model (measured: the quick suite's
    MARIE runs differ between an Intel Xeon and an AMD EPYC machine, both AVX512)."""
    info = cpu_fields()
    try:
        return f"{info['vendor_id']} family {info['cpu family']} model {info['model']} ({info['model name']})"
    except KeyError:
        import platform

        return platform.processor() or platform.machine()


def memory_bandwidth_gbs(device: "torch.device | str" = "cpu", nbytes: int = 2**28, reps: int = 5) -> float:
    """Best-of-``reps`` rate of a float32 tensor copy whose read + write traffic is ``nbytes`` (GB/s, at the current
    thread count). At the default 256 MB it is the main-memory rate, the other limit (besides the matmul peak) that
    a phase's wall-clock is read against: elementwise work and the KV-cached attention are bound by it."""
    import torch

    device = torch.device(device)
    src = torch.ones(nbytes // 8, device=device)  # nbytes / 2 read, nbytes / 2 written
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up: pages touched, caches filled
    loops = max(1, 2**26 // nbytes)  # ~64 MB of traffic per timing, so small sizes are not timer noise
    return nbytes / _best_seconds(lambda: dst.copy_(src), reps, device, loops) / 1e9


def _best_seconds(work: Callable[[], object], reps: int, device: torch.device, loops: int = 1) -> float:
    """Shortest of ``reps`` timings of ``loops`` calls of ``work`` (queued GPU work included), per call."""
    import torch

    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(loops):
            work()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / loops)
    return best
