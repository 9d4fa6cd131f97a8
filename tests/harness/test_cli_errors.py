"""Bad input: exit status 2, exactly one line on stderr naming the value and the choices, nothing on disk."""

import pytest

from tests.conftest import run_marie

BASE = ["train", "--env", "smax", "--env_name", "3m", "--steps", "100"]

CASES = [
    (["train", "--env", "flatland", "--env_name", "3m"], "flatland", "smax"),
    (["train", "--env", "smax", "--env_name", "4m"], "4m", "3m"),
    (["train", "--env", "smax", "--env_name", "MMM"], "MMM", "medivac"),
    (["train", "--env", "mamujoco", "--env_name", "HalfCheetah", "--agent_conf", "7x9"], "7x9", "2x3"),
    (BASE + ["--algo", "qmix"], "qmix", "mappo"),
    (BASE + ["--preset", "huge"], "huge", "quick"),
    (BASE + ["--eval-mode", "greedy"], "greedy", "standard"),
    (BASE[:-1] + ["-5"], "-5", "positive integer"),
    (BASE + ["--set", "marie.world_model.nonsense=3"], "nonsense", "num_layers"),
    (BASE + ["--set", "novalue"], "novalue", "dotted.key=value"),
    (BASE + ["--set", "marie.world_model.num_layers=abc"], "num_layers", "integer"),
    (BASE + ["--tokenizer", "pq"], "pq", "fsq"),
    (BASE + ["--mode", "cloud"], "cloud", "offline"),
    (BASE + ["--n_workers", "0"], "n_workers", "positive"),
    (BASE + ["--temperature", "nan"], "temperature", "NaN"),
    (BASE + ["--sample_temp", "nan"], "sample_temp", "NaN"),
    (BASE + ["--decay", "nan"], "decay", "NaN"),
    (BASE + ["--set", "mappo.ppo.actor_lr=.nan"], "actor_lr", "NaN"),
    (BASE + ["--set", "marie.world_model.reward_min=nan"], "reward_min", "NaN"),
    (BASE + ["--threads", "-1"], "-1", ">= 1"),
    (BASE + ["--set", "run.threads=-2"], "-2", ">= 1"),
    (BASE + ["--set", "env.env_name=[1,2]"], "env.env_name", "string"),
    (BASE + ["--set", "env.env_name=4m"], "4m", "3m"),
    (BASE + ["--set", "run.wandb_project=[a]"], "wandb_project", "string"),
    (BASE + ["--n_workers", "100000"], "100000", "GiB available"),
    (BASE + ["--set", "eval.num_envs=10000000"], "eval.num_envs", "per copy"),
    (BASE + ["--set", "env.obs=state"], "env.obs", "only mamujoco"),
    (["train", "--env", "mamujoco", "--env_name", "HalfCheetah", "--agent_conf", "2x3", "--set", "env.obs=pixels"],
     "pixels", "marie, state, local"),  # fmt: skip
    (BASE + ["--set", "marie.world_model.aggregate_output_scale=-1"], "aggregate_output_scale", ">= 0"),
]


@pytest.mark.parametrize("args,bad,hint", CASES, ids=[c[1] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, bad, hint):
    out = tmp_path / "run"
    result = run_marie(*args, "--out-dir", str(out), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert bad in lines[0] and hint in lines[0], lines[0]
    assert not out.exists()


def test_missing_simulator_is_one_line(tmp_path):
    """SMAC needs StarCraft II, which these machines cannot install: a one-line pointer to the container."""
    pytest.importorskip("torch")
    import importlib.util

    if importlib.util.find_spec("smac") is not None:
        pytest.skip("smac is installed here")
    out = tmp_path / "run"
    result = run_marie("train", "--env", "starcraft", "--env_name", "3m", "--steps", "100", "--out-dir", str(out))
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "container" in lines[0], result.stderr
    assert not out.exists()


def _one_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    return lines[0]


def test_an_empty_out_dir_is_refused_not_the_current_directory(tmp_path):
    import subprocess

    from tests.conftest import marie_cmd

    result = subprocess.run(marie_cmd() + [*BASE, "--out-dir", ""], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert "--out-dir" in _one_line(result)
    assert list(tmp_path.iterdir()) == []


def test_an_out_dir_under_a_regular_file_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line(run_marie(*BASE, "--out-dir", str(blocker / "run"), timeout=120))
    assert str(blocker) in line and "regular file" in line
    assert blocker.read_text() == "x"


def test_an_unwritable_out_dir_is_refused_before_training(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    line = _one_line(run_marie(*BASE, "--out-dir", str(locked / "run"), timeout=120))
    assert "not writable" in line


@pytest.mark.parametrize("flags,package", [(["--mode", "online"], "wandb"),
                                           (["--set", "run.tensorboard=true"], "tensorboard")])  # fmt: skip
def test_a_missing_logging_package_exits_2_leaving_nothing(tmp_path, monkeypatch, capsys, flags, package):
    import sys

    from marie.cli import main

    monkeypatch.setitem(sys.modules, package, None)  # not installed, whatever this machine has
    out = tmp_path / "run"
    assert main([*BASE, *flags, "--out-dir", str(out)]) == 2
    assert package in capsys.readouterr().err
    assert not out.exists()
