"""The slurm profile (experiments/profiles/slurm) without a cluster: its dry run, and real runs against stand-ins for
`sbatch` and `apptainer` (tests/workflow/fake_cluster.py) that record what would be submitted and what a job's
container would see."""

from __future__ import annotations

import base64
import os
import re
import shlex

import fake_cluster
import pytest
import yaml
from fake_runs import write_suite_runs
from workflow_helpers import REPO, VENV_BIN, copy_workflow, snakemake

from analysis.suite import load_suite

PROFILE = REPO / "experiments/profiles/slurm"
ANALYSIS_RULES = {"collect", "marl_eval", "learning_curves", "final_table", "aggregates", "reproduction_report"}
# What the job's environment holds on a compute node (CUDA_VISIBLE_DEVICES from SLURM), what a user exported on
# the login node (a secret for the container, and junk that must not reach it).
NODE_ENV = {
    "CUDA_VISIBLE_DEVICES": "3",
    "APPTAINERENV_WANDB_API_KEY": "not-a-real-key",
    "WANDB_API_KEY": "not-a-real-key",
    "PYTHONPATH": "/login/node/site-packages",
}


def _jobs(dry_run_stdout: str) -> list[tuple[str, str]]:
    """(rule, resources line) of every job in a dry run."""
    blocks = re.split(r"^\[.*\]$", dry_run_stdout, flags=re.M)[1:]
    jobs = []
    for block in blocks:
        rule = re.search(r"^(?:local)?rule (\w+):", block, flags=re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        if rule:
            jobs.append((rule.group(1), resources.group(1) if resources else ""))
    return jobs


def test_slurm_profile_dry_run_gives_the_gpu_partition_and_gpus_to_train_only(workflow_copy, tmp_path):
    bin_dir = tmp_path / "bin"
    fake_cluster.install(bin_dir)  # Snakemake asks `apptainer --version` when planning
    result = snakemake(
        workflow_copy, "-n", "--profile", str(PROFILE), "--config", "suite=paper_smac", extra_path=str(bin_dir)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = _jobs(result.stdout)
    train = [resources for rule, resources in jobs if rule == "train"]
    others = {rule: resources for rule, resources in jobs if rule != "train"}
    assert len(train) == 104  # 13 maps x 4 seeds x (MARIE, MAMBA)
    assert all("gpu=1" in r and "slurm_partition=gpu" in r for r in train)
    assert ANALYSIS_RULES <= set(others)
    assert not [rule for rule, r in others.items() if "gpu" in r or "slurm_partition" in r]


def test_slurm_profile_settings():
    settings = yaml.safe_load(PROFILE.joinpath("config.yaml").read_text())
    assert settings["executor"] == "slurm" and settings["software-deployment-method"] == "apptainer"
    assert settings["set-resources"] == {"train": {"slurm_partition": "gpu"}}
    assert "slurm_partition" not in settings.get("default-resources", {})
    # Snakemake expands $VAR in profile values on the login node; the job's variables must survive that.
    args = settings["apptainer-args"]
    saved = dict(os.environ)
    try:
        os.environ.update(CUDA_VISIBLE_DEVICES="0", SLURM_JOB_ID="1")
        assert os.path.expandvars(args) == args
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def fake_cluster_copy(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    log = fake_cluster.install(tmp_path / "bin")
    env = fake_cluster.environment(log, f"{VENV_BIN}{os.pathsep}/usr/bin{os.pathsep}/bin", **NODE_ENV)
    return root, tmp_path / "bin", log, env


def _slurm(root, bin_dir, env, *args: str, timeout: int = 300):
    return snakemake(
        root, *args, "--profile", str(PROFILE), "--slurm-no-account", "--config", "suite=smoke", "max_retries=0",
        extra_path=str(bin_dir), env=env, timeout=timeout,
    )


def test_analysis_runs_on_the_submit_host_inside_its_image_with_the_run_variables(fake_cluster_copy):
    root, bin_dir, log, env = fake_cluster_copy
    write_suite_runs(root, load_suite("smoke"))
    result = _slurm(root, bin_dir, env, "results/smoke/marl_eval.json")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (root / "results/smoke/marl_eval.json").stat().st_size > 0
    assert fake_cluster.calls(log, "sbatch") == []  # nothing was submitted
    containers = fake_cluster.calls(log, "apptainer")
    assert len(containers) == 2  # collect and marl_eval, each in the analysis image
    for call in containers:
        assert call["image"].endswith("marie-cpu_0.1.0-cpu.sif")
        assert "--nv" in call["argv"] and "--cleanenv" in call["argv"]
        seen = call["env"]
        assert seen["CUDA_VISIBLE_DEVICES"] == "3" and seen["WANDB_API_KEY"] == "not-a-real-key"
        assert "PYTHONPATH" not in seen and "APPTAINERENV_WANDB_API_KEY" not in seen
        assert not any("not-a-real-key" in arg for arg in call["argv"])  # the secret is never on a command line


@pytest.mark.slow
def test_every_analysis_rule_runs_on_the_submit_host(fake_cluster_copy):
    root, bin_dir, log, env = fake_cluster_copy
    write_suite_runs(root, load_suite("smoke"))
    result = _slurm(root, bin_dir, env, "figures", timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert fake_cluster.calls(log, "sbatch") == []
    assert (root / "results/smoke/report.md").is_file()


def test_a_training_job_is_submitted_to_the_gpu_partition_with_the_suites_resources(fake_cluster_copy):
    root, bin_dir, log, env = fake_cluster_copy
    marker = "results/runs/paper_smac/starcraft/3s_vs_5z/marie/seed2/COMPLETED"
    result = snakemake(
        root, marker, "--profile", str(PROFILE), "--slurm-no-account", "--config", "suite=paper_smac", "max_retries=0",
        extra_path=str(bin_dir), env=env,
    )
    assert result.returncode != 0  # the fake sbatch refuses the job
    (call,) = fake_cluster.calls(log, "sbatch")
    argv = call["argv"]
    submitted = " ".join(argv)
    for option in ("-p gpu", "--gpus=1", "--cpus-per-task=4", "--mem 32000", "-t 2880"):
        assert f" {option} " in f" {submitted} ", option
    wrap = next(arg for arg in argv if arg.startswith("--wrap="))
    job_args = shlex.split(wrap.removeprefix("--wrap="))
    encoded = job_args[job_args.index("--apptainer-args") + 1].removeprefix("base64//")
    profile_args = yaml.safe_load(PROFILE.joinpath("config.yaml").read_text())["apptainer-args"]
    assert base64.b64decode(encoded).decode() == profile_args  # reaches the node unexpanded
    assert job_args[job_args.index("--target-jobs") + 1] == "train:env=starcraft,map=3s_vs_5z,algo=marie,seed=2"
