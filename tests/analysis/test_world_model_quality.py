"""The report's world-model quality section against numbers computed by hand from tiny synthetic metrics."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.suite import RunSpec, Suite
from analysis.world_model_quality import world_model_quality, world_model_quality_section

H = "world_model_holdout/"


def row(env, map_name, algo, seed, step, metric, value):
    return {"env": env, "map": map_name, "algo": algo, "seed": seed, "step": step, "metric": metric, "value": value}


def seed1_rows():
    """smax/3m/marie seed 1: 7 rounds at steps 100..700, all with a held-out measurement.

    Round k: obs_accuracy 0.1k, reward_mae 0.01k, continuation_accuracy 0.9; two episodes of 50 steps ending in
    (100(k-1), 100k] with return k each, a huge return before round 3 and after round 7 (outside the window).
    """
    rows = []
    for k in range(1, 8):
        step = 100 * k
        rows += [
            row("smax", "3m", "marie", 1, step, "marie/round", k),
            row("smax", "3m", "marie", 1, step, H + "obs_accuracy", 0.1 * k),
            row("smax", "3m", "marie", 1, step, H + "reward_mae", 0.01 * k),
            row("smax", "3m", "marie", 1, step, H + "reward_mae_median", 0.1),
            row("smax", "3m", "marie", 1, step, H + "continuation_accuracy", 0.9),
            row("smax", "3m", "marie", 1, step, H + "obs", 5.0),  # a loss: not in the table
        ]
        for end in (step - 50, step):
            rows += [
                row("smax", "3m", "marie", 1, end, "train/return", 100.0 if k <= 2 else float(k)),
                row("smax", "3m", "marie", 1, end, "train/episode_length", 50.0),
            ]
    rows += [
        row("smax", "3m", "marie", 1, 750, "train/return", 1000.0),
        row("smax", "3m", "marie", 1, 750, "train/episode_length", 50.0),
    ]
    return rows


def seed2_rows():
    """smax/3m/marie seed 2: rounds at 100..500, held-out only from round 3 (the world model started late).

    Held-out obs_accuracy 0.9, 0.8, 0.7, reward_mae 0.02, continuation 0.5; one episode of 100 steps per round,
    return 50 in rounds 1-2 (before the held-out window) and 2 afterwards.
    """
    rows = []
    for k in range(1, 6):
        step = 100 * k
        rows.append(row("smax", "3m", "marie", 2, step, "marie/round", k))
        rows.append(row("smax", "3m", "marie", 2, step, "train/return", 50.0 if k <= 2 else 2.0))
        rows.append(row("smax", "3m", "marie", 2, step, "train/episode_length", 100.0))
    for step, acc in ((300, 0.9), (400, 0.8), (500, 0.7)):
        rows += [
            row("smax", "3m", "marie", 2, step, H + "obs_accuracy", acc),
            row("smax", "3m", "marie", 2, step, H + "reward_mae", 0.02),
            row("smax", "3m", "marie", 2, step, H + "reward_mae_median", 0.2),
            row("smax", "3m", "marie", 2, step, H + "continuation_accuracy", 0.5),
        ]
    return rows


def other_rows():
    """A MAPPO run (no world model) and an MPE MARIE run whose episode lengths were not logged."""
    rows = [row("smax", "3m", "mappo", 1, s, "eval/win_rate", 0.5) for s in (100, 200)]
    rows += [row("smax", "3m", "mappo", 1, s, "train/return", 1.0) for s in (100, 200)]
    for step in (100, 200):
        rows += [
            row("pettingzoo", "simple_spread_v3", "marie", 1, step, H + "obs_accuracy", 0.4),
            row("pettingzoo", "simple_spread_v3", "marie", 1, step, H + "reward_mae", 0.3),
            row("pettingzoo", "simple_spread_v3", "marie", 1, step, H + "reward_mae_median", 0.32),
            row("pettingzoo", "simple_spread_v3", "marie", 1, step, H + "continuation_accuracy", 1.0),
            row("pettingzoo", "simple_spread_v3", "marie", 1, step, "train/return", -7.0),
        ]
    return rows


@pytest.fixture
def metrics():
    frame = pd.DataFrame(seed1_rows() + seed2_rows() + other_rows())
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)  # row order must not matter


def test_last_five_rounds_then_mean_over_seeds(metrics):
    table = world_model_quality(metrics)
    assert list(zip(table["env"], table["algo"])) == [("pettingzoo", "marie"), ("smax", "marie")]  # no MAPPO row
    smax = table[table["env"] == "smax"].iloc[0]
    assert smax["n_seeds"] == 2 and smax["rounds"] == 3
    # seed 1: rounds 3..7 -> 0.5; seed 2: its 3 rounds -> 0.8; mean over seeds 0.65 (all rounds: 0.55,
    # rows pooled over seeds: 0.6125)
    assert smax["obs_accuracy"] == pytest.approx(0.65)
    assert smax["reward_mae"] == pytest.approx((0.05 + 0.02) / 2)
    assert smax["continuation_accuracy"] == pytest.approx((0.9 + 0.5) / 2)
    # seed 1: episodes in (200, 700] -> 2 * (3+4+5+6+7) / (10 * 50) = 0.1; seed 2: (200, 500] -> 6 / 300 = 0.02
    assert smax["reward_per_step"] == pytest.approx(0.06)
    mpe = table[table["env"] == "pettingzoo"].iloc[0]
    assert mpe["n_seeds"] == 1 and mpe["obs_accuracy"] == pytest.approx(0.4)
    assert pd.isna(mpe["reward_per_step"])  # no episode lengths: no per-step reward


def test_section_shows_the_table_with_labels(metrics):
    text = "\n".join(world_model_quality_section(metrics))
    assert "## World-model quality" in text and "not trained on" in text and "last 5 rounds" in text
    assert "SMAX is not SMAC" in text
    smax_line = next(line for line in text.splitlines() if line.startswith("| SMAX (JaxMARL) | 3m | MARIE |"))
    cells = [c.strip() for c in smax_line.strip("|").split("|")]
    assert cells[3:] == ["2", "3", "65.0", "0.035", "0.15", "70.0", "0.06"]
    mpe_line = next(line for line in text.splitlines() if line.startswith("| MPE"))
    assert mpe_line.rstrip(" |").endswith("n/a")
    assert "mean per-step reward (train episodes)" in text
    # MPE's 0.3 is >= 90% of its median's 0.32, SMAX's 0.035 is far below 0.15
    flag = "**Reward not learned**: on MPE (PettingZoo/mpe2) simple_spread_v3 (MARIE) the reward MAE is at least 90%"
    assert flag in text


def test_runs_without_the_median_baseline_leave_its_column_and_flag_out(metrics):
    text = "\n".join(world_model_quality_section(metrics[~metrics["metric"].str.endswith("reward_mae_median")]))
    assert "| SMAX (JaxMARL) | 3m | MARIE |" in text and "of the median" not in text and "not learned" not in text


def test_reward_column_left_out_when_it_cannot_be_computed(metrics):
    text = "\n".join(world_model_quality_section(metrics[metrics["metric"] != "train/episode_length"]))
    assert "| SMAX (JaxMARL) | 3m | MARIE |" in text and "per-step reward" not in text


def test_a_suite_counts_only_its_own_runs(metrics):
    def spec(algo, seed, flags):
        return RunSpec("s", "smax", "3m", algo, seed, 700, "quick", "paper", flags=flags)

    runs = (spec("marie", 1, {}), spec("marie", 2, {}), spec("mappo", 1, {}))
    suite = Suite("s", Path("s.yaml"), "", "quick", "paper", (1, 2), ("marie", "mappo"), runs)
    table = world_model_quality(metrics, suite)
    assert list(table["env"]) == ["smax"]  # the MPE run is not in this suite
    assert table.iloc[0]["reward_mae"] == pytest.approx((0.05 + 0.02) / 2)
    assert table.iloc[0]["obs_accuracy"] == pytest.approx(0.65)


def test_no_holdout_metrics_gives_one_line():
    frame = pd.DataFrame([row("smax", "3m", "mappo", 1, 100, "eval/win_rate", 0.5)])
    assert world_model_quality(frame).empty
    lines = [line for line in world_model_quality_section(frame) if line and not line.startswith("#")]
    assert lines == ["No run of this suite logs held-out world-model metrics (`world_model_holdout/...`)."]
    assert not any(line.startswith("|") for line in world_model_quality_section(None))
