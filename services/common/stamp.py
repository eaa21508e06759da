"""What every newly saved model file says about itself: its format, the format's version, and
the software that wrote it.

The format name and version tell a reader whether it can read the file (a newer version is
refused with a clear message); the software versions tell a person what produced it when a model
behaves differently after an upgrade. Files written before the stamp existed have none and
still load: readers treat the stamp as optional.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

#: The top-level key under which the software versions are stored.
SOFTWARE_KEY = "software"


def package_version(name: str) -> str | None:
    """The running module's own version when it is imported (torch's says which CUDA build,
    `2.14.1+cu130`, where its distribution says `2.14.1`), else the installed distribution's."""
    module = sys.modules.get(name)
    found = getattr(module, "__version__", None)
    if isinstance(found, str):
        return str(found)  # a plain str: torch's TorchVersion would not pass weights_only loading
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def software_versions(*packages: str) -> dict[str, str]:
    """StemDeck's and Python's versions, plus those of `packages` that are installed."""
    versions = {"stemdeck": package_version("stemdeck") or "unknown"}
    versions["python"] = platform.python_version()
    for name in packages:
        found = package_version(name)
        if found is not None:
            versions[name] = found
    return versions


def stamp(format_name: str, version: int, *packages: str) -> dict[str, Any]:
    """The header of a new model file: {"format", "version", "software"}."""
    return {
        "format": format_name,
        "version": version,
        SOFTWARE_KEY: software_versions(*packages),
    }


class NewerFormatError(ValueError):
    """A file written by a newer StemDeck than this one."""


def check_version(header: dict[str, Any], format_name: str, supported: int, name: str) -> None:
    """Refuse a file of `format_name` whose version is newer than `supported`; a file without
    a version (written before versions were stamped) is accepted."""
    version = header.get("version", 0)
    if header.get("format") == format_name and isinstance(version, int) and version > supported:
        raise NewerFormatError(
            f"'{name}' was written by a newer StemDeck (format v{version}); upgrade to read it"
        )
