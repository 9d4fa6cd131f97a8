"""scripts/reward_probe.py: the ridge fit it reports, and a real run directory end to end."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "reward_probe.py"


def load_probe():
    spec = importlib.util.spec_from_file_location("reward_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ridge_mae_finds_a_linear_reward_and_not_noise():
    probe = load_probe()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 5))
    assert probe.ridge_mae(x, x @ np.arange(1.0, 6.0) + 0.5) < 1e-3
    noise = rng.normal(size=2000)
    assert probe.ridge_mae(x, noise) > 0.9 * np.abs(noise - np.median(noise)).mean()


def test_a_missing_checkpoint_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stdout and len(result.stdout.splitlines()) == 1


@pytest.mark.slow
def test_probe_runs_on_a_smoke_marie_run(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "marie", "train", "--env", "smax", "--env_name", "3m", "--seed", "1",
               "--steps", "700", "--preset", "smoke", "--out-dir", str(run)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    probe = [sys.executable, str(SCRIPT), str(run), "--mlp", "--world-model", "1", "--set", "marie.world_model.lr=3e-4"]
    result = subprocess.run(probe, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "linear fit on reconstructed obs + actions" in result.stdout and "MLP fit on tokens" in result.stdout
    assert "after 1 rounds" in result.stdout and "ridge from the aggregated token's output" in result.stdout


def test_a_missing_config_or_a_bad_override_is_one_line_and_exit_2(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "latest.pt").write_bytes(b"")
    result = subprocess.run([sys.executable, str(SCRIPT), str(run)], capture_output=True, text=True)
    assert result.returncode == 2 and "config.resolved.yaml does not exist" in result.stdout
    assert len(result.stdout.splitlines()) == 1
    (run / "config.resolved.yaml").write_text("run:\n  algo: marie\n")
    bad = [sys.executable, str(SCRIPT), str(run), "--set", "nonsense"]
    result = subprocess.run(bad, capture_output=True, text=True)
    assert result.returncode == 2 and "malformed override 'nonsense'" in result.stdout
    assert len(result.stdout.splitlines()) == 1


def test_mlp_fit_finds_a_nonlinear_reward():
    import torch

    probe = load_probe()
    torch.manual_seed(1)
    x = torch.randn(3000, 3)
    target = x[:, 0] ** 2 + torch.sin(2 * x[:, 1])  # no linear part: a linear fit stays near the median's error
    assert probe.mlp_mae(x, target, steps=1500) < 0.5 * float((target - target.median()).abs().mean())
