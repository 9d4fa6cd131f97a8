"""The layer diagram of docs/architecture.md, enforced on the package's own imports (AST, nothing executed)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The most specific prefix wins. Layer numbers as in docs/architecture.md, "Layers".
LAYERS = {
    "marie.cli": 6, "marie.__main__": 6,
    "marie.training": 5, "marie.bench": 5,
    "marie.algos": 4,
    "marie.models": 3, "marie.rl": 3, "marie.config": 3,
    "marie.registry": 2, "marie.models.configs": 2, "marie.rl.configs": 2,
    "marie.data": 1, "marie.envs": 1,
    "marie.contract": 0, "marie.errors": 0, "marie.fileio": 0, "marie.runtime": 0, "marie": 0,
}  # fmt: skip
PEERS = [("marie.training", "marie.bench")]  # same layer, and neither may import the other


def layer(module: str) -> int:
    if module.startswith("marie.algos.") and module.endswith(".config"):
        return 2  # an algorithm's torch-free config section, below the config package
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def imports() -> list[tuple[str, str]]:
    """(importing module, imported marie module) for every import in marie/, incl. function-local ones."""
    edges = []
    for path in (ROOT / "marie").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base]
            else:
                continue
            edges += [(module, target) for target in targets if target == "marie" or target.startswith("marie.")]
    return edges


def test_imports_point_down_or_sideways():
    edges = imports()
    assert len(edges) > 100  # the walk found the package's imports
    wrong = [f"{s} (layer {layer(s)}) imports {t} (layer {layer(t)})" for s, t in edges if layer(t) > layer(s)]
    wrong += [f"{s} imports its peer {t}" for s, t in edges for a, b in PEERS + [(b, a) for a, b in PEERS]
              if s.startswith(a) and t.startswith(b)]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_the_check_catches_an_upward_import():
    assert layer("marie.models.world_model") < layer("marie.algos.marie.agent")
    assert layer("marie.algos.marie.config") < layer("marie.config.resolve") < layer("marie.training.loop")
