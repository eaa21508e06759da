"""The web app's own checks, run by CI through pytest: vitest (unit tests of its DOM-free
modules), ESLint and Prettier (`npm test`, `npm run lint`, `npm run format:check` in
frontend/). The strict TypeScript check runs in `npm run build` (scripts/build-frontend).

They skip, saying why, without npm or frontend/node_modules (scripts/build-frontend installs
it; scripts/bootstrap runs that); CI has both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.unit, pytest.mark.slow]  # a few seconds each (npm and node start-up)

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"


def run_npm_script(script: str) -> None:
    """Run `npm run <script>` in frontend/ and fail with its output when it fails."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (install Node 20.19+)")
    if not (FRONTEND / "node_modules" / ".package-lock.json").is_file():
        pytest.skip("frontend/node_modules is missing (run scripts/build-frontend)")
    done = subprocess.run(
        [npm, "run", "--silent", script],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CI": "1", "NO_COLOR": "1", "FORCE_COLOR": "0"},
    )
    assert done.returncode == 0, f"npm run {script} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("test", id="vitest"),
        pytest.param("lint", id="eslint"),
        pytest.param("format:check", id="prettier"),
    ],
)
def test_frontend_check_passes(script: str) -> None:
    run_npm_script(script)
