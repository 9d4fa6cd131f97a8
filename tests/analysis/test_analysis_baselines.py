"""Drop-in baselines: validation on load, and where their rows appear (tables, figures, statistics)."""

from pathlib import Path

import pandas as pd
import pytest

from analysis.aggregates import aggregate_table
from analysis.baselines import BaselineError, load_baseline
from analysis.evidence import load_evidence
from analysis.reference import CONVERSIONS, REFERENCE_DIR
from analysis.table import final_table

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
