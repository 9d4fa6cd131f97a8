"""The run directory: the only contract between training and the workflow (docs/architecture.md; its names are in
``marie.contract``).

Crash safety: every file is replaced atomically (temp file + fsync + rename) except ``metrics.csv``, which is
append-only. Each checkpoint records the CSV's byte length at that moment, and a resume truncates the CSV back to
it, so a kill -9 at any point leaves metrics and checkpoint consistent.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import time
from pathlib import Path
from typing import Any

import torch

from marie.contract import CHECKPOINT_FILE, COMPLETED_FILE, CONFIG_FILE, METRIC_COLUMNS, METRICS_FILE, PROVENANCE_FILE
from marie.fileio import atomic_write_bytes, atomic_write_text

# Modules whose pickled classes moved (checkpoints written before the move still load).
_MOVED_MODULES = {"marie.training.episode": "marie.data.episode"}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(_MOVED_MODULES.get(module, module), name)


class _CheckpointPickle:
    """The ``pickle_module`` torch.load takes: the standard one with moved classes found at their new place."""

    Unpickler = _Unpickler
    load = staticmethod(pickle.load)


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
        return self.root / CHECKPOINT_FILE

    def is_complete(self) -> bool:
        return (self.root / COMPLETED_FILE).exists()

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
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=False, pickle_module=_CheckpointPickle)

    def mark_complete(self, info: dict[str, Any]) -> None:
        info = dict(info, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write_text(self.root / COMPLETED_FILE, json.dumps(info, indent=2, sort_keys=True))

