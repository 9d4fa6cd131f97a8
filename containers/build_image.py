#!/usr/bin/env python3
"""Build one marie image with Docker and/or Apptainer and write its build record.

    python containers/build_image.py FAMILY [--variant cpu|cuda] [--engine auto|docker|apptainer]
                                     [--build-arg KEY=VALUE ...] [--build-args-file FILE] [--dry-run]

FAMILY is `base` or one of the environment images (cpu, mujoco, football, smac); an environment image needs
the base of the same torch variant first (`snakemake images` orders this). Docker gets a build context of
just the files the images need (streamed as a tar, so no .dockerignore is needed and .venv/results never
travel). Apptainer builds a .sif from the Docker image when both engines exist, else from the .def file.
The record (JSON, next to the .sif) names the image, its digest and the build arguments used.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from images import ALL_SPECS, ENGINES, REPO_ROOT, TORCH_VARIANTS, ContainerSettings, file_digest  # noqa: E402

CONTEXT_PATHS = ("pyproject.toml", "README.md", "LICENSE", "marie", "analysis", "containers")
CONTEXT_SKIP = re.compile(r"(__pycache__|\.pyc$|\.egg-info|\.pytest_cache|^containers/build(/|$))")
SECRET_ARGS = {"EXTRA_CA_CERT"}  # not secret, but long: records say only whether it was set


def declared_args(recipe: Path) -> set[str]:
    """ARG names of a Dockerfile or %arguments names of an Apptainer .def file."""
    text = recipe.read_text()
    if recipe.suffix == ".def":
        match = re.search(r"^%arguments\s*\n(.*?)(?=^%|\Z)", text, re.S | re.M)
        body = match.group(1) if match else ""
        return {line.split("=", 1)[0].strip() for line in body.splitlines() if "=" in line}
    return set(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", text, re.M))


def parse_build_args(pairs: list[str], files: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    lines = [line for name in files for line in Path(name).read_text().splitlines()]
    for item in [*lines, *pairs]:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        if "=" not in item:
            raise SystemExit(f"build_image: build arg {item!r} is not KEY=VALUE")
        key, value = item.split("=", 1)
        args[key.strip()] = value
    return args


def context_tar() -> bytes:
    """The Docker build context: the package sources, recipes and scripts, nothing generated."""
    buffer = io.BytesIO()
    # GNU format: the Docker CLI sniffs only the first 512 bytes for a tar header, which a PAX header defeats.
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in CONTEXT_PATHS:
            path = REPO_ROOT / name
            if path.exists():
                tar.add(path, arcname=name, filter=lambda info: None if CONTEXT_SKIP.search(info.name) else info)
            elif name in ("README.md", "analysis"):  # pyproject needs the README; the Dockerfile copies analysis/
                info = tarfile.TarInfo(name)
                if name == "analysis":
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    data = b"# marie\n"
                    info.size, info.mode = len(data), 0o644
                    tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def resolve_engines(engine: str) -> list[str]:
    has_docker = docker_available()
    has_apptainer = shutil.which("apptainer") is not None
    if engine == "docker" and not has_docker:
        raise SystemExit("build_image: engine 'docker' requested but no Docker daemon answers `docker info`")
    if engine == "apptainer" and not has_apptainer:
        raise SystemExit("build_image: engine 'apptainer' requested but `apptainer` is not on PATH")
    if engine == "auto":
        found = [name for name, ok in (("docker", has_docker), ("apptainer", has_apptainer)) if ok]
        if not found:
            raise SystemExit("build_image: no container engine: start a Docker daemon or install Apptainer >= 1.2")
        return found
    return [engine]


class Builder:
    def __init__(self, family: str, variant: str, settings: ContainerSettings, user_args: dict[str, str], dry_run: bool):
        self.family, self.variant, self.settings = family, variant, settings
        self.spec = ALL_SPECS[family]
        self.user_args = user_args
        self.dry_run = dry_run

    def _standard_args(self, engine: str) -> dict[str, str]:
        args = {"IMAGE_TAG": self.settings.full_tag(self.family, self.variant), "TORCH_VARIANT": self.variant}
        if self.family != "base":
            base = self.settings.docker_ref("base", self.variant) if engine == "docker" else self.settings.sif_path("base", self.variant)
            args["MARIE_BASE"] = base
        return args

    def _args_for(self, recipe: Path, engine: str) -> dict[str, str]:
        """Standard + user build args, limited to what the recipe declares (the others would only warn)."""
        declared = declared_args(recipe)
        merged = {**self._standard_args(engine), **self.user_args}
        return {key: value for key, value in merged.items() if key in declared}

    def _run(self, cmd: list[str], stdin: bytes | None = None, cwd: Path = REPO_ROOT) -> None:
        shown = " ".join(shlex.quote(_shorten(part)) for part in cmd)
        print(f"+ {shown}", flush=True)
        if self.dry_run:
            return
        result = subprocess.run(cmd, input=stdin, cwd=cwd)
        if result.returncode != 0:
            raise SystemExit(f"build_image: {cmd[0]} {cmd[1]} of {self.family} failed (exit {result.returncode}); see output above")

    def docker(self) -> dict[str, object]:
        recipe = REPO_ROOT / self.spec.dockerfile
        ref = self.settings.docker_ref(self.family, self.variant)
        cmd = ["docker", "build", "-f", self.spec.dockerfile, "-t", ref]
        if self.settings.docker_network:
            cmd += ["--network", self.settings.docker_network]
        for key, value in sorted(self._args_for(recipe, "docker").items()):
            cmd += ["--build-arg", f"{key}={value}"]
        cmd.append("-")
        # Run outside the checkout: with a tar context on stdin, `-f` names a file inside the tar, and the
        # Docker CLI refuses the build as ambiguous when that relative path also exists in its cwd.
        self._run(cmd, stdin=None if self.dry_run else context_tar(), cwd=Path("/"))
        if self.dry_run:
            return {"image": ref}
        inspect = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}} {{.Size}}", ref], capture_output=True, text=True, check=True
        )
        image_id, size = inspect.stdout.split()
        return {"image": ref, "docker_id": image_id, "docker_size_bytes": int(size)}

    def apptainer(self, from_docker: bool) -> dict[str, object]:
        sif = self.settings.sif_path(self.family, self.variant)
        if not self.dry_run:
            Path(sif).parent.mkdir(parents=True, exist_ok=True)
        sif_abs = str(Path(sif).resolve())
        cmd = ["apptainer", "build", "--force"]
        if from_docker:
            cmd += [sif_abs, f"docker-daemon://{self.settings.docker_ref(self.family, self.variant)}"]
        else:
            if os.geteuid() != 0:
                cmd.append("--fakeroot")
            recipe = REPO_ROOT / self.spec.definition
            # Apptainer's %arguments cannot be empty: the .def files spell "not set" as `none`.
            args = {key: value or "none" for key, value in self._args_for(recipe, "apptainer").items()}
            if "MARIE_BASE" in args:
                args["MARIE_BASE"] = str(Path(args["MARIE_BASE"]).resolve())
            for key, value in sorted(args.items()):
                cmd += ["--build-arg", f"{key}={value}"]
            cmd += [sif_abs, self.spec.definition]
        self._run(cmd)
        if self.dry_run:
            return {"sif": sif}
        return {"sif": sif, "sif_sha256": file_digest(sif), "sif_size_bytes": Path(sif).stat().st_size}


def _shorten(part: str) -> str:
    key = part.split("=", 1)[0]
    return f"{key}=<{len(part) - len(key) - 1} chars>" if key in SECRET_ARGS else part


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=sorted(ALL_SPECS))
    parser.add_argument("--variant", choices=TORCH_VARIANTS, help="torch build (default: the image's)")
    parser.add_argument("--tag", default=None, help="image version (default: containers/images.py IMAGE_VERSION)")
    parser.add_argument("--engine", choices=ENGINES, default="auto")
    parser.add_argument("--build-dir", default=None, help="where .sif files and records go")
    parser.add_argument("--docker-network", default="", help="e.g. host (docker build --network)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--build-args-file", action="append", default=[], metavar="FILE", help="KEY=VALUE lines")
    parser.add_argument("--record", default=None, help="build record path (default: next to the .sif)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)

    overrides = {"tag": args.tag, "build_dir": args.build_dir, "engine": args.engine, "docker_network": args.docker_network}
    settings = ContainerSettings(**{k: v for k, v in overrides.items() if v})
    variant = args.variant or settings.variant(args.family)
    builder = Builder(args.family, variant, settings, parse_build_args(args.build_arg, args.build_args_file), args.dry_run)

    if args.dry_run:  # show the Docker path for `auto`; probing engines would make dry runs machine-dependent
        engines = ["docker"] if args.engine == "auto" else [args.engine]
    else:
        engines = resolve_engines(args.engine)
    start = time.time()
    record: dict[str, object] = {"family": args.family, "variant": variant, "tag": settings.full_tag(args.family, variant)}
    if "docker" in engines:
        record.update(builder.docker())
    if "apptainer" in engines and (args.family != "base" or "docker" not in engines):
        record.update(builder.apptainer(from_docker="docker" in engines))
    record.update(
        engines=engines,
        build_args={k: ("<set>" if k in SECRET_ARGS else v) for k, v in builder.user_args.items()},
        build_seconds=round(time.time() - start, 1),
        built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    if args.dry_run:
        return 0
    record_path = Path(args.record or settings.record_path(args.family, variant))
    record_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = record_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(record_path)
    print(f"build_image: {args.family} ({variant}) done in {record['build_seconds']} s -> {record_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
