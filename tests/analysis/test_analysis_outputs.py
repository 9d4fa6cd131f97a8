"""Figures, the final table and its verdicts, the reproduction report and the marl-eval export."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.__main__ import main
from conftest import QUICK_SUITE
from analysis.stats import Interval
from analysis.table import Measured, compare, position

REPO = Path(__file__).resolve().parents[2]
BASELINES = [str(p) for p in sorted((REPO / "results" / "baselines").glob("*.csv"))]


def reported(env="starcraft", step=100000, value=0.8, spread=0.1, eval_mode="paper", simulator="SMAC (StarCraft II)"):
    return pd.Series(
        {"env": env, "step": step, "value": value, "spread": spread, "eval_mode": eval_mode, "simulator": simulator}
    )


def measured(low, high, budget=100000, mode="paper"):
    return Measured("MARIE", "this suite", np.array([low, high]), budget, mode, Interval((low + high) / 2, low, high))


def test_position_against_reported_spread():
    assert position(Interval(0.75, 0.72, 0.78), 0.8, 0.1) == "within"
    assert position(Interval(0.95, 0.91, 0.99), 0.8, 0.1) == "above"
    assert position(Interval(0.5, 0.4, 0.69), 0.8, 0.1) == "below"


def test_verdict_only_where_protocol_matches():
    assert compare(measured(0.7, 0.9), "starcraft", reported()) == ("within the reported spread", "")
    assert compare(measured(0.2, 0.3), "starcraft", reported())[0] == "below the reported spread"
    verdict, indicative = compare(measured(0.2, 0.3, budget=20000), "smax", reported())
    assert verdict == "not comparable: budget 20K vs 100K, SMAX vs SMAC" and indicative == ""
    verdict, indicative = compare(measured(0.2, 0.3), "smax", reported())
    assert verdict == "not comparable: SMAX vs SMAC"
    assert indicative == "below the reported spread (indicative only: SMAX vs SMAC)"
    assert compare(measured(0.7, 0.9, mode="standard"), "starcraft", reported())[0] == (
        "not comparable: eval mode standard vs paper"
    )


def _run(*args) -> None:
    assert main([str(a) for a in args]) == 0


def test_figures_are_written_and_not_blank(tmp_path, quick_metrics):
    common = ["--suite", QUICK_SUITE, "--metrics", quick_metrics, *sum((["--baseline", b] for b in BASELINES), [])]
    for env in ("smax", "pettingzoo", "mamujoco"):
        _run("curves", *common, "--env", env, "--out", tmp_path / f"c_{env}.png", "--out", tmp_path / f"c_{env}.pdf")
    _run(
        "aggregates", *common, "--out", tmp_path / "a.csv", "--figure", tmp_path / "a.png",
        "--figure", tmp_path / "a.pdf", "--poi-figure", tmp_path / "p.png",
    )
    for name in ("c_smax", "c_pettingzoo", "c_mamujoco", "a", "p"):
        image = np.asarray(Image.open(tmp_path / f"{name}.png").convert("L"))
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert (image < 128).mean() > 0.005, f"{name}.png looks blank"
    for name in ("c_smax", "c_mamujoco", "a"):
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    aggregates = pd.read_csv(tmp_path / "a.csv")
    assert set(aggregates["env"]) == {"smax"}  # returns are not aggregated without fixed normalisation ranges
    assert {"IQM", "median", "mean", "P(improvement)"} <= set(aggregates["statistic"])


def test_return_families_aggregate_with_fixed_ranges(tmp_path, quick_metrics):
    ranges = json.dumps({"simple_spread_v3": [-60, -10], "HalfCheetah-2x3": [-60, -10]})
    _run("aggregates", "--suite", QUICK_SUITE, "--metrics", quick_metrics, "--normalisation", ranges,
         "--out", tmp_path / "a.csv")
    assert set(pd.read_csv(tmp_path / "a.csv")["env"]) == {"smax", "pettingzoo", "mamujoco"}


def test_final_table_labels_smax_and_states_both_budgets(tmp_path, quick_metrics):
    args = ["table", "--suite", QUICK_SUITE, "--metrics", quick_metrics, *sum((["--baseline", b] for b in BASELINES), [])]
    _run(*args, "--out", tmp_path / "t.csv", "--out", tmp_path / "t.md", "--out", tmp_path / "t.html")
    table = pd.read_csv(tmp_path / "t.csv", keep_default_na=False)
    marie_3m = table[(table["env"] == "smax") & (table["map"] == "3m") & (table["method"] == "MARIE")].iloc[0]
    assert int(marie_3m["budget"]) == 12000 and int(marie_3m["reported_budget"]) == 100000
    assert marie_3m["verdict"] == "not comparable: budget 12K vs 100K, SMAX vs SMAC"
    assert float(marie_3m["ci95_low"]) <= float(marie_3m["mean"]) <= float(marie_3m["ci95_high"])
    md = (tmp_path / "t.md").read_text()
    smax_lines = [line for line in md.splitlines() if "| 3m |" in line or "| 2s3z |" in line]
    assert smax_lines and all(line.startswith("| SMAX stand-in |") for line in smax_lines)
    assert "<table" in (tmp_path / "t.html").read_text()


def test_reproduction_report_and_marl_eval(tmp_path, quick_metrics):
    base = ["--suite", QUICK_SUITE, "--metrics", quick_metrics, *sum((["--baseline", b] for b in BASELINES), [])]
    _run("table", *base, "--out", tmp_path / "t.csv")
    _run("aggregates", *base, "--out", tmp_path / "a.csv")
    prov = tmp_path / "p.csv"
    pd.DataFrame([{"env": "smax", "git_sha": "abc1234"}]).to_csv(prov, index=False)
    _run("report", "--suite", QUICK_SUITE, "--table", tmp_path / "t.csv", "--aggregates", tmp_path / "a.csv",
         "--provenance", prov, "--metrics", quick_metrics, "--out", tmp_path / "r.md", "--out", tmp_path / "r.html")
    text = (tmp_path / "r.md").read_text()
    for expected in ("## What differs from the paper", "SMAX (JaxMARL), a stand-in", "budget 12K env steps vs the paper's 100K",
                     "## How verdicts are decided", "### 3m (SMAX stand-in)", "git_sha: abc1234",
                     "## World-model quality", "No run of this suite logs held-out world-model metrics"):
        assert expected in text
    assert "<table>" in (tmp_path / "r.html").read_text()
    _run("marl-eval", "--metrics", quick_metrics, "--out", tmp_path / "m.json")
    data = json.loads((tmp_path / "m.json").read_text())
    run = data["smax"]["3m"]["marie"]["seed_1"]
    assert run["step_0"]["step_count"] == 0 and len(run["step_0"]["win_rate"]) == 1
    assert run["absolute_metrics"]["win_rate"] == run[f"step_{len(run) - 2}"]["win_rate"]


def test_runs_of_a_new_registered_algorithm_enter_every_output(tmp_path):
    """A suite naming a runnable baseline (here `vdn`) gets it in curves, table and aggregates, like MARIE."""
    import yaml
    from fake_runs import write_suite_runs

    from analysis.aggregates import aggregate_table
    from analysis.collect import collect
    from analysis.evidence import load_evidence
    from analysis.suite import load_suite
    from analysis.table import final_table

    data = yaml.safe_load((REPO / "experiments/suites/smoke.yaml").read_text())
    data["algos"]["vdn"] = {}
    suite_path = tmp_path / "withvdn.yaml"
    suite_path.write_text(yaml.safe_dump(data))
    suite = load_suite(suite_path)
    write_suite_runs(tmp_path, suite)
    collect(tmp_path / "results/runs/withvdn", tmp_path / "m.csv", suite)
    evidence = load_evidence(suite, tmp_path / "m.csv", [])
    assert "VDN" in set(evidence.curves["method"])
    assert "VDN" in set(final_table(evidence)["method"])
    aggregates, _ = aggregate_table(evidence, {}, n_boot=100)
    assert ((aggregates["statistic"] == "P(improvement)") & (aggregates["versus"] == "VDN")).any()


def test_mamba_runs_enter_the_outputs_beside_its_reported_rows(tmp_path):
    """The quick_mamba suite's MAMBA runs reach curves, table and aggregates through the runnable-baseline path,
    and the table row of measured MAMBA on SMAX 3m is compared with the paper's reported MAMBA (a SMAC number)."""
    from fake_runs import write_suite_runs

    from analysis.aggregates import aggregate_table
    from analysis.collect import collect
    from analysis.evidence import load_evidence
    from analysis.suite import load_suite
    from analysis.table import final_table

    suite = load_suite("quick_mamba")
    assert set(suite.algos) == {"marie", "mamba", "mappo"} and len(suite.seeds) == 3
    write_suite_runs(tmp_path, suite)
    collect(tmp_path / "results/runs/quick_mamba", tmp_path / "m.csv", suite)
    evidence = load_evidence(suite, tmp_path / "m.csv", BASELINES)
    assert "MAMBA" in set(evidence.curves["method"])
    table = final_table(evidence)
    mamba = table[table["method"] == "MAMBA"]
    assert len(mamba) == 1 and mamba.iloc[0]["map"] == "3m" and mamba.iloc[0]["n_seeds"] == 3
    reported_mamba_3m = 0.877  # results/reference/marie_paper_smac.csv, 3m, MAMBA
    assert mamba.iloc[0]["reported"] == reported_mamba_3m and mamba.iloc[0]["reported_env"] == "starcraft"
    assert mamba.iloc[0]["verdict"].startswith("not comparable")  # SMAX at 12K vs SMAC at 100K
    aggregates, _ = aggregate_table(evidence, {}, n_boot=100)
    assert ((aggregates["statistic"] == "P(improvement)") & (aggregates["versus"] == "MAMBA")).any()


def test_unstated_eval_mode_or_simulator_is_not_comparable():
    assert compare(measured(0.7, 0.9), "starcraft", reported(eval_mode=None)) == (
        "not comparable: eval mode not stated", ""
    )
    assert compare(measured(0.7, 0.9), "starcraft", reported(eval_mode=np.nan))[0] == "not comparable: eval mode not stated"
    verdict, indicative = compare(measured(0.7, 0.9), "starcraft", reported(simulator=""))
    assert verdict == "not comparable: simulator not stated"
    assert indicative == "within the reported spread (indicative only: simulator not stated)"
    one_seed = Measured("MARIE", "this suite", np.array([0.5]), 100000, "paper", Interval(0.5, np.nan, np.nan))
    assert compare(one_seed, "starcraft", reported()) == ("no verdict (1 seed: no interval)", "")


def _figures(quick_suite, quick_metrics):
    from analysis.aggregates import aggregate_table, aggregates_figure, poi_figure
    from analysis.curves import curves_figure
    from analysis.evidence import load_evidence

    evidence = load_evidence(quick_suite, quick_metrics, BASELINES)
    table, notes = aggregate_table(evidence, {}, n_boot=100)
    yield "aggregates", aggregates_figure(table, evidence, notes)
    yield "poi", poi_figure(table, evidence)
    for env in quick_suite.envs:
        yield f"curves {env}", curves_figure(evidence, env)


def test_every_title_is_fully_visible(quick_suite, quick_metrics):
    """Each figure's texts lie inside the PNG (the one-panel MAMuJoCo and MPE curves used to cut their titles),
    and each panel title is no wider than its panel."""
    import matplotlib.pyplot as plt

    from analysis.plots import texts_outside

    for name, fig in _figures(quick_suite, quick_metrics):
        assert texts_outside(fig) == [], name
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            if ax.get_visible() and ax.title.get_text():
                assert ax.title.get_window_extent(renderer).width <= ax.bbox.width + 1, (name, ax.title.get_text())
        plt.close(fig)


def test_report_html_never_passes_markup_from_baselines(tmp_path, quick_metrics):
    evil = tmp_path / "evil.csv"
    evil.write_text(
        "method,env,map,seed,step,metric,value,spread,n_seeds,eval_mode,simulator,provenance\n"
        "<script>alert(1)</script>,smax,3m,,12000,eval/win_rate,0.5,0.1,4,paper,<b>SMAX</b>,"
        "[click](javascript:alert(2)) <img src=x onerror=alert(3)>\n"
    )
    base = ["--suite", QUICK_SUITE, "--metrics", quick_metrics, "--baseline", evil]
    _run("table", *base, "--out", tmp_path / "t.csv", "--out", tmp_path / "t.md", "--out", tmp_path / "t.html")
    _run("aggregates", *base, "--out", tmp_path / "a.csv")
    prov = tmp_path / "p.csv"
    pd.DataFrame([{"env": "smax", "host": "<script>alert(4)</script>"}]).to_csv(prov, index=False)
    _run("report", "--suite", QUICK_SUITE, "--table", tmp_path / "t.csv", "--aggregates", tmp_path / "a.csv",
         "--provenance", prov, "--metrics", quick_metrics, "--out", tmp_path / "r.md", "--out", tmp_path / "r.html")
    for name in ("r.html", "t.html", "r.md", "t.md"):
        text = (tmp_path / name).read_text().lower()
        assert "<script" not in text and "<img" not in text and "<b>smax" not in text, name
        assert 'href="javascript' not in text, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (tmp_path / "r.html").read_text().lower()  # shown, inert


def test_final_last_k_from_the_command_line_reaches_the_report(tmp_path, quick_metrics):
    base = ["--suite", QUICK_SUITE, "--metrics", quick_metrics, "--final", "last_k", "--last-k", "3"]
    _run("table", *base, "--out", tmp_path / "t.csv", "--out", tmp_path / "t.md")
    _run("aggregates", *base, "--out", tmp_path / "a.csv", "--out", tmp_path / "a.md")
    table = pd.read_csv(tmp_path / "t.csv")
    assert set(table["final_statistic"]) == {"last_k"} and set(table["last_k"]) == {3}
    assert (table["mean"] == table["mean_last_k"]).all() and (table["mean"] != table["mean_last"]).any()
    md = (tmp_path / "t.md").read_text()
    assert "ours (mean of the last 3 evaluations): mean [95% t-interval over seeds]" in md and "ours: last eval" in md
    assert "final score = mean of the last 3 evaluations" in (tmp_path / "a.md").read_text()
    prov = tmp_path / "p.csv"
    pd.DataFrame([{"env": "smax"}]).to_csv(prov, index=False)
    _run("report", "--suite", QUICK_SUITE, "--table", tmp_path / "t.csv", "--aggregates", tmp_path / "a.csv",
         "--provenance", prov, "--out", tmp_path / "r.md")
    report = (tmp_path / "r.md").read_text()
    assert "final score of a seed = its mean of the last 3 evaluations" in report
    assert "ours: last eval" in report and "n=2 seeds" in report


def test_default_report_shows_last_k_mean_beside_the_final(tmp_path, quick_metrics):
    _run("table", "--suite", QUICK_SUITE, "--metrics", quick_metrics, "--out", tmp_path / "t.md")
    md = (tmp_path / "t.md").read_text()
    assert "ours (last evaluation): mean [95% t-interval over seeds]" in md and "ours: last-5 mean" in md
    assert "curve mean" in md
