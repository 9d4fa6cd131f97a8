"""The disk cache of compiled SMAX kernels: where it goes, how it is turned off, and that a warm cache changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from marie.envs import xla_cache

ROLLOUT = """
import hashlib, json, numpy as np
from marie.envs import make_env
from marie.envs.smax import jax
env = make_env("smax", "3m", num_envs=2)
out = env.reset([3, 4])
digest = hashlib.sha256(out.obs.tobytes())
rng = np.random.default_rng(0)
for _ in range(15):
    avail = out.avail
    actions = np.array([[rng.choice(np.flatnonzero(a)) for a in copy] for copy in avail])
    out = env.step(actions)
    digest.update(out.obs.tobytes()); digest.update(out.reward.tobytes())
print(json.dumps({"digest": digest.hexdigest(), "cache": jax.config.jax_compilation_cache_dir}))
"""


def test_cache_dir_is_per_versions_and_cpu(monkeypatch, tmp_path):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv(xla_cache.ENV_VAR, str(tmp_path))
    folder = xla_cache.cache_dir()
    assert folder.parent == tmp_path
    assert folder.name.startswith("jax") and "-cpu" in folder.name
    assert xla_cache.cache_dir() == folder  # stable within a machine


@pytest.mark.parametrize("value", ["", "off", "0", "OFF"])
def test_cache_can_be_turned_off(monkeypatch, value):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv(xla_cache.ENV_VAR, value)
    assert xla_cache.cache_dir() is None


def test_jax_own_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "jax"))
    monkeypatch.setenv(xla_cache.ENV_VAR, str(tmp_path / "ours"))
    assert xla_cache.cache_dir() is None


def test_default_lives_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv(xla_cache.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert xla_cache.cache_dir().parent == tmp_path / "marie" / "xla"


def _rollout(cache: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "JAX_COMPILATION_CACHE_DIR"}
    env[xla_cache.ENV_VAR] = cache
    done = subprocess.run([sys.executable, "-c", ROLLOUT], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_warm_cache_gives_the_same_rollout(tmp_path):
    """Cold cache (compiles, as without a cache, and writes) and warm cache (loads): the same SMAX trajectory."""
    cold = _rollout(str(tmp_path))
    assert cold["cache"] and cold["cache"].startswith(str(tmp_path))
    entries = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert any("step_one" in path.name for path in entries), entries
    modified = {path: path.stat().st_mtime_ns for path in entries}
    warm = _rollout(str(tmp_path))
    assert cold["digest"] == warm["digest"]
    assert {path: path.stat().st_mtime_ns for path in entries} == modified  # read, not rewritten


def test_no_home_folder_means_no_cache(monkeypatch):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv(xla_cache.ENV_VAR, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(xla_cache.Path, "home", staticmethod(no_home))
    assert xla_cache.cache_dir() is None


def test_an_unwritable_folder_means_no_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(xla_cache.ENV_VAR, str(blocker))

    class FakeJax:
        class config:  # noqa: N801 - mimics jax.config
            @staticmethod
            def update(name, value):
                raise AssertionError("must not configure a cache it cannot write")

    assert xla_cache.enable(FakeJax) is None
