import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def marie_cmd() -> list[str]:
    exe = BIN / "marie"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "marie"]


def run_marie(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(marie_cmd() + list(args), capture_output=True, text=True, timeout=timeout, env=full_env)


@pytest.fixture
def marie():
    return run_marie


def has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    yield


def pytest_report_header(config):
    return f"marie repo: {REPO}; chromium: {shutil.which('chromium') or 'absent'}"
