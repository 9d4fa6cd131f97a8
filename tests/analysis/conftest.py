"""Fixtures for the analysis tests: synthetic run directories of a suite, collected into a tidy table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_runs import write_suite_runs  # noqa: E402

from analysis.collect import collect  # noqa: E402
from analysis.suite import load_suite  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PAPER_BASELINES = sorted((REPO / "results" / "baselines").glob("*.csv"))
# The suite the analysis tests fake runs for: a frozen copy, so that changing the default suite changes no test.
QUICK_SUITE = str(Path(__file__).parent / "data" / "quick.yaml")


@pytest.fixture(scope="session")
def quick_suite():
    return load_suite(QUICK_SUITE)


@pytest.fixture(scope="session")
def quick_metrics(tmp_path_factory, quick_suite) -> Path:
    """The quick suite's runs, synthetic, collected into metrics.csv."""
    root = tmp_path_factory.mktemp("quick")
    write_suite_runs(root, quick_suite)
    out = root / "metrics.csv"
    collect(root / "results" / "runs" / "quick", out, quick_suite)
    return out
