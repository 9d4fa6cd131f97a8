"""The run directory: the only contract between training and the workflow (docs/architecture.md).

Crash safety: every file is replaced atomically (temp file + fsync + rename) except ``metrics.csv``, which is
append-only. Each checkpoint records the CSV's byte length at that moment, and a resume truncates the CSV back to
it, so a kill -9 at any point leaves metrics and checkpoint consistent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

import torch

METRIC_COLUMNS = ("env", "map", "algo", "seed", "step", "metric", "value", "n_episodes", "eval_mode")
CONFIG_FILE = "config.resolved.yaml"
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.csv"
CHECKPOINT = "checkpoints/latest.pt"
COMPLETED = "COMPLETED"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


class MetricsWriter:
    """Appends tidy rows ``env,map,algo,seed,step,metric,value,n_episodes,eval_mode`` to metrics.csv."""

    def __init__(self, path: Path, run_keys: dict[str, Any]):
        self.path = path
        self.run_keys = run_keys
        if not path.exists() or path.stat().st_size == 0:
            with open(path, "w", newline="") as handle:
                csv.writer(handle).writerow(METRIC_COLUMNS)

    def write(self, step: int, metrics: dict[str, float], n_episodes: int | None = None, eval_mode: str = "") -> None:
        if not metrics:
            return
        buf = io.StringIO()
        writer = csv.writer(buf)
        keys = self.run_keys
        for name, value in metrics.items():
            writer.writerow(
                [keys["env"], keys["map"], keys["algo"], keys["seed"], step, name, _fmt(value),
                 "" if n_episodes is None else n_episodes, eval_mode]
            )  # fmt: skip
        with open(self.path, "a", newline="") as handle:
            handle.write(buf.getvalue())
            handle.flush()

    def size(self) -> int:
        return self.path.stat().st_size

    def truncate(self, size: int) -> None:
        with open(self.path, "r+b") as handle:
            handle.truncate(size)


def _fmt(value: float) -> str:
    return repr(float(value))


class RunDirectory:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def checkpoint_path(self) -> Path:
        return self.root / CHECKPOINT

    def is_complete(self) -> bool:
        return (self.root / COMPLETED).exists()

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def existing_config(self) -> str | None:
        path = self.root / CONFIG_FILE
        return path.read_text() if path.exists() else None

    def write_config(self, text: str) -> None:
        atomic_write_text(self.root / CONFIG_FILE, text)

    def write_provenance(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.root / PROVENANCE_FILE, json.dumps(data, indent=2, sort_keys=True, default=str))

    def metrics(self, run_keys: dict[str, Any]) -> MetricsWriter:
        return MetricsWriter(self.root / METRICS_FILE, run_keys)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(self.checkpoint_path, buf.getvalue())

    def load_checkpoint(self) -> dict[str, Any]:
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)

    def mark_complete(self, info: dict[str, Any]) -> None:
        info = dict(info, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write_text(self.root / COMPLETED, json.dumps(info, indent=2, sort_keys=True))


def read_metrics(path: Path | str) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def rows_for(rows: Iterable[dict[str, str]], metric: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r["value"])) for r in rows if r["metric"] == metric]
