"""MARIE end to end through the real entry point: all three phases, the optional heads, and resume after kill -9."""

import csv

import pytest

from tests.conftest import has_module, run_marie
from tests.harness.test_runs import SMOKE, assert_same_result, check_run_directory, resume_after_kill

needs_jaxmarl = pytest.mark.skipif(not has_module("jaxmarl"), reason="jaxmarl not installed")
SMAX_3M = ["--env", "smax", "--env_name", "3m"]


def _metric_names(out):
    with open(out / "metrics.csv", newline="") as handle:
        return {row["metric"] for row in csv.DictReader(handle)}


@needs_jaxmarl
def test_marie_smoke_passes_through_all_three_phases(tmp_path):
    out = tmp_path / "run"
    result = run_marie("train", "--algo", "marie", *SMAX_3M, "--steps", "1500", "--n_workers", "2", *SMOKE,
                       "--ce_for_av", "--out-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    check_run_directory(out, "marie", 1500)
    names = _metric_names(out)
    for needed in ("tokenizer/reconstruction", "tokenizer/commitment", "world_model/obs", "world_model/reward",
                   "world_model/continuation", "world_model/avail", "actor_critic/policy_loss",
                   "actor_critic/value_loss", "eval/win_rate"):  # fmt: skip
        assert needed in names, needed


@pytest.mark.slow
@needs_jaxmarl
@pytest.mark.parametrize("flags", [["--tokenizer", "fsq"], ["--ce_for_r"], ["--ce_for_av"], ["--sample_temp", "20"]])
def test_marie_optional_paths_run(tmp_path, flags):
    out = tmp_path / "run"
    result = run_marie("train", "--algo", "marie", *SMAX_3M, "--steps", "1200", "--n_workers", "2", *SMOKE, *flags,
                       "--out-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "actor_critic/policy_loss" in _metric_names(out)


@pytest.mark.slow
@pytest.mark.skipif(not has_module("gymnasium_robotics"), reason="gymnasium-robotics not installed")
def test_marie_continuous_mamujoco_runs(tmp_path):
    out = tmp_path / "run"
    args = ["--env", "mamujoco", "--env_name", "HalfCheetah", "--agent_conf", "2x3", "--set", "env.episode_limit=50",
            "--steps", "900", "--n_workers", "1"]  # fmt: skip
    result = run_marie("train", "--algo", "marie", *args, *SMOKE, "--out-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "actor_critic/policy_loss" in _metric_names(out)


MARIE_PARTS = {"tokenizer", "tokenizer_opt", "world_model", "world_model_opt", "actor", "critic", "actor_opt",
               "critic_opt", "buffer", "episodes", "counters", "generator", "np_rng"}  # fmt: skip


def _after_actor_critic_rounds(rounds):
    return lambda agent: agent["counters"]["rounds"] >= rounds


@pytest.mark.slow
@needs_jaxmarl
def test_marie_resume_after_sigkill_in_world_model_phase(tmp_path):
    # Smoke schedule: rounds every 100 steps from 300, world model from round 2, actor-critic from round 3: the kill
    # follows a checkpoint taken after actor-critic updates, and the rerun goes through every phase again.
    train_args = ["--algo", "marie", *SMAX_3M, "--steps", "1200", "--n_workers", "1"]
    ref, out = resume_after_kill(tmp_path, train_args, _after_actor_critic_rounds(4), every=100)
    assert MARIE_PARTS <= assert_same_result(ref, out)


# A small MARIE on MPE (no JAX start-up: seconds per run) with a trained VQ tokenizer instead of MPE's fixed bins, so
# that every part of the agent (tokenizer, world model, actor, critic, old critic, their optimisers, both replay
# stores) learns before the kill; rounds every 50 steps from 50, world model from round 1, actor-critic from round 2.
SMALL_MPE = ["--algo", "marie", "--env", "pettingzoo", "--env_name", "simple_spread_v3", "--n_workers", "1",
             "--steps", "500", "--set", "marie.tokenizer.kind=vq", "--set", "marie.schedule.min_buffer=50",
             "--set", "marie.schedule.n_samples=50", "--set", "marie.schedule.world_model_start_round=1",
             "--set", "marie.schedule.actor_critic_start_round=2", "--set", "eval.interval=10000"]  # fmt: skip


@pytest.mark.skipif(not has_module("mpe2"), reason="mpe2 not installed")
def test_small_marie_resume_after_sigkill_matches_uninterrupted(tmp_path):
    ref, out = resume_after_kill(tmp_path, SMALL_MPE, _after_actor_critic_rounds(3), every=50)
    assert MARIE_PARTS | {"old_critic"} <= assert_same_result(ref, out)
