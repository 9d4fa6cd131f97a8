"""wandb and TensorBoard across a resume, with stand-ins for both packages (neither needs to be installed): the wandb
run id lives in the run directory and every restart resumes that run, env steps are the x-axis, and TensorBoard
purges the points logged after the checkpoint."""

from __future__ import annotations

import sys
import types

import pytest

from marie.config import build_config
from marie.training.sinks import STEP_KEY, MetricSinks, require_sinks


class FakeWandbRun:
    def __init__(self, calls):
        self.calls = calls

    def define_metric(self, name, **kw):
        self.calls.append(("define_metric", name, kw))

    def log(self, data):
        self.calls.append(("log", data))

    def finish(self):
        self.calls.append(("finish",))


@pytest.fixture
def fake_wandb(monkeypatch):
    calls = []
    module = types.ModuleType("wandb")
    module.init = lambda **kw: calls.append(("init", kw)) or FakeWandbRun(calls)
    monkeypatch.setitem(sys.modules, "wandb", module)
    return calls


def test_wandb_resumes_the_run_whose_id_is_stored_in_the_run_directory(tmp_path, fake_wandb):
    cfg = build_config("smax", "3m", preset="smoke", overrides=["run.wandb_mode=offline"])
    first = MetricSinks(cfg, tmp_path)
    first.log(120, {"eval/win_rate": 0.5})
    first.close()
    run_id = (tmp_path / "wandb_run_id").read_text().strip()
    MetricSinks(cfg, tmp_path, resume_step=120).close()  # the restart after a kill or preemption
    inits = [kw for call, *rest in fake_wandb if call == "init" for kw in rest]
    assert len(inits) == 2 and run_id and all(kw["id"] == run_id and kw["resume"] == "allow" for kw in inits)
    assert ("define_metric", STEP_KEY, {}) in fake_wandb
    assert ("define_metric", "*", {"step_metric": STEP_KEY}) in fake_wandb
    assert ("log", {"eval/win_rate": 0.5, STEP_KEY: 120}) in fake_wandb


def test_another_run_directory_gets_another_wandb_run(tmp_path, fake_wandb):
    cfg = build_config("smax", "3m", preset="smoke", overrides=["run.wandb_mode=offline"])
    MetricSinks(cfg, tmp_path / "a").close()
    MetricSinks(cfg, tmp_path / "b").close()
    ids = [kw["id"] for call, *rest in fake_wandb if call == "init" for kw in rest]
    assert len(set(ids)) == 2


@pytest.fixture
def fake_tensorboard(monkeypatch):
    writers = []

    class SummaryWriter:
        def __init__(self, log_dir, purge_step=None):
            self.log_dir, self.purge_step, self.points = log_dir, purge_step, []
            writers.append(self)

        def add_scalar(self, key, value, step):
            self.points.append((key, value, step))

        def close(self):
            pass

    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)
    return writers


def test_tensorboard_purges_what_was_logged_after_the_checkpoint(tmp_path, fake_tensorboard):
    cfg = build_config("smax", "3m", preset="smoke", overrides=["run.tensorboard=true"])
    MetricSinks(cfg, tmp_path).close()
    resumed = MetricSinks(cfg, tmp_path, resume_step=500)
    resumed.log(520, {"train/return": 1.0})
    fresh, again = fake_tensorboard
    assert fresh.purge_step is None
    # points at the checkpoint's own step were logged before it and are not logged again: keep them
    assert again.purge_step == 501 and again.points == [("train/return", 1.0, 520)]


def test_a_missing_sink_package_is_refused(monkeypatch):
    from marie.errors import UsageError

    monkeypatch.setitem(sys.modules, "wandb", None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(UsageError, match="needs wandb"):
        require_sinks(build_config("smax", "3m", overrides=["run.wandb_mode=online"]))
    with pytest.raises(UsageError, match="needs tensorboard"):
        require_sinks(build_config("smax", "3m", overrides=["run.tensorboard=true"]))
    require_sinks(build_config("smax", "3m"))
