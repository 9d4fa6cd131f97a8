"""Drop-in baselines: CSV files in results/baselines/ in one tidy schema, validated on load.

Required columns: method, env, map, seed, step, metric, value, provenance.
Optional columns: spread, n_seeds, eval_mode, simulator.
- A per-seed row has a seed: curves (several steps) or a final value (one step). It enters figures, tables and the
  bootstrap statistics like the suite's own runs.
- A summary row has an empty seed: a published centre `value` with its `spread`, `n_seeds` and the budget in `step`.
  It enters tables only (as "reported"), never the bootstrap statistics.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from analysis.labels import BOUNDED_METRICS, ENV_LABELS
from marie.contract import EVAL_MODES

REQUIRED = ["method", "env", "map", "seed", "step", "metric", "value", "provenance"]
OPTIONAL = ["spread", "n_seeds", "eval_mode", "simulator"]


class BaselineError(ValueError):
    """A baseline CSV that does not follow the schema; the message names file, row and column."""


def _fail(path: Path, row: int, column: str, message: str) -> None:
    raise BaselineError(f"{path}: row {row + 2} column {column!r}: {message}")


def _number(path: Path, row: int, column: str, text: str, *, integer: bool = False, minimum: float | None = None):
    try:
        value = float(text)
    except ValueError:
        _fail(path, row, column, f"{text!r} is not a number")
    if not math.isfinite(value):
        _fail(path, row, column, f"{text!r} is not finite")
    if integer and value != int(value):
        _fail(path, row, column, f"{text!r} is not a whole number")
    if minimum is not None and value < minimum:
        _fail(path, row, column, f"{text!r} is below {minimum:g}")
    return int(value) if integer else value


def load_baseline(path: str | Path) -> pd.DataFrame:
    """Load and validate one baseline CSV; returns the rows with typed columns plus `file` and `summary`."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: malformed CSV ({str(error).splitlines()[0]})") from None
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise BaselineError(f"{path}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED)}")
    unknown = [c for c in raw.columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise BaselineError(
            f"{path}: unknown column {unknown[0]!r}; valid columns: {', '.join(REQUIRED + OPTIONAL)}"
        )
    rows = []
    for i, rec in enumerate(raw.to_dict("records")):
        rec = {k: str(v).strip() for k, v in rec.items()}
        for column in ("method", "env", "map", "step", "metric", "value", "provenance"):
            if not rec[column]:
                _fail(path, i, column, "is empty")
        if rec["env"] not in ENV_LABELS:
            _fail(path, i, "env", f"{rec['env']!r} is not one of {', '.join(ENV_LABELS)}")
        summary = rec["seed"] == ""
        row = {
            "method": rec["method"],
            "env": rec["env"],
            "map": rec["map"],
            "seed": None if summary else _number(path, i, "seed", rec["seed"], integer=True, minimum=0),
            "step": _number(path, i, "step", rec["step"], integer=True, minimum=0),
            "metric": rec["metric"],
            "value": _number(path, i, "value", rec["value"]),
            "provenance": rec["provenance"],
            "spread": None,
            "n_seeds": None,
            "eval_mode": rec.get("eval_mode") or None,
            "simulator": rec.get("simulator") or None,
            "summary": summary,
            "file": path.name,
        }
        if row["metric"] in BOUNDED_METRICS and not 0.0 <= row["value"] <= 1.0:
            _fail(path, i, "value", f"{rec['value']} is outside [0, 1] ({row['metric']} is a fraction, not percent)")
        if rec.get("spread"):
            if not summary:
                _fail(path, i, "spread", "only summary rows (empty seed) carry a spread; per-seed rows are raw values")
            row["spread"] = _number(path, i, "spread", rec["spread"], minimum=0)
        if rec.get("n_seeds"):
            row["n_seeds"] = _number(path, i, "n_seeds", rec["n_seeds"], integer=True, minimum=1)
        if row["eval_mode"] is not None and row["eval_mode"] not in EVAL_MODES:
            _fail(path, i, "eval_mode", f"{row['eval_mode']!r} is not one of {', '.join(EVAL_MODES)}")
        rows.append(row)
    if not rows:
        raise BaselineError(f"{path}: no rows")
    frame = pd.DataFrame(rows)
    duplicated = frame.duplicated(["method", "env", "map", "seed", "step", "metric"], keep=False)
    if duplicated.any():
        i = int(duplicated.idxmax())
        _fail(path, i, "step", "duplicate row for the same method, env, map, seed, step and metric")
    return frame


def load_baselines(paths: list[str | Path]) -> pd.DataFrame:
    frames = [load_baseline(p) for p in paths]
    if not frames:
        return pd.DataFrame(columns=REQUIRED + OPTIONAL + ["summary", "file"])
    with warnings.catch_warnings():
        # optional columns may be all-empty in one file; their dtype then comes from the others
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(frames, ignore_index=True)
