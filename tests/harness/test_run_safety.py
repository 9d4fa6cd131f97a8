"""Faults a cluster or a user causes: a damaged or altered run directory, two processes on one directory, a NaN/inf in
training, SIGTERM. Each case gives one line naming the file and what to do (or exit 4 / 143) and changes nothing it
should not. Runs use MAPPO/MARIE on MPE (no JAX start-up) with the smoke preset."""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import signal
import subprocess
import time

import pytest
import torch

from marie.training.run_dir import RunDirectory
from tests.conftest import has_module, marie_cmd, run_marie
from tests.harness.test_marie_runs import SMALL_MPE
from tests.harness.test_runs import SMOKE

pytestmark = pytest.mark.skipif(not has_module("mpe2"), reason="mpe2 not installed")
MPE = ["--env", "pettingzoo", "--env_name", "simple_spread_v3", "--n_workers", "1"]
BASE = ["train", "--algo", "mappo", *MPE, "--steps", "300", *SMOKE, "--set", "run.checkpoint_every_steps=50"]


def _error_line(result: subprocess.CompletedProcess) -> str:
    """The one message line (library warnings, which are not ours, aside); fails on a traceback."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("marie:")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "run"
    result = run_marie(*BASE, "--out-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture
def unfinished(finished_run, tmp_path):
    """A copy of the run as a kill -9 before its end leaves it: a checkpoint, no COMPLETED."""
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    (out / "COMPLETED").unlink()
    return out


def _snapshot(out):
    return {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


class _RunsCode:
    """Unpickling this runs code: what a tampered checkpoint could do with weights_only=False."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _tampered(out):
    torch.save({"agent": _RunsCode(out / "pwned")}, out / "checkpoints" / "latest.pt")


@pytest.mark.parametrize(
    "damage,hint",
    [
        (lambda out: (out / "checkpoints/latest.pt").write_bytes((out / "checkpoints/latest.pt").read_bytes()[:300]),
         "latest.pt is not a usable checkpoint"),
        (lambda out: (out / "checkpoints/latest.pt").write_bytes(b""), "latest.pt is not a usable checkpoint"),
        (lambda out: (out / "checkpoints/latest.pt").write_bytes(os.urandom(2000)), "latest.pt is not a usable"),
        (_tampered, "holds objects other than tensors"),
        (lambda out: (out / "config.resolved.yaml").write_text("env: [unclosed\n"), "resolved.yaml is not valid"),
        (lambda out: (out / "metrics.csv").unlink(), "metrics.csv has 0 bytes but the checkpoint"),
        (lambda out: os.truncate(out / "metrics.csv", 100), "metrics.csv has 100 bytes but the checkpoint"),
    ],
    ids=["truncated", "empty", "garbage", "code", "yaml", "csv-deleted", "csv-truncated"],
)
def test_a_damaged_run_directory_is_refused_in_one_line_and_left_alone(unfinished, damage, hint):
    damage(unfinished)
    before = _snapshot(unfinished)
    result = run_marie(*BASE, "--out-dir", str(unfinished))
    assert result.returncode == 2
    line = _error_line(result)
    assert hint in line and ("delete" in line or "restore" in line), line
    assert _snapshot(unfinished) == before  # no NUL-padded CSV, no new config, no lock file
    assert not (unfinished / "pwned").exists()


def test_a_deleted_config_is_checked_against_the_checkpoints_copy(unfinished):
    (unfinished / "config.resolved.yaml").unlink()
    changed = run_marie(*BASE, "--set", "mappo.ppo.actor_lr=0.01", "--out-dir", str(unfinished))
    assert changed.returncode == 2
    line = _error_line(changed)
    assert "mappo.ppo.actor_lr" in line and "checkpoint's copy" in line, line
    assert not (unfinished / "config.resolved.yaml").exists()
    same = run_marie(*BASE, "--out-dir", str(unfinished))
    assert same.returncode == 0, same.stderr[-2000:]
    assert (unfinished / "config.resolved.yaml").exists() and (unfinished / "COMPLETED").exists()


def test_a_resume_on_another_cpu_model_says_so_and_records_the_earlier_one(unfinished):
    prov_path = unfinished / "provenance.json"
    here = json.loads(prov_path.read_text())["cpu_model"]
    same = run_marie(*BASE, "--out-dir", str(unfinished))  # same CPU model: no note
    assert same.returncode == 0, same.stderr[-3000:]
    assert "another CPU model" not in same.stderr
    assert json.loads(prov_path.read_text())["cpu_models_before"] == [here]

    (unfinished / "COMPLETED").unlink()
    prov = json.loads(prov_path.read_text()) | {"cpu_model": "OtherVendor family 1 model 2 (Other CPU)"}
    prov_path.write_text(json.dumps(prov))
    moved = run_marie(*BASE, "--out-dir", str(unfinished))
    assert moved.returncode == 0, moved.stderr[-3000:]
    notes = [line for line in moved.stderr.splitlines() if "another CPU model" in line]
    assert len(notes) == 1 and "OtherVendor family 1 model 2" in notes[0] and "not bit-identically" in notes[0]
    after = json.loads(prov_path.read_text())
    assert after["cpu_model"] == here
    assert after["cpu_models_before"] == [here, "OtherVendor family 1 model 2 (Other CPU)"]


def test_a_second_process_on_a_run_directory_gets_one_line(unfinished):
    with open(unfinished / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what a running `marie train` holds
        handle.write("4242\n")
        handle.flush()
        result = run_marie(*BASE, "--out-dir", str(unfinished))
    assert result.returncode == 2
    line = _error_line(result)
    assert "in use by another" in line and "4242" in line, line
    assert not (unfinished / "COMPLETED").exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(unfinished):
    (unfinished / ".lock").write_text("999999\n")  # left by a kill -9: the file stays, the flock died with it
    result = run_marie(*BASE, "--out-dir", str(unfinished))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (unfinished / "COMPLETED").exists() and not (unfinished / ".lock").exists()


def test_lock_is_exclusive_and_leaves_nothing_in_a_directory_it_created(tmp_path):
    from marie.errors import RunDirectoryError

    run = RunDirectory(tmp_path / "a" / "b")
    with run.lock():
        assert (run.root / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(RunDirectoryError, match="in use"):
            with run.lock():
                pass
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--algo", "mappo", *MPE, "--set", "mappo.ppo.entropy_coef=inf"],  # loss -inf
        ["--algo", "mappo", *MPE, "--set", "mappo.ppo.actor_lr=inf"],  # finite loss, the step makes the weights inf
        [*SMALL_MPE, "--set", "marie.ppo.entropy_coef=inf"],  # MARIE's PPO on imagined rollouts
    ],
    ids=["mappo-entropy", "mappo-lr", "marie-entropy"],
)
def test_a_non_finite_update_stops_with_exit_4_keeping_the_last_good_checkpoint(tmp_path, args):
    out = tmp_path / "run"
    cmd = ["train", *args, "--steps", "400", *SMOKE, "--set", "run.checkpoint_every_steps=25"]
    result = run_marie(*cmd, "--out-dir", str(out))
    assert result.returncode == 4, result.stderr[-3000:]
    line = _error_line(result)
    assert "non-finite" in line and "last good checkpoint" in line, line
    state = RunDirectory(out).load_checkpoint()
    assert 0 < state["counters"]["env_steps"] < 400 and not (out / "COMPLETED").exists()
    floats = [t for t in _tensors(state["agent"]) if t.is_floating_point()]
    assert floats and all(bool(torch.isfinite(t).all()) for t in floats)


def _tensors(node):
    if isinstance(node, torch.Tensor):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _tensors(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _tensors(value)


def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes_from_it(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--algo", "mappo", *MPE, "--steps", "3000", *SMOKE, "--set", "run.checkpoint_interval_s=1e9"]
    proc = subprocess.Popen(marie_cmd() + args + ["--out-dir", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    csv_path, deadline = out / "metrics.csv", time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (csv_path.exists() and csv_path.stat().st_size > 3000):
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be terminated"
    assert not (out / "checkpoints" / "latest.pt").exists()  # only the signal can have written one
    proc.send_signal(signal.SIGTERM)
    stderr = proc.communicate(timeout=120)[1]
    assert proc.returncode == 143, stderr[-3000:]
    state = RunDirectory(out).load_checkpoint()
    step = state["counters"]["env_steps"]
    assert f"marie: SIGTERM: stopped with a checkpoint at env step {step};" in stderr
    assert state["metrics_bytes"] == csv_path.stat().st_size and step > 0
    resumed = run_marie(*args, "--out-dir", str(out))
    assert resumed.returncode == 0 and f"resuming from env step {step}\n" in resumed.stderr


def test_stop_requests_set_a_flag_then_interrupt():
    from marie.training.signals import StopRequests

    previous = signal.getsignal(signal.SIGTERM)
    with StopRequests() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested == "SIGTERM" and stop.exit_code == 143
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is previous


def test_checkpoints_round_trip_numpy_state_under_weights_only(tmp_path):
    import numpy as np

    rng = np.random.default_rng(5)
    state = {"agent": {"buf": {"obs": rng.random((3, 2), dtype=np.float32), "done": np.zeros(4, bool),
                               "idx": np.arange(3)}, "np_rng": rng.bit_generator.state, "scalar": np.float32(1.5),
                       "opt": {0: torch.ones(2)}, "pending": [{"won": math.nan, "n": 3}]},
             "rng": {"numpy": np.random.get_state()}, "counters": {}, "metrics_bytes": 0,
             "config": "a: 1\n"}  # fmt: skip
    run = RunDirectory(tmp_path)
    run.save_checkpoint(state)
    torch.load(run.checkpoint_path, weights_only=True)  # loads without any allow-listed class
    back = run.load_checkpoint()
    for key in ("obs", "done", "idx"):
        got, want = back["agent"]["buf"][key], state["agent"]["buf"][key]
        assert type(got) is np.ndarray and got.dtype == want.dtype and np.array_equal(got, want)
    assert back["agent"]["np_rng"] == state["agent"]["np_rng"]
    assert type(back["agent"]["scalar"]) is np.float32 and back["agent"]["scalar"] == 1.5
    assert back["rng"]["numpy"][0] == "MT19937" and np.array_equal(back["rng"]["numpy"][1], state["rng"]["numpy"][1])
    with pytest.raises(TypeError, match=r"state\['agent'\]\['x'\] is a .*Path"):
        run.save_checkpoint({"agent": {"x": tmp_path}})
