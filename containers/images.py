"""Which container image serves which environment family, and how images are named, located and fingerprinted.

Shared by the Snakemake rules (experiments/rules/containers.smk) and containers/build_image.py, so that the
workflow's `container:` directives and the build agree on names. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
IMAGE_VERSION = "0.1.0"
TORCH_VARIANTS = ("cpu", "cuda")
ENGINES = ("auto", "docker", "apptainer")


@dataclass(frozen=True)
class ImageSpec:
    """One image: its recipe files (relative to the repository root) and default torch variant."""

    family: str
    dockerfile: str
    definition: str
    default_variant: str


BASE = ImageSpec("base", "containers/base/Dockerfile", "containers/base/base.def", "cpu")
IMAGES: dict[str, ImageSpec] = {
    spec.family: spec
    for spec in (
        ImageSpec("cpu", "containers/cpu/Dockerfile", "containers/cpu/cpu.def", "cpu"),
        ImageSpec("mujoco", "containers/mujoco/Dockerfile", "containers/mujoco/mujoco.def", "cuda"),
        ImageSpec("football", "containers/football/Dockerfile", "containers/football/football.def", "cuda"),
        ImageSpec("smac", "containers/smac/Dockerfile", "containers/smac/smac.def", "cuda"),
    )
}
ALL_SPECS: dict[str, ImageSpec] = {"base": BASE, **IMAGES}

# Run-directory env keys (docs/architecture.md) -> image family. SMAX and MPE share the CPU image.
ENV_TO_IMAGE: dict[str, str] = {
    "starcraft": "smac",
    "football": "football",
    "mamujoco": "mujoco",
    "smax": "cpu",
    "pettingzoo": "cpu",
}


class ContainerConfigError(ValueError):
    """Bad `containers` settings or an unknown env family; the message is one line."""


@dataclass(frozen=True)
class ContainerSettings:
    """The workflow config's `containers:` mapping; every key is optional (defaults below)."""

    tag: str = IMAGE_VERSION  # image version; the full tag is <tag>-<torch variant>
    engine: str = "auto"  # auto: Docker if a daemon answers, plus a .sif where `apptainer` exists
    build_dir: str = "containers/build"  # .sif files and build records (relative to the working directory)
    registry: str = ""  # pre-built images: docker://host/org, oras://host/org or a directory of .sif files
    images: dict[str, str] = field(default_factory=dict)  # env key or family -> explicit image URI / .sif path
    variants: dict[str, str] = field(default_factory=dict)  # family -> cpu|cuda (default: ImageSpec)
    build: tuple[str, ...] = ("cpu", "mujoco", "football", "smac")  # what `snakemake images` builds
    build_args: dict[str, str] = field(default_factory=dict)  # extra build args for every build
    build_args_file: str = ""  # KEY=VALUE lines, e.g. from `containers/build_local_base.sh args`
    docker_network: str = ""  # e.g. "host" for `docker build --network host`

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> ContainerSettings:
        raw = dict((config or {}).get("containers") or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(raw) - set(valid))
        if unknown:
            raise ContainerConfigError(f"unknown containers setting {unknown[0]!r}; valid: {', '.join(valid)}")
        if "build" in raw:
            raw["build"] = tuple(raw["build"])
        settings = cls(**raw)
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.engine not in ENGINES:
            raise ContainerConfigError(f"containers.engine {self.engine!r} is not valid; valid: {', '.join(ENGINES)}")
        for family in self.build:
            if family not in IMAGES:
                raise ContainerConfigError(f"containers.build entry {family!r} is not an image; valid: {', '.join(IMAGES)}")
        for family, variant in self.variants.items():
            if family not in ALL_SPECS:
                raise ContainerConfigError(f"containers.variants key {family!r} is not an image; valid: {', '.join(ALL_SPECS)}")
            if variant not in TORCH_VARIANTS:
                raise ContainerConfigError(f"containers.variants.{family} {variant!r} is not valid; valid: cpu, cuda")
        for key in self.images:
            if key not in ENV_TO_IMAGE and key not in IMAGES:
                valid = ", ".join([*ENV_TO_IMAGE, *IMAGES])
                raise ContainerConfigError(f"containers.images key {key!r} is neither an env nor an image; valid: {valid}")

    def variant(self, family: str) -> str:
        return self.variants.get(family, ALL_SPECS[family].default_variant)

    def full_tag(self, family: str, variant: str | None = None) -> str:
        return f"{self.tag}-{variant or self.variant(family)}"

    def docker_ref(self, family: str, variant: str | None = None) -> str:
        """Local Docker name, e.g. marie-smac:0.1.0-cuda."""
        return f"marie-{family}:{self.full_tag(family, variant)}"

    def sif_path(self, family: str, variant: str | None = None) -> str:
        """Where `snakemake images` puts the Apptainer image, e.g. containers/build/marie-smac_0.1.0-cuda.sif."""
        return f"{self.build_dir}/marie-{family}_{self.full_tag(family, variant)}.sif"

    def record_path(self, family: str, variant: str | None = None) -> str:
        """The build record (JSON) that `snakemake images` writes per image; also its Snakemake output."""
        return f"{self.build_dir}/marie-{family}_{self.full_tag(family, variant)}.json"


def image_family(env: str) -> str:
    """The image family serving a run-directory env key (`starcraft` -> `smac`); image names map to themselves."""
    if env in ENV_TO_IMAGE:
        return ENV_TO_IMAGE[env]
    if env in IMAGES:
        return env
    raise ContainerConfigError(f"no image for env {env!r}; valid: {', '.join([*ENV_TO_IMAGE, *IMAGES])}")


def image_for(env: str, settings: ContainerSettings) -> str:
    """The `container:` value for a job of `env`: an explicit `images` entry, else `registry`, else the local .sif."""
    family = image_family(env)
    explicit = settings.images.get(env) or settings.images.get(family)
    if explicit:
        return explicit
    if settings.registry:
        registry = settings.registry.rstrip("/")
        if "://" in registry:
            return f"{registry}/{settings.docker_ref(family)}"
        return f"{registry}/marie-{family}_{settings.full_tag(family)}.sif"
    return settings.sif_path(family)


def image_digest(env: str, settings: ContainerSettings) -> str:
    """`sha256:<hex>` identifying the image a job of `env` runs in, or "" when it cannot be known here.

    A URI pinned by digest (`...@sha256:...`) gives that digest; a local .sif gives the sha256 of the file
    (cached in `<sif>.sha256` next to it). An unpinned registry tag gives "" (pin by digest to record it).
    """
    uri = image_for(env, settings)
    if "@sha256:" in uri:
        return "sha256:" + uri.rsplit("@sha256:", 1)[1]
    if "://" in uri:
        return ""
    return file_digest(uri) if Path(uri).is_file() else ""


def file_digest(path: str | Path) -> str:
    """`sha256:<hex>` of an image file, cached per (size, mtime) in memory and in `<file>.sha256` beside it."""
    path = Path(path).resolve()
    stat = path.stat()
    return _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=None)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    sidecar = Path(path + ".sha256")
    if sidecar.is_file() and sidecar.stat().st_mtime_ns >= mtime_ns:
        recorded = sidecar.read_text().split()
        if recorded:
            return "sha256:" + recorded[0]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    try:
        sidecar.write_text(f"{digest.hexdigest()}  {os.path.basename(path)}\n")
    except OSError:
        pass  # a read-only shared image directory: hash again next time
    return "sha256:" + digest.hexdigest()


def recipe_files(family: str, repo_root: Path = REPO_ROOT) -> list[str]:
    """What an image is built from (absolute paths): a change to any rebuilds it; for the base, every image."""
    spec = ALL_SPECS[family]
    files = [spec.dockerfile, spec.definition, "containers/images.py", "containers/build_image.py"]
    files += [f"containers/scripts/{path.name}" for path in sorted((repo_root / "containers/scripts").glob("*"))]
    if family == "base":
        files.append("pyproject.toml")
        for package in ("marie", "analysis"):
            files += [str(p.relative_to(repo_root)) for p in sorted((repo_root / package).rglob("*.py"))]
    return [str(repo_root / f) for f in files if (repo_root / f).is_file()]


def build_command(settings: ContainerSettings, repo_root: Path = REPO_ROOT) -> str:
    """`python containers/build_image.py` with the options that carry `settings`; the family etc. follow."""
    opts = ["--tag", settings.tag, "--engine", settings.engine, "--build-dir", settings.build_dir]
    if settings.docker_network:
        opts += ["--docker-network", settings.docker_network]
    if settings.build_args_file:
        opts += ["--build-args-file", settings.build_args_file]
    for key, value in sorted(settings.build_args.items()):
        opts += ["--build-arg", f"{key}={value}"]
    return shlex.join([sys.executable, str(repo_root / "containers/build_image.py")]) + " " + shlex.join(opts)


def read_record(path: str | Path) -> dict[str, Any]:
    """A build record written by build_image.py (empty if absent)."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}
