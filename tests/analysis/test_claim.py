"""The sample-efficiency claim per map (MARIE vs each other method over the last third of the budget) on
hand-made curves whose verdicts are known: ahead on every seed, behind, seeds that disagree, a map without MARIE,
a baseline without matching seeds, and the report section that prints it."""

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.__main__ import main
from analysis.claim import claim_table, display_claim, summary_lines, verdict
from analysis.evidence import Evidence, load_evidence
from analysis.suite import load_suite

BUDGET = 900  # last third: steps >= 600
EARLY = (0, 300, 599)  # outside the last third: made to flip every verdict if they were counted
LATE = (600, 750, 900)
MAPS = ["3m", "2s3z", "8m", "2m_vs_1z"]
# Last-third win rates per (algo, map): one value per seed (1, 2), held at every late evaluation except 3m,
# where MARIE rises (s1 0.6, 0.7, 0.8 -> 0.7; s2 0.5, 0.6, 0.7 -> 0.6).
LATE_VALUES = {
    "marie": {"3m": [(0.6, 0.7, 0.8), (0.5, 0.6, 0.7)], "2s3z": [0.2, 0.1], "8m": [0.9, 0.2]},
    "mappo": {"3m": [0.3, 0.2], "2s3z": [0.5, 0.4], "8m": [0.3, 0.4], "2m_vs_1z": [0.5, 0.5]},
}


def _late(value) -> tuple:
    return value if isinstance(value, tuple) else (value,) * len(LATE)


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    root = tmp_path_factory.mktemp("claim")
    suite_yaml = {
        "description": "hand-made sample-efficiency claim",
        "preset": "smoke",
        "eval_mode": "paper",
        "seeds": [1, 2],
        "algos": {"marie": {}, "mappo": {}},
        "maps": [{"env": "smax", "map": m, "steps": BUDGET} for m in MAPS],
    }
    (root / "hand.yaml").write_text(yaml.safe_dump(suite_yaml))
    rows = []
    for algo, per_map in LATE_VALUES.items():
        for map_name, seeds in per_map.items():  # 2m_vs_1z has no MARIE run
            for seed, late in enumerate(seeds, start=1):
                early = [0.0] * 3 if algo == "marie" else [1.0] * 3
                for step, value in zip(EARLY + LATE, early + list(_late(late))):
                    rows.append((algo, map_name, seed, step, "eval/win_rate", value))
                    # the return runs the other way: the claim must use SMAX's primary metric, the win rate
                    rows.append((algo, map_name, seed, step, "eval/return", 1 - value))
    frame = pd.DataFrame(rows, columns=["algo", "map", "seed", "step", "metric", "value"])
    frame = frame.assign(suite="hand", env="smax", eval_mode="paper", n_episodes=10, provenance="x")
    frame.to_csv(root / "metrics.csv", index=False)
    baseline = root / "qmix.csv"
    lines = ["method,env,map,seed,step,metric,value,eval_mode,provenance"]
    for seed in (5, 6):  # a curve on 3m with seeds MARIE did not run
        lines += [f"QMIX,smax,3m,{seed},{step},eval/win_rate,0.9,paper,test" for step in (300, 600, BUDGET)]
    lines += [f"QMIX,smax,2s3z,{seed},{BUDGET},eval/win_rate,0.9,paper,test" for seed in (1, 2)]  # final value only
    baseline.write_text("\n".join(lines) + "\n")
    return load_suite(root / "hand.yaml"), root / "metrics.csv", baseline, root


def _row(table: pd.DataFrame, map_name: str, method: str) -> pd.Series:
    rows = table[(table["map"] == map_name) & (table["method"] == method)]
    assert len(rows) == 1, (map_name, method)
    return rows.iloc[0]


def test_last_third_is_the_mean_of_the_evaluations_from_two_thirds_of_the_budget(hand_made):
    suite, metrics, _, _ = hand_made
    finals = load_evidence(suite, metrics, []).finals
    marie = finals[(finals["method"] == "MARIE") & (finals["map"] == "3m")].sort_values("seed")
    assert marie["last_third"].tolist() == pytest.approx([0.7, 0.6])  # step 599 (value 0) is out, 600 is in
    assert marie["last"].tolist() == pytest.approx([0.8, 0.7])  # the other statistics are unchanged
    assert marie["curve_mean"].iloc[0] == pytest.approx(
        np.trapezoid([0, 0, 0, 0.6, 0.7, 0.8], EARLY + LATE) / BUDGET
    )


def test_last_third_of_a_map_outside_the_suite_uses_the_seeds_last_step(hand_made):
    suite = hand_made[0]
    curve = pd.DataFrame({"method": "X", "source": "s", "env": "smax", "map": "not_in_suite", "seed": 1,
                          "step": [0, 200, 300], "value": [0.0, 0.4, 0.6], "eval_mode": "paper"})  # fmt: skip
    finals = Evidence(suite, curve, pd.DataFrame()).finals
    assert finals["last_third"].iloc[0] == pytest.approx(0.5)  # steps >= 200 of a last step of 300


def test_verdicts_on_hand_made_curves(hand_made):
    suite, metrics, baseline, _ = hand_made
    table, notes = claim_table(load_evidence(suite, metrics, [baseline]))
    assert set(table["map"]) == {"3m", "2s3z", "8m"}  # 2m_vs_1z has no MARIE run
    assert any("2m_vs_1z (SMAX stand-in): no MARIE run" in n for n in notes)
    ahead = _row(table, "3m", "MAPPO")
    assert (ahead["last_third_mean"], ahead["marie_vs_method"]) == (pytest.approx(0.25), "MARIE ahead")
    assert (ahead["seed_pairs_marie_ahead"], ahead["seed_pairs"], ahead["marie_ahead_every_seed_pair"]) == (2, 2, "yes")
    assert _row(table, "3m", "MARIE")["last_third_mean"] == pytest.approx(0.65)
    behind = _row(table, "2s3z", "MAPPO")
    assert behind["marie_vs_method"] == "MARIE behind" and behind["marie_ahead_every_seed_pair"] == "no"
    assert behind["seed_pairs_marie_ahead"] == 0
    split = _row(table, "8m", "MAPPO")  # pooled 0.55 vs 0.35, but seed 2: 0.2 vs 0.4
    assert split["marie_vs_method"] == "MARIE ahead" and split["marie_ahead_every_seed_pair"] == "no"
    assert (split["seed_pairs_marie_ahead"], split["seed_pairs"]) == (1, 2)
    qmix = _row(table, "3m", "QMIX")
    assert qmix["marie_vs_method"] == "MARIE behind" and qmix["marie_ahead_every_seed_pair"] == "no matching seeds"
    assert qmix["per_seed"] == "5=0.9;6=0.9" and qmix["source"] == "results/baselines/qmix.csv"
    assert not ((table["method"] == "QMIX") & (table["map"] == "2s3z")).any()
    assert any("QMIX on smax/2s3z: a final value only" in n for n in notes)
    assert summary_lines(table) == [
        "MARIE ahead of MAPPO over the last third on 2 of 3 maps (on every seed pair on 1 of them); behind on 2s3z.",
        "MARIE ahead of QMIX over the last third on 0 of 1 map (on every seed pair on 0 of them); behind on 3m.",
    ]


def test_display_formats_win_rates_in_percent_per_seed(hand_made):
    suite, metrics, _, _ = hand_made
    table, _ = claim_table(load_evidence(suite, metrics, []))
    shown = display_claim(table)
    row = shown[(shown["map"] == "8m (SMAX stand-in)") & (shown["method"] == "MAPPO")].iloc[0]
    assert row["per seed"] == "s1 30.0%, s2 40.0%" and row["last-third mean"] == "35.0%"
    assert row["MARIE ahead on every seed pair"] == "no (1 of 2)" and row["last third (env steps)"] == "600-900"


def test_level_only_when_equal(hand_made):
    assert verdict(0.5, 0.5) == "level" and verdict(0.1 + 0.2, 0.3) == "level"
    assert verdict(0.51, 0.5) == "MARIE ahead" and verdict(-73.7, -72.0) == "MARIE behind"
    assert verdict(14.0, 198.0) == "MARIE behind"
    # both methods at 0% on both seeds (the smoke suite's 3m): level, with the tied pairs counted
    curves = pd.DataFrame({"method": ["MARIE", "MARIE", "MAPPO", "MAPPO"], "source": "this suite (hand)",
                           "env": "smax", "map": "3m", "seed": [1, 2, 1, 2], "step": BUDGET, "value": 0.0,
                           "eval_mode": "paper"})  # fmt: skip
    table, _ = claim_table(Evidence(hand_made[0], curves, pd.DataFrame()))
    row = _row(table, "3m", "MAPPO")
    assert row["marie_vs_method"] == "level" and (row["seed_pairs_level"], row["seed_pairs_marie_ahead"]) == (2, 0)
    assert display_claim(table)["MARIE ahead on every seed pair"].tolist() == ["", "no (0 of 2; 2 level)"]
    assert summary_lines(table) == [
        "MARIE ahead of MAPPO over the last third on 0 of 1 map (on every seed pair on 0 of them); level on 3m."
    ]


def test_report_has_the_claim_section(hand_made, tmp_path):
    suite, metrics, baseline, root = hand_made
    base = ["--suite", root / "hand.yaml", "--metrics", metrics, "--baseline", baseline]
    claim_csv, claim_md = tmp_path / "sample_efficiency.csv", tmp_path / "sample_efficiency.md"
    assert main([str(a) for a in ["table", *base, "--out", tmp_path / "t.csv",
                                  "--claim-out", claim_csv, "--claim-out", claim_md]]) == 0  # fmt: skip
    assert main([str(a) for a in ["aggregates", *base, "--bootstrap-samples", "100", "--out", tmp_path / "a.csv"]]) == 0
    pd.DataFrame([{"host": "h", "matmul_peak_gflops": 155.0, "torch_threads": 2, "completed.wall_s": 10.0}]).to_csv(
        tmp_path / "p.csv", index=False
    )
    report = ["report", "--suite", root / "hand.yaml", "--table", tmp_path / "t.csv", "--aggregates",
              tmp_path / "a.csv", "--provenance", tmp_path / "p.csv", "--out", tmp_path / "r.md"]  # fmt: skip
    assert main([str(a) for a in report]) == 0  # the claim CSV is found beside the table
    text = (tmp_path / "r.md").read_text()
    section = text[text.index("## The sample-efficiency claim at this budget"):text.index("## Results per map")]
    assert "**MARIE ahead of MAPPO over the last third on 2 of 3 maps (on every seed pair on 1 of them); " in section
    assert "n = 2 seeds per method: descriptive, not significant" in section
    row = "| 8m (SMAX stand-in) | 600-900 | MAPPO | 2 | 35.0% | s1 30.0%, s2 40.0% | MARIE ahead | no (1 of 2) |"
    assert row in section
    assert "Not compared (no MARIE run, or no other method, with evaluations in the last third): 2m_vs_1z" in section
    assert "- Machine h at 2 thread(s): matmul peak 155 GFLOP/s; 1 run," in text
    md = claim_md.read_text()
    assert "QMIX on smax/2s3z: a final value only" in md and "2m_vs_1z (SMAX stand-in): no MARIE run" in md
    csv = pd.read_csv(claim_csv)
    assert list(csv["method"]) == ["MARIE", "MAPPO", "QMIX", "MARIE", "MAPPO", "MARIE", "MAPPO"]
    assert main([str(a) for a in [*report[:-2], "--claim", tmp_path / "missing.csv", "--out", tmp_path / "x.md"]]) == 2
    assert not (tmp_path / "x.md").exists()
