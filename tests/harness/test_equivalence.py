"""Behaviour is pinned across refactors: two short runs (MARIE and MAPPO on SMAX 3m) must reproduce the metrics and
final weights recorded before the package was restructured (tests/data/equivalence/*.json).

Floating point results depend on the CPU (its vector ISA, and its model: MKL and oneDNN pick different kernels on
different CPUs with the same ISA; measured: MAPPO's loss rows differ between two AVX512 Xeon models) and on the
torch/JAX builds, so each golden file holds one record per platform, and a run is compared with the record of its
platform; elsewhere the test skips and says why. Records from before the CPU model was recorded have no ``cpu`` key
and stand for any CPU model without a record of its own.

Regenerate when behaviour is meant to change with ``python -m tests.harness.test_equivalence [marie|mappo]``: the
file then holds this machine's record only (the others are stale). ``--add`` keeps the other platforms' records (the
same behaviour recorded on one more machine).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from marie.runtime import cpu_model
from marie.training.run_dir import RunDirectory
from tests.conftest import has_module, run_marie

DATA = Path(__file__).resolve().parents[1] / "data" / "equivalence"
COMMON = ["--env", "smax", "--env_name", "3m", "--preset", "smoke", "--seed", "3", "--threads", "1",
          "--n_workers", "1", "--progress", "none"]  # fmt: skip
# MARIE: rounds every 100 steps from 300, world model from round 2, actor-critic from round 3, evals every 500.
RUNS = {
    "marie": ["train", "--algo", "marie", *COMMON, "--steps", "1200"],
    "mappo": ["train", "--algo", "mappo", *COMMON, "--steps", "1000"],
}
TIMING = ("/seconds", "/steps_per_s")  # wall-clock measurements differ between any two runs


def platform_keys() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu_model(),
        "jax": version("jax"),
        "jaxlib": version("jaxlib"),
        "jaxmarl": version("jaxmarl"),
    }


def golden_for(records: list[dict[str, Any]], here: dict[str, str]) -> dict[str, Any] | None:
    """The record of this platform: all its keys equal, ``cpu`` included; else a record without ``cpu`` (recorded
    before CPU models were) whose other keys are equal; else None."""
    exact = [r for r in records if r["platform"] == here]
    without_cpu = {key: value for key, value in here.items() if key != "cpu"}
    legacy = [r for r in records if "cpu" not in r["platform"] and r["platform"] == without_cpu]
    return (exact or legacy or [None])[0]


def _hash_leaves(node: Any, path: str, digest: "hashlib._Hash") -> None:
    """Every tensor and array of a (nested) state dict, in key order; other leaves (counters) skipped. MAPPO's
    pending episodes were Episode objects (skipped) when the values were recorded, and are skipped still."""
    if isinstance(node, dict):
        for key in sorted(node, key=str):
            if f"{path}/{key}" == "/pending":
                continue
            _hash_leaves(node[key], f"{path}/{key}", digest)
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _hash_leaves(item, f"{path}/{i}", digest)
    elif isinstance(node, torch.Tensor):
        digest.update(path.encode() + str(node.dtype).encode() + node.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(node, np.ndarray):
        digest.update(path.encode() + str(node.dtype).encode() + np.ascontiguousarray(node).tobytes())


def summarize(out: Path) -> dict[str, Any]:
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    evals = [[r["step"], r["metric"], r["value"], r["n_episodes"], r["eval_mode"]] for r in rows
             if r["metric"].startswith("eval/")]  # fmt: skip
    others = [(r["step"], r["metric"], r["value"]) for r in rows
              if not r["metric"].startswith("eval/") and not r["metric"].endswith(TIMING)]  # fmt: skip
    state = RunDirectory(out).load_checkpoint()["agent"]  # numpy arrays restored, as they were when recorded
    digest = hashlib.sha256()
    _hash_leaves(state, "", digest)
    return {
        "eval_rows": evals,
        "train_rows_sha256": hashlib.sha256(json.dumps(others).encode()).hexdigest(),
        "n_train_rows": len(others),
        "weights_sha256": digest.hexdigest(),
    }


def _run(name: str, out: Path) -> dict[str, Any]:
    result = run_marie(*RUNS[name], "--out-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return summarize(out)


@pytest.mark.skipif(not has_module("jaxmarl"), reason="jaxmarl not installed")
@pytest.mark.parametrize("name", list(RUNS))
def test_same_command_gives_the_recorded_metrics_and_weights(tmp_path, name):
    records = json.loads((DATA / f"{name}.json").read_text())
    here = platform_keys()
    golden = golden_for(records, here)
    if golden is None:
        pytest.skip(f"golden data recorded on {[r['platform'] for r in records]}, this machine has {here}")
    assert golden["command"] == RUNS[name]
    got = _run(name, tmp_path / name)
    assert got["eval_rows"] == golden["eval_rows"]
    assert got["n_train_rows"] == golden["n_train_rows"]
    assert got["train_rows_sha256"] == golden["train_rows_sha256"], "training/loss rows differ"
    assert got["weights_sha256"] == golden["weights_sha256"], "final agent state differs"


def test_a_run_is_compared_with_its_own_cpus_record_and_legacy_records_stand_for_the_others():
    base = {"torch": "2.13.0+cpu", "cpu_capability": "AVX512"}
    legacy, mine, other = ({"platform": base, "id": 0}, {"platform": base | {"cpu": "model 207"}, "id": 1},
                           {"platform": base | {"cpu": "model 106"}, "id": 2})  # fmt: skip
    assert golden_for([legacy, mine, other], base | {"cpu": "model 207"})["id"] == 1
    assert golden_for([legacy, other], base | {"cpu": "model 207"})["id"] == 0
    assert golden_for([mine, other], base | {"cpu": "model 143"}) is None
    assert golden_for([legacy], base | {"cpu": "x", "torch": "2.14"}) is None


if __name__ == "__main__":  # regenerate the golden files
    import tempfile

    add = "--add" in sys.argv[1:]
    for run_name in [a for a in sys.argv[1:] if a != "--add"] or list(RUNS):
        path = DATA / f"{run_name}.json"
        with tempfile.TemporaryDirectory() as tmp:
            record = {"command": RUNS[run_name], "platform": platform_keys()} | _run(run_name, Path(tmp) / run_name)
        kept = [r for r in json.loads(path.read_text()) if r["platform"] != record["platform"]] if add else []
        path.write_text(json.dumps([*kept, record], indent=1) + "\n")
        print(f"wrote {path} ({len(kept)} other platform record(s) kept)")
