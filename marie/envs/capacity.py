"""How many env copies this machine can hold: ``--n_workers`` and ``eval.num_envs`` are bounded before a run starts,
instead of memory growing until the OS kills the job (``--n_workers 100000`` was accepted).

Every copy holds a simulator and one episode in flight; the learner needs the rest. The per-copy costs are rough upper
estimates (MiB): SMAX and MPE measured here (3m: ~0.1 MiB per copy for 11-step episodes, so ~1 MiB at its 100-step
limit; simple_spread_v3: ~2 MiB per copy), the others from their simulators (a StarCraft II client ~1.5 GiB, a GRF
engine ~300 MiB, a MuJoCo model ~10 MiB). Half of the available memory is left to the learner. Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path

from marie.errors import UsageError

COPY_MIB = {"smax": 2, "pettingzoo": 4, "mamujoco": 10, "football": 300, "starcraft": 1536}
LEARNER_SHARE = 0.5  # of the available memory, kept for the learner


def available_bytes() -> int:
    """Memory this process may still use: MemAvailable, lowered by a cgroup limit (a SLURM job's --mem)."""
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:  # cgroup v2
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            available = min(available, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return available


def max_env_copies(env: str, available: int | None = None) -> int:
    available = available_bytes() if available is None else available
    return max(1, int(available * (1 - LEARNER_SHARE) // (COPY_MIB[env] * 2**20)))


def check_env_copies(env: str, env_name: str, counts: dict[str, int], available: int | None = None) -> None:
    """One-line UsageError naming the setting, the bound and why, when a copy count exceeds what fits here."""
    available = available_bytes() if available is None else available
    bound = max_env_copies(env, available)
    for name, count in counts.items():
        if count > bound:
            raise UsageError(
                f"invalid {name} {count}: this machine can hold about {bound} copies of {env}:{env_name} "
                f"({available / 2**30:.1f} GiB available, ~{COPY_MIB[env]} MiB per copy, half kept for the learner)"
            )
