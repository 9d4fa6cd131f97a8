"""The run directory: the only contract between training and the workflow (docs/architecture.md; its names are in
``marie.contract``).

Crash safety: every file is replaced atomically (temp file + fsync + rename) except ``metrics.csv``, which is
append-only. Each checkpoint records the CSV's byte length at that moment, and a resume truncates the CSV back to
it, so a kill -9 at any point leaves metrics and checkpoint consistent. One process at a time: ``lock`` holds an
flock on ``.lock`` (the OS drops it when the holder dies, so a kill -9 leaves no stale lock). Checkpoints load with
``weights_only=True`` (see ``checkpoint_codec``); a damaged file gives one line naming it and what to do.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

import torch
import yaml

from marie.contract import (
    CHECKPOINT_FILE,
    COMPLETED_FILE,
    CONFIG_FILE,
    LOCK_FILE,
    METRIC_COLUMNS,
    METRICS_FILE,
    PROVENANCE_FILE,
)
from marie.errors import RunDirectoryError
from marie.fileio import atomic_write_bytes, atomic_write_text
from marie.training.checkpoint_codec import decode, encode

CHECKPOINT_KEYS = ("agent", "rng", "counters", "metrics_bytes", "config")


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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _missing_ancestors(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _acquire(path: Path) -> int:
    """An exclusive flock on ``path``; a holder's unlink between our open and flock makes us retry on the new file."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunDirectoryError(
                f"{path.parent} is in use by another `marie train` (pid {holder}); wait for it to end or use "
                "another --out-dir"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


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

    def existing_config(self) -> dict[str, Any] | None:
        """The stored ``config.resolved.yaml`` as a mapping; None when absent."""
        path = self.root / CONFIG_FILE
        if not path.exists():
            return None
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise RunDirectoryError(
                f"{path} is not valid YAML ({_first_line(exc)}); delete it (a run with a checkpoint is checked against "
                "the checkpoint's own copy and rewrites it) or delete the run directory"
            ) from None
        if not isinstance(data, dict):
            raise RunDirectoryError(f"{path} does not hold a config mapping; delete it or delete the run directory")
        return data

    def write_config(self, text: str) -> None:
        atomic_write_text(self.root / CONFIG_FILE, text)

    def read_provenance(self) -> dict[str, Any] | None:
        """The provenance an earlier start wrote, or None where there is none or it is not a readable JSON mapping
        (it is informational: a damaged one is replaced, not refused)."""
        try:
            data = json.loads((self.root / PROVENANCE_FILE).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_provenance(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.root / PROVENANCE_FILE, json.dumps(data, indent=2, sort_keys=True, default=str))

    def metrics(self, run_keys: dict[str, Any]) -> MetricsWriter:
        return MetricsWriter(self.root / METRICS_FILE, run_keys)

    def metrics_size(self) -> int:
        path = self.root / METRICS_FILE
        return path.stat().st_size if path.exists() else 0

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        buf = io.BytesIO()
        torch.save(encode(state), buf)
        atomic_write_bytes(self.checkpoint_path, buf.getvalue())

    def load_checkpoint(self) -> dict[str, Any]:
        """The checkpoint's state (numpy arrays restored); one-line RunDirectoryError when it is damaged, holds
        anything but tensors and plain values, or lacks a part a resume needs."""
        path = self.checkpoint_path
        remedy = f"delete {path} to restart the run from scratch (or delete the run directory)"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001  (truncated zip, garbage bytes, empty file, refused globals: all alike)
            if "Weights only load failed" in str(exc):
                reason = "it holds objects other than tensors and plain data: written by an older version or altered"
            else:
                reason = f"unreadable: {type(exc).__name__}: {_first_line(exc)}"
            raise RunDirectoryError(f"{path} is not a usable checkpoint ({reason}); {remedy}") from None
        missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
        if missing:
            raise RunDirectoryError(f"{path} lacks {', '.join(missing)} (not a checkpoint of this version); {remedy}")
        return decode(state)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory for this process (created if missing; directories this call created are removed
        again if nothing was written into them). A second process gets a one-line RunDirectoryError."""
        created = _missing_ancestors(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_FILE
        fd = _acquire(path)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            path.unlink(missing_ok=True)  # while still holding it: a waiting process then retries on a fresh file
            os.close(fd)
            for directory in created:  # deepest first; rmdir refuses a non-empty one
                with contextlib.suppress(OSError):
                    directory.rmdir()

    def mark_complete(self, info: dict[str, Any]) -> None:
        info = dict(info, finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        atomic_write_text(self.root / COMPLETED_FILE, json.dumps(info, indent=2, sort_keys=True))

