"""End-to-end runs of the real entry point on tiny budgets, the run-directory contract, and resume after kill -9."""

import csv
import json
import math
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import torch
import yaml

from marie.config import from_dict
from marie.training.run_dir import RunDirectory
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
    assert prov["matmul_peak_gflops"] > 0 and prov["memory_bandwidth_gbs"] > 0  # the machine its wall-clocks ran on
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


def _load_state(out):
    return RunDirectory(out).load_checkpoint()  # weights_only, as a resume loads it


def resume_after_kill(tmp_path, train_args, learned, every=50):
    """Run once uninterrupted, and once killed with SIGKILL just after a checkpoint taken after learning updates
    (``learned(agent_state)``; checkpoints every ``every`` env steps) and then resumed. Checks that the killed run
    left such a checkpoint, that the rerun resumed from its step, and that the CSV before its offset is untouched.
    Returns both run directories."""
    args = ["train", *train_args, *SMOKE, "--set", f"run.checkpoint_every_steps={every}",
            "--set", "run.checkpoint_interval_s=1e9"]  # fmt: skip
    ref = tmp_path / "reference"
    done = run_marie(*args, "--out-dir", str(ref))
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "killed"
    ckpt = out / "checkpoints" / "latest.pt"
    proc = subprocess.Popen(marie_cmd() + args + ["--out-dir", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    deadline, seen = time.time() + 300, None
    while time.time() < deadline and proc.poll() is None:
        stamp = ckpt.stat().st_mtime_ns if ckpt.exists() else None
        if stamp is not None and stamp != seen:
            seen = stamp
            if learned(_load_state(out)["agent"]):
                break
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed, "the run finished before a checkpoint after learning updates could be killed; raise the budget"
    assert not (out / "COMPLETED").exists()
    state = _load_state(out)  # what is on disk after the kill (maybe a later checkpoint than the one seen)
    step, offset = state["counters"]["env_steps"], state["metrics_bytes"]
    assert step > 0 and learned(state["agent"])
    kept = (out / "metrics.csv").read_bytes()[:offset]
    assert len(kept) == offset
    resumed = run_marie(*args, "--out-dir", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from env step {step}\n" in resumed.stderr, resumed.stderr[-2000:]
    assert (out / "metrics.csv").read_bytes()[:offset] == kept
    return ref, out


def assert_same_leaves(a, b, path):
    """Every tensor, array and value of two nested states is identical (bit for bit)."""
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys differ"
        for key in a:
            assert_same_leaves(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_leaves(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{path} differs after resume"
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), f"{path} differs after resume"
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def assert_same_result(ref, out):
    """Same metrics (less timings) and the same final state: every part of the agent (models, optimisers, buffers,
    its RNG streams), the global RNGs and the counters (less wall-clock)."""
    assert _comparable(_rows(ref / "metrics.csv")) == _comparable(_rows(out / "metrics.csv"))
    a, b = _load_state(ref), _load_state(out)
    for state in (a, b):
        state["agent"].pop("timings", None)  # wall-clock seconds per phase
        state["counters"].pop("wall_s")
    assert_same_leaves(a["agent"], b["agent"], "agent")
    assert_same_leaves(a["rng"], b["rng"], "rng")
    assert a["counters"] == b["counters"]
    return set(a["agent"])


def test_mappo_resume_after_sigkill_matches_uninterrupted(tmp_path):
    if not has_module("jaxmarl"):
        pytest.skip("jaxmarl not installed")
    train_args = ["--algo", "mappo", "--env", "smax", "--env_name", "3m", "--steps", "4000", "--n_workers", "2"]
    ref, out = resume_after_kill(tmp_path, train_args, learned=lambda agent: agent["updates"] >= 3, every=200)
    parts = assert_same_result(ref, out)
    assert {"actor", "critic", "actor_opt", "critic_opt", "value_norm", "pending"} <= parts


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
