"""Type-check services/ with mypy as the package it installs as (stemdeck).

Why a script and not a bare `mypy services`: pyproject's package-dir maps services/ to `stemdeck`
(and training/ to `stemdeck.training`), and every module imports its siblings as `stemdeck.*`.
mypy cannot follow setuptools' editable-install finder, so checked as `services.*` none of those
imports would resolve. This builds a tree of symlinks under build/typecheck/ laid out as the
installed package (from the same package-dir table), checks the files of services/ through it and
prints mypy's report with the real paths. Settings live in pyproject's [tool.mypy].

    .venv/bin/python scripts/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"  # /build/ is ignored by git; mypy_path in [tool.mypy] names it
CHECKED = "stemdeck"  # the package whose own sources (services/) are checked


def package_dirs() -> dict[str, Path]:
    """The package -> source directory table that setuptools installs from."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    table: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {name: ROOT / src for name, src in table.items()}


def build_tree(dirs: dict[str, Path]) -> None:
    """Lay the packages out under TREE by their import names, each entry a symlink to its source.

    A package with a separately mapped subpackage (stemdeck holds stemdeck.training) becomes a real
    directory of per-entry links, so the subpackage's link can sit beside them.
    """
    shutil.rmtree(TREE, ignore_errors=True)
    for name in sorted(dirs):
        dest = TREE.joinpath(*name.split("."))
        if any(other.startswith(name + ".") for other in dirs):
            dest.mkdir(parents=True)
            for entry in dirs[name].iterdir():
                if entry.name != "__pycache__":
                    (dest / entry.name).symlink_to(entry)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.is_symlink():
                dest.unlink()
            dest.symlink_to(dirs[name])


def checked_files(dirs: dict[str, Path]) -> list[str]:
    """The tree paths of every .py file in the checked package's own source directory."""
    source, base = dirs[CHECKED], TREE / CHECKED
    return sorted(
        os.path.relpath(base / path.relative_to(source), ROOT) for path in source.rglob("*.py")
    )


def real_paths(report: str, dirs: dict[str, Path]) -> str:
    """mypy names the tree's paths; put the source directories' paths back (deepest first)."""
    for name in sorted(dirs, key=len, reverse=True):
        linked = os.path.relpath(TREE.joinpath(*name.split(".")), ROOT) + os.sep
        report = report.replace(linked, os.path.relpath(dirs[name], ROOT) + os.sep)
    return report


def main(argv: list[str]) -> int:
    dirs = package_dirs()
    build_tree(dirs)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *argv, *checked_files(dirs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    sys.stdout.write(real_paths(result.stdout, dirs))
    sys.stderr.write(real_paths(result.stderr, dirs))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
