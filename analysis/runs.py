"""Read and check one run directory (docs/architecture.md, "Run directory"); refuse anything not trustworthy."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from marie.contract import COMPLETED_FILE, EVAL_MODES, EVAL_PREFIX, METRIC_COLUMNS, METRICS_FILE, PROVENANCE_FILE

RUN_COLUMNS = list(METRIC_COLUMNS)  # a list: pandas reads a tuple as one key


class RunError(ValueError):
    """A run directory that cannot be used: malformed, incomplete or mixing eval modes. One line, names the run."""


@dataclass
class Run:
    path: Path
    metrics: pd.DataFrame
    completed: dict
    provenance: dict
    eval_mode: str | None

    @property
    def keys(self) -> dict:
        first = self.metrics.iloc[0]
        return {"env": first["env"], "map": first["map"], "algo": first["algo"], "seed": int(first["seed"])}


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RunError(f"{path}: unreadable {what} ({error})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: {what} is not a JSON object")
    return data


def _as_numbers(frame: pd.DataFrame, column: str, path: Path, rows: pd.Series | None = None) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    mask = values.isna() & frame[column].notna() & (frame[column].astype(str).str.strip() != "")
    if rows is not None:
        mask &= rows
    if mask.any():
        bad = mask.idxmax()
        raise RunError(f"{path}: row {bad + 2} column {column!r}: {frame.at[bad, column]!r} is not a number")
    return values


def read_metrics(path: Path) -> pd.DataFrame:
    """Parse and check a run's metrics.csv; row numbers in errors count the header as row 1."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RunError(f"{path}: malformed CSV ({str(error).splitlines()[0]})") from None
    missing = [c for c in RUN_COLUMNS if c not in frame.columns]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(RUN_COLUMNS)}")
    if frame.empty:
        raise RunError(f"{path}: no rows")
    frame = frame[RUN_COLUMNS].copy()
    frame = frame.replace("", None)
    for column in ("env", "map", "algo", "seed", "step", "metric", "value"):
        empty = frame[column].isna()
        if empty.any():
            bad = empty.idxmax()
            raise RunError(f"{path}: row {bad + 2} column {column!r} is empty")
    frame["step"] = _as_numbers(frame, "step", path)
    frame["seed"] = _as_numbers(frame, "seed", path)
    for column in ("step", "seed"):
        bad = (frame[column] < 0) | (frame[column] % 1 != 0)
        if bad.any():
            row = bad.idxmax()
            raise RunError(f"{path}: row {row + 2} column {column!r}: {frame.at[row, column]!r} is not a count")
    frame["step"] = frame["step"].astype("int64")
    frame["seed"] = frame["seed"].astype("int64")
    frame["value"] = _as_numbers(frame, "value", path)
    is_eval = frame["metric"].str.startswith(EVAL_PREFIX)
    frame["n_episodes"] = _as_numbers(frame, "n_episodes", path)
    for column in ("env", "map", "algo", "seed"):
        if frame[column].nunique() != 1:
            raise RunError(f"{path}: column {column!r} has several values ({', '.join(map(str, frame[column].unique()))})")
    _refuse_duplicates(frame, path)
    eval_rows = frame[is_eval]
    for row, record in eval_rows.iterrows():
        if not math.isfinite(record["value"]):
            raise RunError(f"{path}: row {row + 2} column 'value': eval value {record['value']!r} is not finite")
        if record["eval_mode"] not in EVAL_MODES:
            raise RunError(
                f"{path}: row {row + 2} column 'eval_mode': {record['eval_mode']!r} is not one of {', '.join(EVAL_MODES)}"
            )
        if not (record["n_episodes"] >= 1):
            raise RunError(f"{path}: row {row + 2} column 'n_episodes': an eval row needs a positive episode count")
    return frame


def _refuse_duplicates(frame: pd.DataFrame, path: Path) -> None:
    """A run logs each metric once per env step; a repeated (step, metric) means two processes wrote one run."""
    repeated = frame[frame.duplicated(["step", "metric"], keep=False)]
    if repeated.empty:
        return
    first = repeated.iloc[0]
    rows = repeated[(repeated["step"] == first["step"]) & (repeated["metric"] == first["metric"])].index + 2
    n_keys = len(repeated.drop_duplicates(["step", "metric"]))
    raise RunError(
        f"{path}: duplicate rows for step {first['step']} metric {first['metric']!r} (rows "
        f"{', '.join(map(str, rows))}; {n_keys} (step, metric) pair(s) repeated in all): the run directory was written "
        "twice (two trainings at once?); delete it and train again"
    )


def read_run(run_dir: Path, expected_mode: str | None = None, min_steps: int | None = None) -> Run:
    """Read a finished run directory; raise RunError if it is incomplete, malformed or mixes eval modes."""
    run_dir = Path(run_dir)
    marker = run_dir / COMPLETED_FILE
    if not marker.is_file():
        raise RunError(f"{run_dir}: incomplete run (no COMPLETED marker); let it finish (training resumes) or remove it")
    metrics_path = run_dir / METRICS_FILE
    if not metrics_path.is_file():
        raise RunError(f"{run_dir}: malformed run (COMPLETED but no metrics.csv)")
    completed = _read_json(marker, "COMPLETED marker")
    metrics = read_metrics(metrics_path)
    if min_steps is not None:
        done = completed.get("env_steps", metrics["step"].max())
        if not isinstance(done, (int, float)) or done < min_steps:
            raise RunError(f"{run_dir}: incomplete run: trained {done} of {min_steps} env steps")
    modes = sorted(metrics.loc[metrics["metric"].str.startswith(EVAL_PREFIX), "eval_mode"].dropna().unique())
    if len(modes) > 1:
        raise RunError(f"{run_dir}: mixes eval modes ({', '.join(modes)}); one run must use one protocol")
    mode = modes[0] if modes else None
    if expected_mode is not None and mode is not None and mode != expected_mode:
        raise RunError(f"{run_dir}: eval mode {mode!r} but the suite asks for {expected_mode!r}")
    if mode is None:
        raise RunError(f"{run_dir}: no evaluation rows (metric eval/...) in metrics.csv")
    provenance_path = run_dir / PROVENANCE_FILE
    provenance = _read_json(provenance_path, "provenance") if provenance_path.is_file() else {}
    return Run(path=run_dir, metrics=metrics, completed=completed, provenance=provenance, eval_mode=mode)


def provenance_summary(run: Run) -> str:
    """A short provenance string for every row of the merged table: where the run is and which code made it."""
    prov = run.provenance
    git_info = prov["git"] if isinstance(prov.get("git"), dict) else {}
    git = prov.get("git_sha") or git_info.get("sha") or (prov.get("git") if isinstance(prov.get("git"), str) else None)
    dirty = prov.get("git_dirty", git_info.get("dirty"))
    git = git or "unknown"
    suffix = "+dirty" if dirty else ""
    return f"run={run.path.as_posix()}; git={git}{suffix}"
