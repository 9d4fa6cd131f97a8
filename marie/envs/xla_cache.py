"""A disk cache of XLA's compiled SMAX kernels, shared by every process on a machine.

Each SMAX process otherwise compiles the same jitted reset and step again (per batch size): ~10 s of a short run
(measured on SMAX 3m: a 200-step MAPPO run took 25.7 s with a cold cache, 15.6 s with a warm one), paid by every job
of a suite. A cache hit returns the executable XLA compiled before, so results are the same (a test checks it).

Where: ``$MARIE_XLA_CACHE`` if set (empty or ``off`` turns it off); JAX's own ``JAX_COMPILATION_CACHE_DIR`` wins over
both; else ``$XDG_CACHE_HOME/marie/xla`` (``~/.cache/marie/xla``). Entries go in a subfolder named after the jax and
jaxlib versions and the CPU (model and instruction-set flags), so a home folder shared by different machines of a
cluster never serves code compiled for another CPU; XLA's loader also refuses an entry built for other CPU features
(it then compiles as without a cache).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
from pathlib import Path

from marie.runtime import cpu_fields

ENV_VAR = "MARIE_XLA_CACHE"


def _cpu_fingerprint() -> str:
    """Vendor, family, model, model name and instruction-set flags of the first CPU (Linux); else the platform's."""
    fields = cpu_fields()
    if not fields:
        import platform

        return f"{platform.machine()} {platform.processor()}"
    keys = ("vendor_id", "cpu family", "model", "model name", "flags")
    return "\n".join(f"{key}: {fields.get(key, '')}" for key in keys)


def cache_dir() -> Path | None:
    """The folder this machine's entries go to, or None when the cache is off or JAX's own variable decides."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None  # JAX reads it itself
    chosen = os.environ.get(ENV_VAR)
    if chosen is not None and chosen.strip().lower() in ("", "off", "0", "false"):
        return None
    if chosen:
        root = Path(chosen)
    else:
        try:
            root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "marie/xla"
        except (RuntimeError, KeyError):  # no home folder to be found (some containers): run without the cache
            return None
    versions = "-".join(importlib.metadata.version(name) for name in ("jax", "jaxlib"))
    cpu = hashlib.sha256(_cpu_fingerprint().encode()).hexdigest()[:12]
    return root / f"jax{versions}-cpu{cpu}"


def enable(jax_module) -> Path | None:
    """Point ``jax_module``'s persistent compilation cache at ``cache_dir()`` and cache every kernel (SMAX's compile
    in ~0.5-5 s each, under JAX's default 1 s threshold for some). Returns the folder, or None when off."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: run without the cache rather than fail
    try:
        jax_module.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax_module.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        jax_module.config.update("jax_compilation_cache_dir", str(folder))
    except (AttributeError, KeyError, ValueError):  # a jax without these options: it only costs the compile time
        return None
    return folder
