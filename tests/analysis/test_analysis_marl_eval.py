"""marl-eval export, read back by marl-eval's own loader (data_process_pipeline + create_matrices_for_rliable)."""

import copy
import json

import numpy as np
import pandas as pd
import pytest
from fake_runs import write_run
from marl_eval.utils.data_processing_utils import create_matrices_for_rliable, data_process_pipeline

from analysis.collect import collect
from analysis.marl_eval import ExportError, export, to_marl_eval
from analysis.suite import load_suite

INTERVAL = 20000  # evaluations every 20K steps: 6, 11 and 21 per run at 100K, 200K and 400K


@pytest.fixture(scope="module")
def paper_smac_metrics(tmp_path_factory):
    """paper_smac's shape (13 SMAC maps at 100K/200K/400K, 4 seeds) with synthetic runs of MARIE and a second algo."""
    suite = load_suite("paper_smac")
    root = tmp_path_factory.mktemp("paper_smac") / "runs"
    for run in suite.runs:
        for algo in ("marie", "qmix"):
            write_run(root / run.env / run.map / algo / f"seed{run.seed}", run.env, run.map, algo, run.seed, run.steps,
                      interval=INTERVAL)  # fmt: skip
    out = root.parent / "metrics.csv"
    collect(root, out)
    return suite, out


def _load(data: dict, env: str) -> tuple[dict, dict]:
    processed = data_process_pipeline(copy.deepcopy(data), metrics_to_normalize=["return"])
    return create_matrices_for_rliable(processed, env, metrics_to_normalize=["return"])


def test_paper_smac_export_loads_in_marl_eval(tmp_path, paper_smac_metrics):
    suite, metrics = paper_smac_metrics
    out = tmp_path / "marl_eval.json"
    assert export(metrics, out) == []
    data = json.loads(out.read_text())
    assert sorted(data) == ["starcraft_100K", "starcraft_200K", "starcraft_400K"]
    table = pd.read_csv(metrics)
    finals = table[table["metric"] == "eval/win_rate"].sort_values("step").groupby(["map", "algo", "seed"])["value"].last()
    for env, n_maps, n_steps in (("starcraft_100K", 10, 6), ("starcraft_200K", 2, 11), ("starcraft_400K", 1, 21)):
        final_matrices, over_time = _load(data, env)
        maps = list(data[env])
        for algo in ("marie", "qmix"):
            matrix = final_matrices["mean_win_rate"][algo]
            assert matrix.shape == (4, n_maps) and np.isfinite(matrix).all()
            expected = np.array([[finals[(m, algo, seed)] for m in maps] for seed in suite.seeds])
            np.testing.assert_allclose(matrix, expected)
            assert over_time["mean_win_rate"][algo].shape == (4, n_maps, n_steps)


def test_one_group_for_all_budgets_loses_data_silently(paper_smac_metrics):
    """Why one group per budget: with all maps in one env (the previous export), marl-eval takes the first task's
    6 evaluations for every map, and corridor's 21 are cut to 6 without a word."""
    _, metrics = paper_smac_metrics
    data, _ = to_marl_eval(pd.read_csv(metrics))
    merged = {"starcraft": {m: v for group in data.values() for m, v in group.items()}}
    assert len(merged["starcraft"]["corridor"]["marie"]["seed_1"]) - 1 == 21
    _, over_time = _load(merged, "starcraft")
    assert over_time["mean_win_rate"]["marie"].shape == (4, 13, 6)


def test_slots_missing_in_some_run_are_dropped_and_reported(tmp_path):
    root = tmp_path / "runs"
    for seed in (1, 2):
        write_run(root / f"smax/3m/marie/seed{seed}", "smax", "3m", "marie", seed, 10000, interval=1000)
    path = root / "smax/3m/marie/seed2/metrics.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if ",5000," not in line and ",5002," not in line) + "\n")
    collect(root, tmp_path / "m.csv")
    data, notes = to_marl_eval(pd.read_csv(tmp_path / "m.csv"))
    assert notes == ["smax: evaluation slot(s) 5 (interval 1000 steps) left out: not every run has them"]
    run = data["smax"]["3m"]["marie"]["seed_1"]
    assert len(run) == 11 and [run[f"step_{i}"]["step_count"] for i in (4, 5)] == [4001, 6001]
    _load(data, "smax")


def test_non_finite_values_never_become_json(tmp_path):
    frame = pd.DataFrame(
        [("smax", "3m", "marie", 1, 100, "eval/win_rate", float("nan"))],
        columns=["env", "map", "algo", "seed", "step", "metric", "value"],
    )
    with pytest.raises(ExportError, match=r"smax/3m/marie/seed1: eval/win_rate at step 100 is nan"):
        to_marl_eval(frame)


def test_unequal_seeds_across_maps_of_a_group_are_refused(tmp_path):
    root = tmp_path / "runs"
    for map_name, seeds in (("3m", (1, 2)), ("2s3z", (1,))):
        for seed in seeds:
            write_run(root / f"smax/{map_name}/marie/seed{seed}", "smax", map_name, "marie", seed, 1000)
    collect(root, tmp_path / "m.csv")
    with pytest.raises(ExportError, match=r"smax: 3m/marie has seeds \[1, 2\] but 2s3z/marie has \[1\]"):
        to_marl_eval(pd.read_csv(tmp_path / "m.csv"))


def test_runs_with_one_evaluation_each_share_its_slot():
    """A budget below the eval interval (the smoke suite: 300 steps, interval 500) leaves each run one evaluation, at
    a step that differs by run (it lands when an episode ends); they are the same evaluation slot."""
    rows = [("smax", "3m", algo, seed, step, "eval/win_rate", 0.0) for algo, seed, step in
            (("marie", 1, 302), ("marie", 2, 315), ("mappo", 1, 321), ("mappo", 2, 309))]  # fmt: skip
    metrics = pd.DataFrame(rows, columns=["env", "map", "algo", "seed", "step", "metric", "value"])
    data, notes = to_marl_eval(metrics)
    assert notes == []
    assert data["smax"]["3m"]["marie"]["seed_2"]["step_0"] == {"step_count": 315, "win_rate": [0.0]}
    assert set(data["smax"]["3m"]["mappo"]["seed_1"]) == {"step_0", "absolute_metrics"}
