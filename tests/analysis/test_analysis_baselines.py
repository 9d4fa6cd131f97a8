"""Drop-in baselines: validation on load, and where their rows appear (tables, figures, statistics)."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.aggregates import aggregate_table
from analysis.baselines import BaselineError, load_baseline
from analysis.evidence import load_evidence
from analysis.reference import CONVERSIONS, REFERENCE_DIR
from analysis.table import final_table
from conftest import QUICK_SUITE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "results" / "baselines" / "examples" / "qmix_smax_example.csv"
HEADER = "method,env,map,seed,step,metric,value,provenance"


def write(tmp_path: Path, text: str, name: str = "b.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reported_rows_are_the_reference_converted(tmp_path):
    """results/baselines/paper_reported_*.csv must equal a fresh conversion of results/reference/."""
    for source, (target, convert) in CONVERSIONS.items():
        fresh = convert(REFERENCE_DIR / source)
        committed = pd.read_csv(REPO / "results" / "baselines" / target, keep_default_na=False)
        assert len(committed) == len(fresh)
        assert committed["value"].astype(float).tolist() == pytest.approx(fresh["value"].astype(float).tolist())
        assert (committed["provenance"] != "").all()


def test_paper_table_is_stored_as_fractions():
    rows = load_baseline(REPO / "results/baselines/paper_reported_smac.csv")
    marie_3m = rows[(rows["method"] == "MARIE") & (rows["map"] == "3m")].iloc[0]
    reference = pd.read_csv(REPO / "results/reference/marie_paper_smac.csv")
    ref = reference[(reference["method"] == "MARIE") & (reference["map"] == "3m")].iloc[0]
    assert marie_3m["value"] == pytest.approx(ref["win_rate_mean_pct"] / 100)
    assert marie_3m["summary"] and marie_3m["env"] == "starcraft"


@pytest.mark.parametrize(
    "row, message",
    [
        ("QMIX,smax,3m,1,100,eval/win_rate,abc,x", r"b.csv: row 2 column 'value': 'abc' is not a number"),
        ("QMIX,smax,3m,1,100,eval/win_rate,85,x", r"row 2 column 'value': 85 is outside \[0, 1\]"),
        ("QMIX,smac,3m,1,100,eval/win_rate,0.5,x", r"row 2 column 'env': 'smac' is not one of"),
        ("QMIX,smax,3m,one,100,eval/win_rate,0.5,x", r"row 2 column 'seed': 'one' is not a number"),
        ("QMIX,smax,3m,1,100,eval/win_rate,0.5,", r"row 2 column 'provenance': is empty"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path, row, message):
    with pytest.raises(BaselineError, match=message):
        load_baseline(write(tmp_path, f"{HEADER}\n{row}\n"))


def test_unknown_and_missing_columns(tmp_path):
    with pytest.raises(BaselineError, match="unknown column 'colour'"):
        load_baseline(write(tmp_path, f"{HEADER},colour\nQMIX,smax,3m,1,100,eval/win_rate,0.5,x,red\n"))
    with pytest.raises(BaselineError, match=r"missing column\(s\) provenance"):
        load_baseline(write(tmp_path, "method,env,map,seed,step,metric,value\n"))


def test_spread_only_on_summary_rows(tmp_path):
    with pytest.raises(BaselineError, match="only summary rows"):
        load_baseline(write(tmp_path, f"{HEADER},spread\nQMIX,smax,3m,1,100,eval/win_rate,0.5,x,0.1\n"))


def test_example_baseline_is_valid_and_not_loaded_by_default():
    frame = load_baseline(EXAMPLE)
    assert not frame["summary"].any() and set(frame["env"]) == {"smax"}
    assert EXAMPLE.parent != REPO / "results" / "baselines"  # examples/ is not globbed by the workflow


def _summary_baseline(tmp_path):
    return write(
        tmp_path,
        f"{HEADER},spread,n_seeds\nVDN,smax,3m,,20000,eval/win_rate,0.4,reported somewhere,0.1,4\n",
        "summary.csv",
    )


def test_per_seed_baseline_enters_table_figures_and_statistics(tmp_path, quick_suite, quick_metrics):
    evidence = load_evidence(quick_suite, quick_metrics, [EXAMPLE, _summary_baseline(tmp_path)])
    table = final_table(evidence)
    qmix = table[(table["method"] == "QMIX-example") & (table["map"] == "3m")]
    assert len(qmix) == 1 and qmix.iloc[0]["n_seeds"] == 3
    assert "QMIX-example" in set(evidence.curves["method"])
    aggregates, _ = aggregate_table(evidence, {}, n_boot=200)
    assert "QMIX-example" in set(aggregates["method"])
    # the summary-only VDN row is a table row, never a statistic
    vdn = table[table["method"] == "VDN"]
    assert len(vdn) == 1 and vdn.iloc[0]["n_seeds"] == 0 and vdn.iloc[0]["reported"] == pytest.approx(0.4)
    assert "VDN" not in set(aggregates["method"]) and "VDN" not in set(evidence.per_seed["method"])


def test_adding_a_baseline_never_changes_other_methods_numbers(quick_suite, quick_metrics):
    before, _ = aggregate_table(load_evidence(quick_suite, quick_metrics, []), {}, n_boot=300)
    after, _ = aggregate_table(load_evidence(quick_suite, quick_metrics, [EXAMPLE]), {}, n_boot=300)
    key = ["env", "method", "statistic", "versus"]
    merged = before.merge(after, on=key, suffixes=("_before", "_after"))
    assert len(merged) == len(before)
    for column in ("point", "ci95_low", "ci95_high"):
        assert (merged[f"{column}_before"] == merged[f"{column}_after"]).all()
    # only the example's own rows and MARIE's P(improvement) over it are new
    assert set(after["method"]) - set(before["method"]) == {"QMIX-example"}


def test_per_seed_baseline_may_not_reuse_an_own_algorithm_name(tmp_path, quick_suite, quick_metrics):
    clash = write(tmp_path, f"{HEADER}\nMAPPO,smax,3m,1,20000,eval/win_rate,0.5,x\n")
    with pytest.raises(BaselineError, match="has the name of one of the suite's own algorithms"):
        load_evidence(quick_suite, quick_metrics, [clash])


def _notes_of(tmp_path, quick_suite, quick_metrics, text):
    evidence = load_evidence(quick_suite, quick_metrics, [write(tmp_path, text, "checks.csv")])
    return evidence, "\n".join(evidence.notes)


def test_per_seed_curves_are_cut_at_the_suite_budget(tmp_path, quick_suite, quick_metrics):
    rows = [f"QMIX,smax,3m,1,{s},eval/win_rate,{s / 40000},paper,x" for s in (0, 6000, 12000, 20000, 30000)]
    header = "method,env,map,seed,step,metric,value,eval_mode,provenance"
    evidence, notes = _notes_of(tmp_path, quick_suite, quick_metrics, header + "\n" + "\n".join(rows) + "\n")
    qmix = evidence.finals[evidence.finals["method"] == "QMIX"].iloc[0]
    assert qmix["step"] == 12000 and qmix["value"] == pytest.approx(0.3)  # not the 30K value 0.75
    assert "checks.csv: QMIX on smax/3m: 2 evaluations past the suite's budget 12K cut" in notes


def test_baselines_of_another_budget_or_unstated_mode_never_reach_a_statistic(tmp_path, quick_suite, quick_metrics):
    header = "method,env,map,seed,step,metric,value,eval_mode,provenance"
    rows = [
        "SHORT,smax,3m,1,6000,eval/win_rate,0.5,paper,x",  # its run ended at half our budget
        "LONG,smax,3m,1,100000,eval/win_rate,0.9,paper,x",  # only a final at the paper's budget
        "NOMODE,smax,3m,1,12000,eval/win_rate,0.5,,x",
        "OTHERMODE,smax,3m,1,12000,eval/win_rate,0.5,standard,x",
        "OK,smax,3m,1,12000,eval/win_rate,0.5,paper,x",
    ]
    evidence, notes = _notes_of(tmp_path, quick_suite, quick_metrics, header + "\n" + "\n".join(rows) + "\n")
    assert set(evidence.per_seed["method"]) - {"MARIE", "MAPPO"} == {"OK"}
    assert "checks.csv: SHORT on smax/3m: left out (different budget: seed 1 at 6K; suite budget 12K)" in notes
    assert "checks.csv: LONG on smax/3m: seed(s) 1 left out (no evaluation within the suite's budget 12K)" in notes
    assert "checks.csv: NOMODE left out (1 row): eval mode not stated" in notes
    assert "checks.csv: OTHERMODE left out (1 row): eval mode 'standard' differs from the suite's 'paper'" in notes
    aggregates, _ = aggregate_table(evidence, {}, n_boot=100)
    assert set(aggregates["method"]) == {"MARIE", "MAPPO", "OK"}


def test_rows_on_another_metric_or_a_misspelled_map_are_named(tmp_path, quick_suite, quick_metrics):
    header = "method,env,map,seed,step,metric,value,eval_mode,provenance"
    rows = [
        "QMIX,smax,3m,1,12000,eval/return,5.0,paper,x",
        "QMIX,smax,3M,1,12000,eval/win_rate,0.5,paper,x",
        "QMIX,smax,3m,1,12000,eval/win_rate,0.5,paper,x",
        "QMIX,mamujoco,HalfCheetah-3x2,1,20000,eval/return,0.5,paper,x",  # another suite's map: no "did you mean"
    ]
    _, notes = _notes_of(tmp_path, quick_suite, quick_metrics, header + "\n" + "\n".join(rows) + "\n")
    assert ("checks.csv: 1 row of smax/3m not used: metric 'eval/return' is not the primary metric 'eval/win_rate' "
            "of smax") in notes
    assert ("checks.csv: 2 rows on maps outside suite 'quick' not used: mamujoco/HalfCheetah-3x2, "
            "smax/3M (did you mean '3m'?)") in notes


def test_notes_appear_in_the_table_outputs(tmp_path, quick_metrics):
    from analysis.__main__ import main

    bad = write(tmp_path, "method,env,map,seed,step,metric,value,eval_mode,provenance\n"
                          "QMIX,smax,3M,1,12000,eval/win_rate,0.5,paper,x\n", "typo.csv")  # fmt: skip
    out = [tmp_path / "t.md", tmp_path / "t.html", tmp_path / "a.md"]
    assert main(["table", "--suite", QUICK_SUITE, "--metrics", str(quick_metrics), "--baseline", str(bad),
                 "--out", str(out[0]), "--out", str(out[1])]) == 0  # fmt: skip
    assert main(["aggregates", "--suite", QUICK_SUITE, "--metrics", str(quick_metrics), "--baseline", str(bad),
                 "--out", str(out[2])]) == 0  # fmt: skip
    for path in out:
        assert "typo.csv: 1 row on maps outside suite" in path.read_text() and "did you mean" in path.read_text()


def test_reported_row_at_our_budget_is_the_one_compared(tmp_path, quick_suite, quick_metrics):
    header = "method,env,map,seed,step,metric,value,spread,n_seeds,eval_mode,simulator,provenance"
    rows = [
        "MARIE,smax,3m,,100000,eval/win_rate,0.99,0.01,4,paper,SMAX (JaxMARL 0.2),paper budget",
        "MARIE,smax,3m,,12000,eval/win_rate,0.40,0.05,4,paper,SMAX (JaxMARL 0.2),our budget",
    ]
    evidence = load_evidence(quick_suite, quick_metrics, [write(tmp_path, header + "\n" + "\n".join(rows) + "\n")])
    row = final_table(evidence).query("map == '3m' and method == 'MARIE'").iloc[0]
    assert row["reported_source"] == "our budget" and int(row["reported_budget"]) == 12000
    assert not row["verdict"].startswith("not comparable")
