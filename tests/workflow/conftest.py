"""Fixtures for the workflow tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_helpers import copy_workflow


@pytest.fixture(scope="session")
def workflow_copy(tmp_path_factory) -> Path:
    """A read-mostly copy for dry-runs and lint."""
    return copy_workflow(tmp_path_factory.mktemp("workflow"))
