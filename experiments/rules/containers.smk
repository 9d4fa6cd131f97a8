# Container images. `snakemake images` builds every image named in config containers.build (default: cpu, mujoco,
# football, smac) plus the base each needs: with Docker where a daemon answers, and as an Apptainer .sif where
# `apptainer` is on PATH (converted from the Docker image, or built from the .def file without Docker).
# Build rules run on the submitting host (localrule), never inside a container or on a cluster node.
#
# Reads config["containers"] (every key optional; containers/images.py ContainerSettings has the defaults):
#   tag (0.1.0), engine (auto|docker|apptainer), build_dir (containers/build), registry, images, variants,
#   build, build_args, build_args_file, docker_network.
# Provides to the other rule files:
#   image_for(env, IMAGE_SETTINGS) -> str        the `container:` value for a job of run-directory env `env`
#   train_image_digest(wildcards) -> str         "sha256:..." of that image, or "" if unknown (for MARIE_IMAGE_DIGEST)
import sys
from pathlib import Path

_REPO_ROOT = Path(str(workflow.current_basedir)).resolve().parents[1]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

from snakemake.exceptions import WorkflowError

from containers.images import (
    IMAGES,
    TORCH_VARIANTS,
    ContainerConfigError,
    ContainerSettings,
    build_command,
    image_digest,
    image_for,
    recipe_files,
)
from experiments.execution import execution_of

try:
    IMAGE_SETTINGS = ContainerSettings.from_config(config)
except ContainerConfigError as error:
    raise WorkflowError(f"invalid configuration: {error}") from None

_BUILD_DIR = IMAGE_SETTINGS.build_dir
_TAG = IMAGE_SETTINGS.tag


# Jobs run inside images only with --software-deployment-method apptainer; otherwise no digest is recorded,
# so provenance never names an image a job did not use.
# "sha256:..." of the image a train job runs in ("" when unknown); the train rule passes it as MARIE_IMAGE_DIGEST.
train_image_digest = lambda wildcards: (
    image_digest(wildcards.env, IMAGE_SETTINGS)
    if execution_of(workflow).apptainer
    else ""
)
_BUILD = build_command(IMAGE_SETTINGS)


# The build rules run on the submitting host, never in a container.
rule images:
    input:
        [IMAGE_SETTINGS.record_path(family) for family in IMAGE_SETTINGS.build],
    localrule: True


rule build_base_image:
    input:
        recipe_files("base"),
    output:
        f"{_BUILD_DIR}/marie-base_{_TAG}-{{variant}}.json",
    log:
        f"{_BUILD_DIR}/logs/marie-base_{_TAG}-{{variant}}.log",
    wildcard_constraints:
        variant="|".join(TORCH_VARIANTS),
    localrule: True
    params:
        build=_BUILD,
    run:
        # `run:` rather than `shell:`: the build runs on the host by design, and a run directive needs no container.
        shell(
            "{params.build} base --variant {wildcards.variant} --record {output} > {log} 2>&1"
        )


rule build_env_image:
    input:
        recipe=lambda wildcards: recipe_files(wildcards.family),
        base=f"{_BUILD_DIR}/marie-base_{_TAG}-{{variant}}.json",
    output:
        f"{_BUILD_DIR}/marie-{{family}}_{_TAG}-{{variant}}.json",
    log:
        f"{_BUILD_DIR}/logs/marie-{{family}}_{_TAG}-{{variant}}.log",
    wildcard_constraints:
        family="|".join(IMAGES),
        variant="|".join(TORCH_VARIANTS),
    localrule: True
    params:
        build=_BUILD,
    run:
        shell(
            "{params.build} {wildcards.family} --variant {wildcards.variant} --record {output} > {log} 2>&1"
        )
