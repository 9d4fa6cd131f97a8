"""Process vectorisation: errors in workers reach the caller, workers always shut down."""

from __future__ import annotations

import multiprocessing
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fake_smac import CrashingFactory, FakeStarCraft2Env  # noqa: E402

from marie.envs.base import EnvUnavailableError  # noqa: E402
from marie.envs.procvec import EnvFactory, ProcVecEnv, SerialVecEnv  # noqa: E402
from marie.envs.starcraft import StarCraftEnv  # noqa: E402


def unavailable(map_name: str):
    raise EnvUnavailableError(f"simulator for {map_name} is missing")


def fake_factory(**kwargs):
    return EnvFactory(StarCraftEnv, "3m", {"env_factory": FakeStarCraft2Env, **kwargs})


def test_construction_error_keeps_its_type_and_leaves_no_workers():
    with pytest.raises(EnvUnavailableError, match="simulator for 3m is missing"):
        ProcVecEnv([EnvFactory(unavailable, "3m", {})] * 2)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("marie-env-")]


def test_step_error_in_a_worker_is_raised_and_closes_all_workers():
    vec = ProcVecEnv([fake_factory()] * 2)
    workers = list(vec._procs)
    vec.reset([0, 1])
    with pytest.raises(ValueError, match="cannot take action"):
        vec.step(np.zeros((2, 3), dtype=np.int64))  # no-op is not available to living agents
    assert not any(p.is_alive() for p in workers)
    with pytest.raises(RuntimeError, match="closed"):
        vec.step(np.ones((2, 3), dtype=np.int64))
    vec.close()  # idempotent


def test_wrong_batch_sizes_are_rejected():
    vec = SerialVecEnv([fake_factory()] * 2)
    with pytest.raises(ValueError, match="seeds"):
        vec.reset([0])
    vec.reset([0, 1])
    with pytest.raises(ValueError, match="num_envs=2"):
        vec.step(np.ones((3, 3), dtype=np.int64))
    vec.close()


def test_discard_flags_land_on_the_right_rows():
    factory = CrashingFactory(crash_at_step=2)  # one unpickled copy per worker: its first env crashes
    vec = ProcVecEnv([EnvFactory(StarCraftEnv, "3m", {"env_factory": factory})] * 3, num_workers=2)
    try:
        vec.reset([0, 1, 2])
        stop = np.ones((3, 3), dtype=np.int64)
        assert vec.step(stop).active.all()
        out = vec.step(stop)
        np.testing.assert_array_equal(out.active, [False, False, True])  # copies 0 and 1 were built first
        np.testing.assert_array_equal(vec.discarded, [True, True, False])
        assert vec.discarded_episodes == 2
    finally:
        vec.close()
