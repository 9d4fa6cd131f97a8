"""A hand-made metrics table with known finals, through the same path as the workflow (suite YAML -> evidence ->
final table and aggregates): every reported number is checked by value."""

import numpy as np
import pandas as pd
import pytest
import yaml
from rliable import library as rly
from rliable import metrics as rlm

from analysis import stats
from analysis.aggregates import aggregate_table
from analysis.evidence import load_evidence
from analysis.suite import load_suite
from analysis.table import final_table

MAPS = ["3m", "2s3z", "8m"]
# Known final win rates (seeds 1, 2, 3); the evaluation before the final one (step 500) is half of it.
FINALS = {
    "marie": {"3m": [0.9, 0.8, 1.0], "2s3z": [0.5, 0.7, 0.6], "8m": [0.0, 0.1, 0.5]},
    "mappo": {"3m": [0.6, 0.5, 0.7], "2s3z": [0.5, 0.3, 0.4], "8m": [0.1, 0.0, 0.2]},
}
BUDGET = 1000


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("hand")
    suite_yaml = {
        "description": "hand-made",
        "preset": "smoke",
        "eval_mode": "paper",
        "seeds": [1, 2, 3],
        "algos": {"marie": {}, "mappo": {}},
        "maps": [{"env": "smax", "map": m, "steps": BUDGET} for m in MAPS],
    }
    (root / "hand.yaml").write_text(yaml.safe_dump(suite_yaml))
    rows = []
    for algo, per_map in FINALS.items():
        for map_name, finals in per_map.items():
            for seed, final in enumerate(finals, start=1):
                for step, value in ((0, 0.0), (500, final / 2), (BUDGET + seed, final)):
                    rows.append(("hand", "smax", map_name, algo, seed, step, "eval/win_rate", value, "paper", 10, "x"))
    columns = ["suite", "env", "map", "algo", "seed", "step", "metric", "value", "eval_mode", "n_episodes", "provenance"]
    pd.DataFrame(rows, columns=columns).to_csv(root / "metrics.csv", index=False)
    return load_suite(root / "hand.yaml"), root / "metrics.csv", root


def scores(algo: str) -> dict:
    return {m: np.array(v) for m, v in FINALS[algo].items()}


def test_aggregates_by_value(hand_made):
    suite, metrics, _ = hand_made
    table, _ = aggregate_table(load_evidence(suite, metrics, []), {}, n_boot=4000, seed=0)
    get = lambda method, statistic, versus="": table[  # noqa: E731
        (table["method"] == method) & (table["statistic"] == statistic) & (table["versus"] == versus)
    ].iloc[0]
    # MARIE: pooled 0, .1, .5, .5, .6, .7, .8, .9, 1 -> trim 2 each end -> .5 .6 .7 .8 (.5) = 0.62
    assert get("MARIE", "IQM")["point"] == pytest.approx(0.62)
    assert get("MARIE", "median")["point"] == pytest.approx(0.6)  # per-map means 0.9, 0.6, 0.2
    assert get("MARIE", "mean")["point"] == pytest.approx((0.9 + 0.6 + 0.2) / 3)
    assert get("MAPPO", "median")["point"] == pytest.approx(0.4)  # per-map means 0.6, 0.4, 0.1
    # P(MARIE > MAPPO): 3m 9/9; 2s3z 8.5/9 (one tie at 0.5); 8m 5/9
    poi = get("MARIE", "P(improvement)", "MAPPO")
    assert poi["point"] == pytest.approx((9 + 8.5 + 5) / 27)
    assert (poi["n_maps"], poi["n_runs"], poi["seeds_per_map"]) == (3, 9, "3 vs 3")
    # intervals: rliable's stratified bootstraps on the same matrices agree
    marie = np.array(list(zip(*FINALS["marie"].values())))  # runs x maps
    mappo = np.array(list(zip(*FINALS["mappo"].values())))
    np.random.seed(0)
    _, iqm = rly.get_interval_estimates({"m": marie}, lambda s: np.array([rlm.aggregate_iqm(s)]), reps=4000)
    _, pi = rly.get_interval_estimates(
        {"xy": [marie, mappo]}, lambda a, b: np.array([rlm.probability_of_improvement(a, b)]), reps=4000
    )
    row = get("MARIE", "IQM")
    assert (row["ci95_low"], row["ci95_high"]) == pytest.approx((iqm["m"][0, 0], iqm["m"][1, 0]), abs=0.03)
    assert (poi["ci95_low"], poi["ci95_high"]) == pytest.approx((pi["xy"][0, 0], pi["xy"][1, 0]), abs=0.04)


def test_final_table_by_value(hand_made):
    suite, metrics, _ = hand_made
    table = final_table(load_evidence(suite, metrics, []))
    row = table[(table["map"] == "3m") & (table["method"] == "MARIE")].iloc[0]
    # mean 0.9, sd 0.1, t(0.975, 2) = 4.3027 -> 0.9 +- 0.2484, clipped to the win rate's [0, 1]
    assert (row["mean"], row["ci95_low"], row["ci95_high"]) == pytest.approx((0.9, 0.9 - 0.24841, 1.0), abs=1e-4)
    assert row["n_seeds"] == 3 and row["interval"] == "95% t-interval over seeds"
    # companions: last-5 mean over the 3 evaluations (0, final/2, final), curve mean by the trapezoid rule
    assert row["mean_last_k"] == pytest.approx(np.mean([(0 + f / 2 + f) / 3 for f in FINALS["marie"]["3m"]]))
    # trapezoids 0..500 and 500..(BUDGET + seed) over the span BUDGET + seed
    curve = [(500 * f / 4 + (BUDGET + s - 500) * 0.75 * f) / (BUDGET + s) for s, f in enumerate(FINALS["marie"]["3m"], 1)]
    assert row["mean_curve"] == pytest.approx(np.mean(curve))


def test_final_last_k_changes_every_number_consistently(hand_made):
    suite, metrics, _ = hand_made
    evidence = load_evidence(suite, metrics, [], final="last_k", last_k=2)
    finals = evidence.finals
    marie_3m = finals[(finals["method"] == "MARIE") & (finals["map"] == "3m")].sort_values("seed")
    expected = [0.75 * f for f in FINALS["marie"]["3m"]]  # mean of final/2 and final
    assert marie_3m["value"].tolist() == pytest.approx(expected)
    assert marie_3m["last"].tolist() == pytest.approx(FINALS["marie"]["3m"])
    table = final_table(evidence)
    row = table[(table["map"] == "3m") & (table["method"] == "MARIE")].iloc[0]
    assert row["mean"] == pytest.approx(np.mean(expected)) and row["final_statistic"] == "last_k"
    aggregates, notes = aggregate_table(evidence, {}, n_boot=200)
    mean = aggregates[(aggregates["method"] == "MARIE") & (aggregates["statistic"] == "mean")].iloc[0]
    assert mean["point"] == pytest.approx(0.75 * (0.9 + 0.6 + 0.2) / 3)
    assert "final score = mean of the last 2 evaluations" in notes[0]
    with pytest.raises(ValueError, match="final statistic 'best' is not one of last, last_k"):
        load_evidence(suite, metrics, [], final="best")


def test_unequal_seed_counts_are_stated(hand_made, tmp_path):
    """A per-seed baseline with 2 seeds on one map and 3 on the others: aggregated, and the note says how."""
    suite, metrics, _ = hand_made
    lines = ["method,env,map,seed,step,metric,value,eval_mode,provenance"]
    for map_name in MAPS:
        for seed in (1, 2) if map_name == "8m" else (1, 2, 3):
            lines.append(f"QMIX,smax,{map_name},{seed},{BUDGET},eval/win_rate,{0.1 * seed},paper,test")
    path = tmp_path / "qmix.csv"
    path.write_text("\n".join(lines) + "\n")
    table, notes = aggregate_table(load_evidence(suite, metrics, [path]), {}, n_boot=200)
    qmix = table[(table["method"] == "QMIX") & (table["statistic"] == "median")].iloc[0]
    assert qmix["point"] == pytest.approx(0.2) and qmix["seeds_per_map"] == "2-3"
    # per-map means 0.2, 0.2, 0.15 -> mean weighs maps equally, not runs (the 8 pooled runs average 0.1875)
    mean = table[(table["method"] == "QMIX") & (table["statistic"] == "mean")].iloc[0]
    assert mean["point"] == pytest.approx((0.2 + 0.2 + 0.15) / 3)
    assert "unequal seeds per map for QMIX (3m: 3, 2s3z: 3, 8m: 2)" in notes[0]
    assert "IQM pools runs" in notes[0]
    stats.probability_of_improvement(scores("marie"), {m: np.array([0.1]) for m in MAPS})  # any counts work
