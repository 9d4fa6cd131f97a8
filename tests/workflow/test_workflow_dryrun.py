"""Dry-runs of every suite, lint and formatting, config validation, and how jobs are assembled."""

from __future__ import annotations

import math
import os
import re

import pytest
import yaml
from workflow_helpers import REPO, VENV_BIN, copy_workflow, snakemake

from analysis.suite import available_suites, load_suite


@pytest.mark.parametrize("suite", available_suites())
def test_every_suite_dry_runs(workflow_copy, suite):
    result = snakemake(workflow_copy, "-n", "--cores", "8", "--config", f"suite={suite}")
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    assert int(jobs["train"]) == len(load_suite(suite).runs)
    assert int(jobs["collect"]) == 1


def test_quick_suite_is_the_default_and_covers_the_required_maps():
    suite = load_suite("quick")
    maps = {(r.env, r.map) for r in suite.runs}
    # two SMAX stand-ins of paper maps and one MAMuJoCo task; MPE has its own suite
    assert {("smax", "3m"), ("smax", "2m_vs_1z"), ("mamujoco", "HalfCheetah-2x3")} <= maps
    assert ("pettingzoo", "simple_spread_v3") in {(r.env, r.map) for r in load_suite("quick_mpe").runs}
    assert {"marie", "mappo"} <= set(suite.algos) and len(suite.seeds) >= 2
    assert yaml.safe_load((REPO / "experiments/config.yaml").read_text())["suite"] == "quick"


def test_lint_reports_nothing(workflow_copy):
    result = snakemake(workflow_copy, "--lint")
    assert result.returncode == 0
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr


def test_snakefmt_check_passes():
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "experiments/rules").glob("*.smk")))]
    import subprocess

    result = subprocess.run([str(VENV_BIN / "snakefmt"), "--check", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_train_commands_follow_the_suite_and_cli_syntax(workflow_copy):
    result = snakemake(workflow_copy, "-n", "-p", "--cores", "8", "--config", "suite=paper_smac")
    assert result.returncode == 0, result.stderr[-2000:]
    commands = [line for line in result.stdout.splitlines() if "marie train" in line]
    assert len(commands) == 104  # 13 maps x 4 seeds x (MARIE, MAMBA)
    assert sum("--algo mamba" in c for c in commands) == 52
    hard = next(c for c in commands if "--env_name 3s_vs_5z" in c and "--seed 1 " in c and "--algo marie" in c)
    assert "--steps 200000 --preset paper --eval-mode paper --threads 4 --device cuda" in hard
    assert "--tokenizer vq --decay 0.8 --sample_temp inf --ce_for_av --temperature 2.0" in hard
    assert "--out-dir results/runs/paper_smac/starcraft/3s_vs_5z/marie/seed1" in hard
    assert all("--ce_for_r" in c for c in commands if "--env_name 2m_vs_1z" in c and "--algo marie" in c)
    assert not any("--ce_for_r" in c or "--tokenizer" in c for c in commands if "--algo mamba" in c)  # MARIE's flags
    assert not any("--ce_for_r" in c for c in commands if "--env_name 3m " in c)
    assert "gpu=1" in result.stdout


def test_mamujoco_map_is_split_into_scenario_and_partition(workflow_copy):
    result = snakemake(workflow_copy, "-n", "-p", "--cores", "2", "--config", "suite=quick")
    assert "--env mamujoco --env_name HalfCheetah --agent_conf 2x3" in result.stdout


def test_cores_beyond_the_machine_do_not_oversubscribe(workflow_copy):
    cpus = len(os.sched_getaffinity(0))
    result = snakemake(workflow_copy, "-n", "--cores", "8", "--config", "suite=quick")
    threads = {int(t) for t in re.findall(r"^\s+threads: (\d+)$", result.stdout, flags=re.M)}
    # each quick job really uses 1 thread; it reserves ceil(8 / cpus) of the 8 cores -> at most `cpus` jobs at once
    assert threads == {min(8, math.ceil(8 / cpus))}
    assert "--threads 1 " in snakemake(workflow_copy, "-n", "-p", "--cores", "8").stdout


def _broken_suite(tmp_path, mutate) -> str:
    copy = copy_workflow(tmp_path)
    path = copy / "experiments/suites/quick.yaml"
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data))
    result = snakemake(copy, "-n", "--cores", "1")
    assert result.returncode != 0
    return result.stdout + result.stderr


def test_unknown_suite_key_is_rejected(tmp_path):
    out = _broken_suite(tmp_path, lambda d: d.update(budget=5))
    assert "experiments/suites/quick.yaml: unknown key 'budget'" in out


def test_unknown_map_is_rejected(tmp_path):
    out = _broken_suite(tmp_path, lambda d: d["maps"][0].update(map="4m"))
    assert "maps[0].map: '4m' is not one of 3m, 2s3z" in out


@pytest.mark.parametrize(
    "seeds, message",
    [([1, 1], "seeds: [1, 1] has non-unique elements"), ([-1], "seeds[0]: -1 is less than the minimum of 0"),
     ([], "seeds: [] should be non-empty"), ("two", "seeds: 'two' is not of type 'array'")],
)
def test_bad_seeds_are_rejected(tmp_path, seeds, message):
    assert message in _broken_suite(tmp_path, lambda d: d.update(seeds=seeds))


def test_unknown_config_key_and_suite_are_rejected(workflow_copy):
    out = snakemake(workflow_copy, "-n", "--cores", "1", "--config", "sute=quick")
    assert out.returncode != 0 and "unknown key 'sute'" in out.stdout + out.stderr
    out = snakemake(workflow_copy, "-n", "--cores", "1", "--config", "suite=paper")
    assert out.returncode != 0 and "unknown suite 'paper'; valid suites: paper_mamujoco, paper_smac" in out.stdout + out.stderr


def test_workflow_profile_is_picked_up_without_flags(workflow_copy):
    # profiles/default holds printshellcmds: a dry run without -p or --profile shows the train commands
    result = snakemake(workflow_copy, "-n", "--cores", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "workflow specific profile profiles/default" in result.stdout + result.stderr
    assert "marie train --env smax" in result.stdout
    # and it leaves cores, resources and the executor to --profile / the command line
    settings = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert not {"cores", "jobs", "executor", "default-resources", "set-resources"} & set(settings)


def test_a_registered_algorithm_runs_like_marie_when_a_suite_names_it(tmp_path):
    """Adding a runnable baseline: register it with `marie train --algo NAME`, then name it in a suite."""
    copy = copy_workflow(tmp_path)
    path = copy / "experiments/suites/quick.yaml"
    data = yaml.safe_load(path.read_text())
    data["algos"]["mamba"] = {"flags": {"set": {"mamba.horizon": 15}}}
    path.write_text(yaml.safe_dump(data))
    result = snakemake(copy, "-n", "-p", "--cores", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    mamba = [line for line in result.stdout.splitlines() if "--algo mamba" in line]
    assert len(mamba) == 6  # 3 maps x 2 seeds
    assert all("--set mamba.horizon=15" in line and "/mamba/seed" in line for line in mamba)


@pytest.mark.parametrize("suite", ["smax", "paper_smac", "paper_mamujoco"])
def test_paper_suites_collect_with_one_env_copy_as_the_published_commands(suite):
    from analysis.suite import train_args

    for run in load_suite(suite).runs:
        args = train_args(run, run.run_dir())
        assert args[args.index("--n_workers") + 1] == "1", run.key


def test_decay_of_one_is_refused_before_any_job_runs(tmp_path):
    def set_decay(data):
        data["algos"]["marie"] = {"flags": {"decay": 1}}

    out = _broken_suite(tmp_path, set_decay)
    assert "experiments/suites/quick.yaml: algos.marie.flags.decay: 1 is greater than or equal to the maximum of 1" in out


def test_training_jobs_start_in_the_suite_order(workflow_copy):
    """Higher priority starts first: the suite's first map, algorithm and seed (quick: MARIE on 3m, its longest run)."""
    result = snakemake(workflow_copy, "-n", "--cores", "2", "--config", "suite=quick")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.findall(r"wildcards: env=(\w+), map=([\w-]+), algo=(\w+), seed=(\d+)\n\s+priority: (\d+)", result.stdout)
    priority = {(env, map_name, algo, int(seed)): int(p) for env, map_name, algo, seed, p in found}
    runs = load_suite("quick").runs
    assert [priority[(r.env, r.map, r.algo, r.seed)] for r in runs] == list(range(len(runs), 0, -1))
    assert (runs[0].map, runs[0].algo) == ("3m", "marie")
