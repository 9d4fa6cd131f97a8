"""`snakemake images` dry runs: the rule file on its own (as any Snakefile would include it) and in the workflow."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .recipes import REPO

SNAKEMAKE = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
RULES = REPO / "experiments/rules/containers.smk"


def dry_run(snakefile: Path, workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [SNAKEMAKE, "-s", str(snakefile), "-d", str(workdir), "-n", "images", "--quiet", "rules", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def job_counts(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M) if m.group(1) != "total"}


@pytest.fixture
def standalone(tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(f'include: "{RULES}"\n')
    return snakefile


def test_images_builds_every_family_after_its_base(standalone, tmp_path):
    result = dry_run(standalone, tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    # two bases (cpu for the cpu image, cuda for mujoco/football/smac) and four environment images
    assert job_counts(result.stdout) == {"build_base_image": 2, "build_env_image": 4, "images": 1}


def test_images_honours_config(standalone, tmp_path):
    result = dry_run(standalone, tmp_path, "--config", "containers={'build': ['smac'], 'variants': {'smac': 'cpu'}}")
    assert result.returncode == 0, result.stderr + result.stdout
    assert job_counts(result.stdout) == {"build_base_image": 1, "build_env_image": 1, "images": 1}


def test_images_build_commands():
    """The build rules run `{params.build} <family> --variant V --record R` in a `run:` block (host-side, so no
    container lint); dry runs print no commands for run blocks, so the command is checked from the same settings."""
    from containers.images import ContainerSettings, build_command

    config = {"containers": {"build": ["cpu"], "docker_network": "host", "build_args": {"PIP_EXTRA_ARGS": "--pre"}}}
    command = build_command(ContainerSettings.from_config(config))
    options = "--tag 0.1.0 --engine auto --build-dir containers/build --docker-network host --build-arg PIP_EXTRA_ARGS=--pre"
    assert command.endswith(f"build_image.py {options}")
    rules = RULES.read_text()
    assert "{params.build} base --variant {wildcards.variant} --record {output}" in rules
    assert "{params.build} {wildcards.family} --variant {wildcards.variant} --record {output}" in rules


def test_bad_container_config_is_a_one_line_error(standalone, tmp_path):
    result = dry_run(standalone, tmp_path, "--config", "containers={'engine': 'podman'}")
    assert result.returncode != 0
    assert "containers.engine 'podman' is not valid; valid: auto, docker, apptainer" in result.stderr + result.stdout


@pytest.mark.skipif(not (REPO / "Snakefile").exists(), reason="the workflow's Snakefile is not there yet")
def test_images_target_of_the_workflow():
    result = subprocess.run(
        [SNAKEMAKE, "-n", "images", "--quiet", "rules"], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert result.returncode == 0, result.stderr + result.stdout
    counts = job_counts(result.stdout)
    assert counts.get("images") == 1 and counts.get("build_env_image", 0) + counts.get("build_base_image", 0) >= 1


def test_digest_is_passed_only_when_jobs_run_in_apptainer(tmp_path):
    """A job on the host must not record the digest of an image it did not run in."""
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin/apptainer"  # Snakemake only asks the runtime for its version in a dry run
    fake.write_text('#!/bin/sh\necho "apptainer version 1.3.4"\n')
    fake.chmod(0o755)
    (tmp_path / "img").mkdir()
    (tmp_path / "img/marie-cpu_0.1.0-cpu.sif").write_bytes(b"sif")
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'include: "{RULES}"\n\n'
        "rule probe:\n"
        '    output: "probe/{env}.txt"\n'
        "    container: lambda wc: image_for(wc.env, IMAGE_SETTINGS)\n"
        "    params: digest=train_image_digest\n"
        '    shell: "echo MARIE_IMAGE_DIGEST={params.digest} > {output}"\n'
    )
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    config = f"containers={{'build_dir': '{tmp_path / 'img'}'}}"

    def shell_line(*extra: str) -> str:
        cmd = [SNAKEMAKE, "-s", str(snakefile), "-d", str(tmp_path), "-n", "-p", "probe/smax.txt", "--config", config]
        result = subprocess.run([*cmd, *extra], capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return next(line for line in result.stdout.splitlines() if "MARIE_IMAGE_DIGEST=" in line)

    assert shell_line().endswith("MARIE_IMAGE_DIGEST= > probe/smax.txt")
    expected = "sha256:" + hashlib.sha256(b"sif").hexdigest()
    assert f"MARIE_IMAGE_DIGEST={expected} " in shell_line("--software-deployment-method", "apptainer")
