"""Helpers for workflow tests: run the real Snakemake of the venv on a private copy of the workflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The checkout's .venv (`make setup`), else the environment running the tests.
VENV_BIN = REPO / ".venv" / "bin" if (REPO / ".venv" / "bin" / "snakemake").exists() else Path(sys.executable).parent
SNAKEMAKE = VENV_BIN / "snakemake"
WORKFLOW_FILES = [
    "Snakefile",
    "Makefile",
    "profiles",
    "experiments",
    "analysis",
    "marie",  # the workflow reads run names and layout from marie/contract.py
    "containers/images.py",
    "results/reference",
    "results/baselines",
]

sys.path.insert(0, str(REPO / "tests" / "analysis"))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # experiments.execution


def copy_workflow(dest: Path) -> Path:
    """The workflow (Snakefile, rules, suites, analysis code, reference and baseline data) copied to dest."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, target)
    return dest


def snakemake(
    cwd: Path, *args: str, timeout: int = 300, extra_path: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the venv's snakemake with the venv's bin first on PATH (so `marie` and `python` resolve)."""
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join(p for p in (extra_path, str(VENV_BIN), env.get("PATH", "")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [str(SNAKEMAKE), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
