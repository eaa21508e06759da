"""Generate `frontend/src/api-schema.ts`, the web app's API types, from the server's OpenAPI
document (issue 24: one contract, written once, in the pydantic models behind the routes).

The document is the live app's `/openapi.json` (`create_app(...).openapi()`, on a throwaway
data folder), turned into TypeScript by openapi-typescript and formatted by the project's
Prettier (both pinned in `frontend/package.json`; run `npm ci` in `frontend/` first).

    .venv/bin/python frontend/scripts/api_types.py           # rewrite src/api-schema.ts
    .venv/bin/python frontend/scripts/api_types.py --check   # exit 1, with a diff, if stale

`tests/test_api_schema.py` runs the check, so a change to the API's models without a new
file fails the tests.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
TARGET = FRONTEND / "src" / "api-schema.ts"
HEADER = (
    "// GENERATED FILE - do not edit. The API's types, from its OpenAPI document\n"
    "// (services/common/results.py, services/api/views.py and the routes' models):\n"
    "//   .venv/bin/python frontend/scripts/api_types.py\n"
    "// tests/test_api_schema.py fails when this file is stale.\n\n"
)


def openapi_document() -> dict:
    """The OpenAPI document exactly as the running server serves it."""
    from stemdeck.api.app import create_app
    from stemdeck.common.settings import Settings

    with tempfile.TemporaryDirectory(prefix="stemdeck-openapi-") as folder:
        settings = Settings(data_dir=Path(folder) / "data", _env_file=None)
        return create_app(settings, frontend_dir=Path(folder) / "no-frontend").openapi()


def _tool(name: str) -> str:
    path = FRONTEND / "node_modules" / ".bin" / name
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `npm ci` in frontend/ first")
    return str(path)


def generate() -> str:
    """The text `src/api-schema.ts` must have."""
    with tempfile.TemporaryDirectory(prefix="stemdeck-api-types-") as folder:
        spec, raw = Path(folder) / "openapi.json", Path(folder) / "api-schema.ts"
        spec.write_text(json.dumps(openapi_document()))
        run = {"cwd": FRONTEND, "check": True, "capture_output": True, "text": True}
        subprocess.run([_tool("openapi-typescript"), str(spec), "-o", str(raw)], **run)
        text = HEADER + raw.read_text()
        pretty = subprocess.run(
            [_tool("prettier"), "--stdin-filepath", str(TARGET)], input=text, **run
        )
        return pretty.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    wanted = generate()
    current = TARGET.read_text() if TARGET.is_file() else ""
    if not args.check:
        TARGET.write_text(wanted)
        print(f"wrote {TARGET.relative_to(ROOT)}")
        return 0
    if current == wanted:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(keepends=True), wanted.splitlines(keepends=True),
        "committed", "generated",
    )  # fmt: skip
    sys.stdout.writelines(diff)
    print(f"{TARGET.relative_to(ROOT)} is stale: run this script without --check")
    return 1


if __name__ == "__main__":
    sys.exit(main())
