"""End-to-end runs of the real entry point on tiny budgets, the run-directory contract, and resume after kill -9."""

import csv
import json
import os
import signal
import subprocess
import time

import pytest
import torch
import yaml

from marie.config import from_dict
from tests.conftest import has_module, marie_cmd, run_marie

SMOKE = ["--preset", "smoke", "--threads", "1", "--progress", "none"]
ENVS = {
    "smax": (["--env", "smax", "--env_name", "3m"], "jaxmarl", 1500),
    "mpe": (["--env", "pettingzoo", "--env_name", "simple_spread_v3"], "mpe2", 600),
    "mamujoco": (["--env", "mamujoco", "--env_name", "HalfCheetah", "--agent_conf", "2x3"], "gymnasium_robotics", 1000),
}


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def check_run_directory(out, algo, steps):
    for name in ("config.resolved.yaml", "provenance.json", "metrics.csv", "checkpoints/latest.pt", "COMPLETED"):
        assert (out / name).exists(), name
    cfg = from_dict(yaml.safe_load((out / "config.resolved.yaml").read_text()))
    assert cfg.run.algo == algo and cfg.run.preset == "smoke"
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["torch"].startswith("2.13") and "packages" in prov and prov["preset"] == "smoke"
    assert prov["matmul_peak_gflops"] > 0  # the machine every wall-clock of this run is read against
    rows = _rows(out / "metrics.csv")
    assert list(rows[0]) == ["env", "map", "algo", "seed", "step", "metric", "value", "n_episodes", "eval_mode"]
    evals = [r for r in rows if r["metric"].startswith("eval/")]
    assert evals and all(r["eval_mode"] == "paper" and int(r["n_episodes"]) == cfg.eval.episodes for r in evals)
    assert all(r["eval_mode"] == "" for r in rows if not r["metric"].startswith("eval/"))
    done = json.loads((out / "COMPLETED").read_text())
    assert done["env_steps"] >= steps
    assert max(int(r["step"]) for r in evals) >= steps  # a final evaluation at (or past) the budget
    return rows


@pytest.mark.parametrize("name", list(ENVS))
def test_mappo_smoke_run_and_rerun_is_noop(tmp_path, name):
    args, module, steps = ENVS[name]
    if not has_module(module):
        pytest.skip(f"{module} not installed")
    out = tmp_path / name
    result = run_marie("train", "--algo", "mappo", *args, "--steps", str(steps), "--n_workers", "2", *SMOKE,
                       "--out-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    check_run_directory(out, "mappo", steps)
    before = (out / "metrics.csv").read_bytes()
    again = run_marie("train", "--algo", "mappo", *args, "--steps", str(steps), "--n_workers", "2", *SMOKE,
                      "--out-dir", str(out))  # fmt: skip
    assert again.returncode == 0 and "already complete" in again.stderr
    assert (out / "metrics.csv").read_bytes() == before


def _comparable(rows):
    timing = ("/seconds", "/steps_per_s")  # wall-clock measurements differ between any two runs
    return [(r["step"], r["metric"], r["value"]) for r in rows if not r["metric"].endswith(timing)]


def resume_after_kill(tmp_path, train_args, kill_after_s):
    """Run once uninterrupted and once killed with SIGKILL then resumed; return both run dirs."""
    args = ["train", *train_args, *SMOKE, "--set", "run.checkpoint_interval_s=0"]
    ref = tmp_path / "reference"
    assert run_marie(*args, "--out-dir", str(ref)).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen(marie_cmd() + args + ["--out-dir", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while not (out / "checkpoints" / "latest.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(kill_after_s)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before it could be killed; raise the budget"
    assert not (out / "COMPLETED").exists()
    resumed = run_marie(*args, "--out-dir", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stderr or "progress" in " ".join(args)
    return ref, out


def assert_same_result(ref, out):
    assert _comparable(_rows(ref / "metrics.csv")) == _comparable(_rows(out / "metrics.csv"))
    a = torch.load(ref / "checkpoints" / "latest.pt", weights_only=False)["agent"]
    b = torch.load(out / "checkpoints" / "latest.pt", weights_only=False)["agent"]
    for key in ("actor", "critic"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name} differs after resume"


def test_mappo_resume_after_sigkill_matches_uninterrupted(tmp_path):
    if not has_module("jaxmarl"):
        pytest.skip("jaxmarl not installed")
    train_args = ["--algo", "mappo", "--env", "smax", "--env_name", "3m", "--steps", "4000", "--n_workers", "2"]
    ref, out = resume_after_kill(tmp_path, train_args, kill_after_s=1.0)
    assert_same_result(ref, out)


def test_a_finished_run_with_another_config_is_refused(tmp_path):
    if not has_module("jaxmarl"):
        pytest.skip("jaxmarl not installed")
    out = tmp_path / "run"
    args = ["train", "--algo", "mappo", "--env", "smax", "--env_name", "3m", *SMOKE, "--out-dir", str(out)]
    assert run_marie(*args, "--steps", "300").returncode == 0
    before = (out / "metrics.csv").read_bytes()
    changed = run_marie(*args, "--steps", "600")
    assert changed.returncode == 2 and "run.steps" in changed.stderr and len(changed.stderr.strip().splitlines()) == 1
    assert run_marie(*args, "--steps", "300", "--threads", "2").returncode == 0  # threads do not change results
    assert (out / "metrics.csv").read_bytes() == before
