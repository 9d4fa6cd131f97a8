"""collect: merges run directories and refuses malformed, incomplete or mixed-mode runs without writing."""

from pathlib import Path

import pandas as pd
import pytest
from fake_runs import write_run

from analysis.__main__ import main
from analysis.collect import TIDY_COLUMNS, collect
from analysis.runs import RunError


def make_root(tmp_path: Path, n_seeds: int = 2) -> Path:
    root = tmp_path / "runs"
    for seed in range(1, n_seeds + 1):
        write_run(root / f"smax/3m/marie/seed{seed}", "smax", "3m", "marie", seed, 1000)
    return root


def test_collect_merges_runs_into_tidy_table(tmp_path):
    root = make_root(tmp_path)
    out = tmp_path / "metrics.csv"
    collect(root, out)
    table = pd.read_csv(out)
    assert list(table.columns) == TIDY_COLUMNS
    assert sorted(table["seed"].unique()) == [1, 2]
    evals = table[table["metric"] == "eval/win_rate"]
    assert set(evals["eval_mode"]) == {"paper"} and (evals["n_episodes"] == 10).all()
    assert table["provenance"].str.contains("git=abc1234").all()
    assert table["provenance"].str.contains("smax/3m/marie/seed1").any()


def test_collect_suite_checks_every_run(tmp_path, quick_suite, quick_metrics):
    table = pd.read_csv(quick_metrics)
    assert table.groupby(["env", "map", "algo", "seed"]).ngroups == len(quick_suite.runs)
    assert set(table["suite"]) == {"quick"}


def _refused(root: Path, tmp_path: Path, match: str, suite=None):
    out = tmp_path / "out" / "metrics.csv"
    with pytest.raises(RunError, match=match):
        collect(root, out, suite)
    assert not out.exists(), "a refused collection must write nothing"


def test_incomplete_run_is_refused(tmp_path):
    root = make_root(tmp_path)
    write_run(root / "smax/3m/marie/seed3", "smax", "3m", "marie", 3, 1000, completed=False)
    _refused(root, tmp_path, r"seed3: incomplete run \(no COMPLETED marker\)")


def test_non_numeric_value_is_refused_naming_row_and_column(tmp_path):
    root = make_root(tmp_path)
    path = root / "smax/3m/marie/seed2/metrics.csv"
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[6], "abc")
    path.write_text("\n".join(lines) + "\n")
    _refused(root, tmp_path, r"seed2/metrics.csv: row 4 column 'value': 'abc' is not a number")


def test_missing_column_is_refused(tmp_path):
    root = make_root(tmp_path)
    path = root / "smax/3m/marie/seed1/metrics.csv"
    frame = pd.read_csv(path).drop(columns=["eval_mode"])
    frame.to_csv(path, index=False)
    _refused(root, tmp_path, r"missing column\(s\) eval_mode")


def test_truncated_csv_is_refused(tmp_path):
    root = make_root(tmp_path)
    path = root / "smax/3m/marie/seed1/metrics.csv"
    path.write_text(path.read_text() + "smax,3m,marie,1,999\n")
    _refused(root, tmp_path, r"row \d+ column 'metric' is empty")


def test_run_mixing_eval_modes_is_refused(tmp_path):
    root = make_root(tmp_path)
    extra = ["smax,3m,marie,1,1050,eval/win_rate,0.5,32,standard"]
    write_run(root / "smax/3m/marie/seed1", "smax", "3m", "marie", 1, 1000, extra_rows=extra)
    _refused(root, tmp_path, r"mixes eval modes \(paper, standard\)")


def test_runs_of_different_eval_modes_are_refused(tmp_path):
    root = make_root(tmp_path)
    write_run(root / "smax/3m/marie/seed3", "smax", "3m", "marie", 3, 1000, eval_mode="standard")
    _refused(root, tmp_path, r"eval mode 'standard' differs")


def test_run_keys_must_match_directory(tmp_path):
    root = make_root(tmp_path)
    write_run(root / "smax/3m/marie/seed5", "smax", "3m", "marie", 4, 1000)
    _refused(root, tmp_path, r"column 'seed' is 4 but the directory says '5'")


def test_suite_collection_needs_every_run_at_full_budget(tmp_path, quick_suite):
    from fake_runs import write_suite_runs

    write_suite_runs(tmp_path, quick_suite)
    root = tmp_path / "results/runs/quick"
    short = quick_suite.runs[0]
    write_run(root / short.key, short.env, short.map, short.algo, short.seed, short.steps // 2)
    _refused(root, tmp_path, r"incomplete run: trained \d+ of 12000 env steps", quick_suite)


def test_cli_prints_one_line_error_and_exits_2(tmp_path, capsys):
    root = make_root(tmp_path)
    (root / "smax/3m/marie/seed1/COMPLETED").unlink()
    out = tmp_path / "metrics.csv"
    assert main(["collect", "--runs", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "seed1: incomplete run" in err and "\n" not in err
    assert not out.exists()


def test_duplicate_step_metric_rows_are_refused(tmp_path):
    """Two trainings writing one run directory at once leave every row twice; collect names the run and rows."""
    root = make_root(tmp_path)
    path = root / "smax/3m/marie/seed2/metrics.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + lines[1:4]) + "\n")
    n = len(lines)
    _refused(root, tmp_path, rf"seed2/metrics.csv: duplicate rows for step 0 metric 'eval/win_rate' \(rows 2, {n + 1}; "
             r"3 \(step, metric\) pair\(s\) repeated in all\)")
