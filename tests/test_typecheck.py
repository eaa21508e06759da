"""services/ type-checks clean with mypy (issue 24): the settings are pyproject's [tool.mypy],
the run is scripts/typecheck.py (it checks services/ as the `stemdeck` package it installs as)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # a minute from a cold mypy cache

ROOT = Path(__file__).resolve().parents[1]


def test_services_type_check_clean() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (the `test` extra pins it: scripts/bootstrap test)")
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "typecheck.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, f"mypy is not clean over services/:\n{run.stdout}{run.stderr}"
