"""The report's protocol table and differences give each map's episodes per evaluation as its runs recorded them."""

import pandas as pd

from analysis.report import differences, episodes_per_evaluation, protocol_table
from analysis.suite import load_suite


def _metrics() -> pd.DataFrame:
    rows = [
        ("smax", "3m", "eval/win_rate", 10),
        ("smax", "3m", "eval/return", 10),
        ("smax", "3m", "train/return", None),
        ("mamujoco", "HalfCheetah-2x3", "eval/return", 3),
        ("smax", "2m_vs_1z", "eval/win_rate", 10),
        ("smax", "2m_vs_1z", "eval/win_rate", 4),
    ]
    return pd.DataFrame(rows, columns=["env", "map", "metric", "n_episodes"])


def test_episode_counts_come_from_the_eval_rows_only():
    assert episodes_per_evaluation(_metrics()) == {
        ("mamujoco", "HalfCheetah-2x3"): [3],
        ("smax", "2m_vs_1z"): [4, 10],
        ("smax", "3m"): [10],
    }
    assert episodes_per_evaluation(None) == {}
    assert episodes_per_evaluation(_metrics().drop(columns="n_episodes")) == {}


def test_the_protocol_table_and_the_differences_name_counts_other_than_the_protocols():
    suite = load_suite("quick")
    episodes = episodes_per_evaluation(_metrics())
    table = protocol_table(suite, episodes).set_index("map")["episodes per evaluation"]
    assert table.to_dict() == {"3m": "10", "2m_vs_1z": "4, 10", "HalfCheetah-2x3": "3"}
    assert "episodes per evaluation" not in protocol_table(suite)
    empty = pd.DataFrame({"env": [], "map": [], "reported_env": [], "budget": [], "reported_budget": [],
                          "reported_n_seeds": []})  # fmt: skip
    lines = [line for line in differences(suite, empty, episodes) if "episodes per evaluation" in line]
    assert len(lines) == 2
    assert lines[0].startswith("HalfCheetah-2x3") and "3 episodes per evaluation vs the paper protocol's 10" in lines[0]
    assert "deterministic" in lines[0]
    assert "4, 10 episodes per evaluation" in lines[1] and "deterministic" not in lines[1]
