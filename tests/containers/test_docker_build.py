"""Opt-in: build the `cpu` image with a local Docker daemon and train MAPPO on SMAX inside it.

Off by default (and in CI). Run it with
    MARIE_DOCKER_TESTS=1 PATH=$PWD/.venv/bin:$PATH python -m pytest tests/containers -m docker
On a machine without Docker Hub access (as root), containers/build_local_base.sh starts dockerd if needed,
debootstraps a Debian base and serves local wheels; set MARIE_DOCKER_LOCAL_BASE=0 to build from the default
Docker Hub base instead. The image is built through containers/build_image.py (Docker's layer cache makes
reruns fast); the run uses `--network none` and the image's unprivileged user.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .recipes import CONTAINERS, REPO

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("MARIE_DOCKER_TESTS") != "1", reason="opt-in: set MARIE_DOCKER_TESTS=1"),
]
LOCAL_BASE = os.environ.get("MARIE_DOCKER_LOCAL_BASE", "1") == "1"
HELPER = str(CONTAINERS / "build_local_base.sh")
IMAGE = "marie-cpu:0.1.0-cpu"


def sh(*cmd: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)


def docker_up() -> bool:
    return sh("docker", "info", timeout=60).returncode == 0


@pytest.fixture(scope="module")
def cpu_image(tmp_path_factory):
    started_daemon = False
    if not docker_up():
        assert LOCAL_BASE, "no Docker daemon answers `docker info`"
        result = sh(HELPER, "start")
        assert result.returncode == 0, result.stdout + result.stderr
        started_daemon = True
    build_opts: list[str] = []
    if LOCAL_BASE:
        for step in ("base", "wheels"):
            result = sh(HELPER, step)
            assert result.returncode == 0, result.stdout + result.stderr
        args_file = tmp_path_factory.mktemp("docker") / "build-args.env"
        args_file.write_text(sh(HELPER, "args").stdout)
        build_opts = ["--build-args-file", str(args_file), "--docker-network", "host"]
    try:
        for family in ("base", "cpu"):
            result = sh(sys.executable, str(CONTAINERS / "build_image.py"), family, "--variant", "cpu",
                        "--engine", "docker", *build_opts, "--record", str(tmp_path_factory.getbasetemp() / f"{family}.json"))
            assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        inspect = sh("docker", "image", "inspect", "--format", "{{.Id}}", IMAGE)
        yield inspect.stdout.strip()
    finally:
        if LOCAL_BASE:
            sh(HELPER, "stop-wheels")
        if started_daemon:
            sh(HELPER, "stop")


def test_train_mappo_on_smax_inside_cpu_image(cpu_image):
    script = (
        "set -e; echo uid=$(id -u); "
        "marie train --algo mappo --env smax --env_name 3m --steps 300 --preset quick --out-dir /tmp/run; "
        "echo '=== COMPLETED'; cat /tmp/run/COMPLETED; echo; echo '=== PROVENANCE'; cat /tmp/run/provenance.json"
    )
    result = sh("docker", "run", "--rm", "--network", "none", "-e", f"MARIE_IMAGE_DIGEST={cpu_image}",
                IMAGE, "bash", "-c", script, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert "uid=1000" in result.stdout.splitlines()  # the image's unprivileged user
    completed_text, provenance_text = result.stdout.split("=== COMPLETED", 1)[1].split("=== PROVENANCE", 1)
    assert json.loads(completed_text)["env_steps"] >= 300
    provenance = json.loads(provenance_text)
    assert provenance["container_image"] == IMAGE
    assert provenance["container_image_digest"] == cpu_image
    assert provenance["torch"].endswith("+cpu")


def test_image_labels_and_healthcheck(cpu_image):
    labels = json.loads(sh("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", IMAGE).stdout)
    assert labels["org.opencontainers.image.title"] == "marie-cpu"
    assert labels["io.marie.torch"] == "2.13.0" and labels["io.marie.torch-variant"] == "cpu"
    health = sh("docker", "run", "--rm", "--network", "none", IMAGE, "marie-selftest", timeout=300)
    assert health.returncode == 0 and "cpu image OK (quick" in health.stdout, health.stdout + health.stderr
