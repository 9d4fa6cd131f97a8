"""What produced a run: code version, packages, hardware, container image, simulator builds."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from marie.runtime import cpu_model, matmul_peak_gflops, memory_bandwidth_gbs

PACKAGES = (
    "marie-repro", "torch", "numpy", "jax", "jaxlib", "jaxmarl", "pettingzoo", "mpe2", "mujoco",
    "gymnasium", "gymnasium-robotics", "gfootball", "smac", "pysc2",
)  # fmt: skip


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def collect(env_versions: dict[str, str], argv: list[str], device: Any = "cpu") -> dict[str, Any]:
    import torch

    sha = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_sha": sha,
        "git_dirty": bool(dirty) if dirty is not None else None,
        "command": [Path(sys.argv[0]).name, *argv],
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        # this run's machine at its own thread count: every wall-clock of the run is read against it
        "matmul_peak_gflops": round(matmul_peak_gflops(device, reps=3), 1),
        "memory_bandwidth_gbs": round(memory_bandwidth_gbs(device, reps=3), 1),
        "env_versions": env_versions,
        "container_image": os.environ.get("MARIE_IMAGE"),
        "container_image_digest": os.environ.get("MARIE_IMAGE_DIGEST") or None,  # empty: no image was used
        "sc2_build": os.environ.get("SC2_BUILD"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        # floating-point results, hence trajectories, depend on the CPU model (marie.runtime.cpu_model)
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }


def with_earlier_cpus(previous: dict[str, Any] | None, current: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """On resume: ``current`` with ``cpu_models_before`` (the CPU models the run ran on before this start, oldest
    first, one entry per change of model; from the ``previous`` provenance), and a one-line note when this start's CPU
    model is not the last one's.

    A run resumed on another CPU model (a cluster rescheduling a killed job on another node type) continues correctly
    but not bit-identically: its floats, hence its trajectory, follow the new CPU's kernels from the resume on."""
    if not previous:
        return current, None
    before = [str(m) for m in previous.get("cpu_models_before", []) if m]
    last = previous.get("cpu_model")
    if last and (not before or before[-1] != str(last)):  # one entry per change of model, not per start
        before.append(str(last))
    if not before:  # written before CPU models were recorded: nothing known to compare with
        return current, None
    note = None
    if before[-1] != current.get("cpu_model"):
        note = (f"note: resuming on another CPU model ({current.get('cpu_model')}; the checkpoint's run was on "
                f"{before[-1]}): the run continues correctly, but not bit-identically to an uninterrupted run")
    return current | {"cpu_models_before": before}, note
