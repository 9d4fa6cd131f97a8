"""The pytest-timeout of the real smoke run covers its own step limits, and a marker beats pyproject's --timeout."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import test_workflow_e2e as e2e
from workflow_helpers import REPO


def _default_timeout() -> int:
    addopts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    return int(re.search(r"--timeout[= ](\d+)", addopts).group(1))


def test_smoke_run_is_not_cut_short_by_pytest():
    marks = [m for m in e2e.test_smoke_suite_for_real.pytestmark if m.name == "timeout"]
    assert len(marks) == 1
    limit = marks[0].args[0]
    assert limit > e2e.SMOKE_TRAIN_S + e2e.SMOKE_DRY_RUN_S + e2e.SMOKE_REPORT_S
    assert limit > _default_timeout()


def test_a_timeout_marker_overrides_the_command_line_timeout(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_sleep.py").write_text(
        "import time, pytest\n\n"
        "@pytest.mark.timeout(60)\n"
        "def test_marked():\n    time.sleep(3)\n\n"
        "def test_unmarked():\n    time.sleep(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout=1", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "1 failed, 1 passed" in result.stdout, result.stdout[-2000:]
    assert "FAILED test_sleep.py::test_unmarked" in result.stdout
