"""Small parsers for Dockerfiles and Apptainer .def files, enough to compare what the two recipes of an image pin.

No linter exists for .def files, so the tests check their structure and that each says the same as its
Dockerfile: build-argument defaults, runtime environment, labels and the install steps, after substituting the
defaults (`${VAR}` in Dockerfiles, `{{ VAR }}` in .def files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERS = REPO / "containers"
FAMILIES = ("cpu", "mujoco", "football", "smac")
ALL_IMAGES = ("base", *FAMILIES)
SCRIPT_CALL = re.compile(r"(/opt/marie/scripts/\S+|marie-selftest)([^\n;&|]*)")


def dockerfile_path(image: str) -> Path:
    return CONTAINERS / image / "Dockerfile"


def def_path(image: str) -> Path:
    return CONTAINERS / image / f"{image}.def"


def _logical_lines(text: str) -> list[str]:
    """Dockerfile instructions with backslash continuations joined and comments dropped."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _pairs(body: str) -> dict[str, str]:
    """KEY=VALUE pairs of an ENV/LABEL/ARG instruction (values may be double-quoted)."""
    return {m.group(1): m.group(3) if m.group(3) is not None else m.group(4)
            for m in re.finditer(r'([A-Za-z0-9_.\-]+)=("([^"]*)"|(\S*))', body)}


@dataclass
class Dockerfile:
    from_image: str = ""
    args: dict[str, str] = field(default_factory=dict)  # ARG defaults (before and after FROM)
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)  # install-script and self-test calls in RUN, in order
    instructions: list[str] = field(default_factory=list)

    def resolve(self, value: str, extra: dict[str, str] | None = None) -> str:
        scope = {**self.args, **(extra or {})}
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: scope.get(m.group(1), m.group(0)), value)


def parse_dockerfile(path: Path) -> Dockerfile:
    parsed = Dockerfile()
    for line in _logical_lines(path.read_text()):
        keyword, _, body = line.partition(" ")
        keyword = keyword.upper()
        parsed.instructions.append(keyword)
        if keyword == "ARG":
            name, _, default = body.partition("=")
            parsed.args[name.strip()] = default.strip().strip('"')
        elif keyword == "FROM":
            parsed.from_image = body.strip()
        elif keyword == "ENV":
            parsed.env.update(_pairs(body))
        elif keyword == "LABEL":
            parsed.labels.update(_pairs(body))
        elif keyword == "RUN":
            parsed.steps += [(m.group(1) + m.group(2)).strip() for m in SCRIPT_CALL.finditer(body)]
    return parsed


@dataclass
class DefFile:
    header: dict[str, str]
    sections: dict[str, str]  # section name (without %) -> body
    arguments: dict[str, str]
    environment: dict[str, str]
    labels: dict[str, str]
    post_steps: list[str]
    files: list[tuple[str, str]]

    def resolve(self, value: str, extra: dict[str, str] | None = None) -> str:
        scope = {**self.arguments, **(extra or {})}
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: scope.get(m.group(1), m.group(0)), value)


def parse_def(path: Path) -> DefFile:
    text = path.read_text()
    header_text, _, rest = text.partition("\n%")
    header = {}
    for line in header_text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            key, _, value = line.partition(":")
            header[key.strip()] = value.strip()
    sections: dict[str, str] = {}
    for chunk in ("%" + rest).split("\n%"):
        chunk = chunk.lstrip("%")
        name, _, body = chunk.partition("\n")
        sections[name.split()[0]] = body
    arguments = dict(
        line.strip().split("=", 1) for line in sections.get("arguments", "").splitlines() if "=" in line
    )
    environment = {}
    for line in sections.get("environment", "").splitlines():
        match = re.match(r"\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            environment[match.group(1)] = match.group(2).strip().strip('"')
    labels = {}
    for line in sections.get("labels", "").splitlines():
        if line.strip():
            key, _, value = line.strip().partition(" ")
            labels[key] = value.strip()
    post_steps = [(m.group(1) + m.group(2)).strip() for m in SCRIPT_CALL.finditer(sections.get("post", ""))]
    files = [tuple(line.split()[:2]) for line in sections.get("files", "").splitlines() if line.strip()]
    return DefFile(header, sections, arguments, environment, labels, post_steps, files)


def normalise_unset(value: str) -> str:
    """The .def files spell "not set" as `none` (Apptainer rejects empty defaults); Dockerfiles use ""."""
    return "" if value in ("", "none") else value


def base_tag(reference: str) -> str:
    """`marie-base:0.1.0-cuda` and `containers/build/marie-base_0.1.0-cuda.sif` both name tag 0.1.0-cuda."""
    match = re.search(r"marie-base[:_]([\w.\-]+?)(\.sif)?$", reference)
    return match.group(1) if match else reference
