"""The web app under test: `stemdeck serve` on a free port with its own data folder, and
Debian's Chromium driven by Playwright (DESIGN.md §5; never `playwright install`).

Tests skip, saying why, when /usr/bin/chromium or the built app (frontend/dist, made by
scripts/build-frontend) is missing; CI has both.
"""

from __future__ import annotations

import base64
import contextlib
import mimetypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("STEMDECK_CHROMIUM", "/usr/bin/chromium"))
FRONTEND_DIST = ROOT / "frontend" / "dist"
#: The launch flags that work on these machines (DESIGN.md §5).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def skip_reason() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if not (FRONTEND_DIST / "index.html").is_file():
        return "the web app is not built (run scripts/build-frontend)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (scripts/bootstrap test)"
    return None


def require_browser() -> None:
    """Skip the calling test or fixture when Chromium or frontend/dist is missing."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)


@dataclass
class Stack:
    """A running `stemdeck serve`: its base URL, data folder and log."""

    url: str
    data: Path
    log: Path
    process: subprocess.Popen

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        logs = self.data / "logs"
        for path in sorted(logs.glob("*.log")) if logs.is_dir() else []:
            text += f"\n--- {path.name}\n" + path.read_text(errors="replace")[-chars:]
        return text[-chars * 3 :]


@contextlib.contextmanager
def serve(folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """`stemdeck serve` (API, workers and the built web app) in `folder`; stopped with Ctrl-C."""
    folder.mkdir(parents=True, exist_ok=True)
    data, port, log = folder / "data", free_port(), folder / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    env |= {"STEMDECK_MODEL_DIR": str(folder / "model-cache"), "STEMDECK_DEVICE": "cpu"}
    env |= extra_env or {}
    with log.open("w") as sink:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "stemdeck.cli.main", "serve"),
                *("--port", str(port), "--data", str(data)),
            ],
            env=env,
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, 120)
        yield Stack(f"http://127.0.0.1:{port}", data, log, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright `Browser`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


_DROP_SCRIPT = """([selector, files]) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, { type: f.type }));
  }
  const target = document.querySelector(selector);
  if (!target) throw new Error(`nothing matches ${selector}`);
  for (const type of ["dragenter", "dragover", "drop"]) {
    const init = { bubbles: true, cancelable: true, dataTransfer: transfer };
    target.dispatchEvent(new DragEvent(type, init));
  }
}"""


def drop_files(page: Any, paths: list[Path], selector: str = "[data-testid=dropzone]") -> None:
    """Drag and drop `paths` onto `selector` as a person would (a DataTransfer of Files)."""
    files = [
        {
            "name": path.name,
            "type": mimetypes.guess_type(path.name)[0] or "",
            "data": base64.b64encode(path.read_bytes()).decode(),
        }
        for path in paths
    ]
    page.evaluate(_DROP_SCRIPT, [selector, files])
