"""containers/images.py (which image a job runs in, and its digest) and containers/build_image.py (dry runs)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from containers import build_image
from containers.images import ContainerConfigError, ContainerSettings, image_digest, image_family, image_for

from .recipes import CONTAINERS, REPO


def settings(**containers) -> ContainerSettings:
    return ContainerSettings.from_config({"containers": containers})


def test_env_keys_map_to_their_image():
    assert image_family("starcraft") == "smac"
    assert image_family("smax") == "cpu" and image_family("pettingzoo") == "cpu"
    assert image_family("mamujoco") == "mujoco" and image_family("football") == "football"
    assert image_family("cpu") == "cpu"  # image names map to themselves (the analysis rules use "cpu")
    with pytest.raises(ContainerConfigError, match=r"no image for env 'smac2'; valid: starcraft, "):
        image_family("smac2")


def test_default_image_is_the_local_sif_of_the_configured_variant():
    assert image_for("starcraft", settings()) == "containers/build/marie-smac_0.1.0-cuda.sif"
    assert image_for("smax", settings()) == "containers/build/marie-cpu_0.1.0-cpu.sif"
    custom = settings(tag="2.0", build_dir="/shared/img", variants={"smac": "cpu"})
    assert image_for("starcraft", custom) == "/shared/img/marie-smac_2.0-cpu.sif"


def test_registry_and_explicit_images():
    docker = settings(registry="docker://ghcr.io/lab/")
    assert image_for("football", docker) == "docker://ghcr.io/lab/marie-football:0.1.0-cuda"
    directory = settings(registry="/project/sif")
    assert image_for("mamujoco", directory) == "/project/sif/marie-mujoco_0.1.0-cuda.sif"
    explicit = settings(registry="/project/sif", images={"starcraft": "/x/smac.sif", "cpu": "oras://h/cpu:1"})
    assert image_for("starcraft", explicit) == "/x/smac.sif"  # env key wins over the registry
    assert image_for("pettingzoo", explicit) == "oras://h/cpu:1"  # family key serves every env of the family


@pytest.mark.parametrize(
    "containers, message",
    [
        ({"engin": "docker"}, "unknown containers setting 'engin'; valid: tag, engine"),
        ({"engine": "podman"}, "containers.engine 'podman' is not valid; valid: auto, docker, apptainer"),
        ({"variants": {"smac": "rocm"}}, "containers.variants.smac 'rocm' is not valid; valid: cpu, cuda"),
        ({"build": ["smac", "base2"]}, "containers.build entry 'base2' is not an image"),
        ({"images": {"mpe": "x.sif"}}, "containers.images key 'mpe' is neither an env nor an image"),
    ],
)
def test_bad_settings_give_one_line_errors(containers, message):
    with pytest.raises(ContainerConfigError) as error:
        settings(**containers)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_digest_of_pinned_uri_local_sif_and_unpinned_tag(tmp_path):
    pinned = settings(images={"smac": "docker://ghcr.io/lab/marie-smac@sha256:" + "ab" * 32})
    assert image_digest("starcraft", pinned) == "sha256:" + "ab" * 32
    assert image_digest("starcraft", settings(registry="docker://ghcr.io/lab")) == ""
    assert image_digest("starcraft", settings(build_dir=str(tmp_path))) == ""  # not built yet

    sif = tmp_path / "marie-smac_0.1.0-cuda.sif"
    sif.write_bytes(b"not really an image")
    expected = "sha256:" + hashlib.sha256(b"not really an image").hexdigest()
    assert image_digest("starcraft", settings(build_dir=str(tmp_path))) == expected
    assert (tmp_path / "marie-smac_0.1.0-cuda.sif.sha256").read_text().split()[0] == expected[7:]
    sif.write_bytes(b"rebuilt")  # a rebuilt image must not report the old digest
    assert image_digest("starcraft", settings(build_dir=str(tmp_path))) == "sha256:" + hashlib.sha256(b"rebuilt").hexdigest()


def test_build_context_is_small_and_sniffable_as_tar():
    data = build_image.context_tar()
    # the Docker CLI decides "tar or Dockerfile" from the first 512 bytes: the first header must be plain ustar/GNU
    assert data[257:262] == b"ustar"
    names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert "pyproject.toml" in names and "README.md" in names and "containers/base/Dockerfile" in names
    assert "marie/__init__.py" in names and "containers/scripts/install_base.sh" in names
    assert not [n for n in names if n.startswith((".venv", "results", "containers/build/")) or "__pycache__" in n]
    assert len(data) < 20 * 2**20


def run_build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CONTAINERS / "build_image.py"), *args, "--dry-run"], capture_output=True, text=True, cwd=REPO
    )


def test_dry_run_docker_base_passes_variant_and_user_args():
    result = run_build("base", "--variant", "cuda", "--engine", "docker", "--build-arg", "PIP_EXTRA_ARGS=--pre",
                       "--build-arg", "NOT_DECLARED=1", "--build-arg", "EXTRA_CA_CERT=QUJD")
    assert result.returncode == 0, result.stderr
    assert "docker build -f containers/base/Dockerfile -t marie-base:0.1.0-cuda" in result.stdout
    assert "--build-arg TORCH_VARIANT=cuda" in result.stdout and "--build-arg PIP_EXTRA_ARGS=--pre" in result.stdout
    assert "NOT_DECLARED" not in result.stdout  # only args the recipe declares are passed
    assert "EXTRA_CA_CERT=<4 chars>" in result.stdout and "QUJD" not in result.stdout


def test_dry_run_apptainer_family_builds_from_def_on_base_sif():
    result = run_build("smac", "--engine", "apptainer")
    assert result.returncode == 0, result.stderr
    assert "apptainer build --force" in result.stdout and result.stdout.rstrip().endswith("containers/smac/smac.def")
    assert "MARIE_BASE=" + str(REPO / "containers/build/marie-base_0.1.0-cuda.sif") in result.stdout


def test_bad_build_arg_is_rejected():
    result = run_build("cpu", "--build-arg", "NOEQUALS")
    assert result.returncode != 0 and "build arg 'NOEQUALS' is not KEY=VALUE" in result.stderr


def test_apptainer_build_from_def_writes_record_with_sif_digest(tmp_path):
    """The real (non-dry) Apptainer path, against a stand-in `apptainer` that logs its arguments."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    log = tmp_path / "apptainer.args"
    (fake_bin / "apptainer").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {log}\n'
        'for last; do :; done\n'  # the .def file is last, the .sif just before it
        'eval "out=\\${$(($#-1))}"\nprintf "sif bytes" > "$out"\n'
    )
    (fake_bin / "apptainer").chmod(0o755)
    record = tmp_path / "smac.json"
    env = dict(os.environ, PATH=f"{fake_bin}:{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, str(CONTAINERS / "build_image.py"), "smac", "--engine", "apptainer", "--build-dir",
         str(tmp_path / "img"), "--build-arg", "PIP_EXTRA_ARGS=", "--record", str(record)],
        capture_output=True, text=True, cwd=REPO, env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    args = log.read_text().splitlines()
    assert args[:2] == ["build", "--force"] and args[-1] == "containers/smac/smac.def"
    assert f"MARIE_BASE={tmp_path / 'img' / 'marie-base_0.1.0-cuda.sif'}" in args
    assert "PIP_EXTRA_ARGS=none" in args  # empty values become the .def files' `none`
    saved = json.loads(record.read_text())
    assert saved["sif"] == str(tmp_path / "img" / "marie-smac_0.1.0-cuda.sif")
    assert saved["sif_sha256"] == "sha256:" + hashlib.sha256(b"sif bytes").hexdigest()
    assert saved["engines"] == ["apptainer"] and saved["build_args"] == {"PIP_EXTRA_ARGS": ""}
