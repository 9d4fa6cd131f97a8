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
