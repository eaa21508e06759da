"""Where model artefacts are found, the same way for every model kind.

Three kinds of model ship with StemDeck - separator (`.pt` files), Auto-EQ (`.pt` files) and
genre (folders) - and each can also live in the user's model cache. A model is named on the
command line, in a job or in a setting by a name or by a path, and every kind resolves it in
one order:

1. an explicit path - a `Path` object, or text with a folder separator or a leading `~`:
   exactly that file or folder, nothing else;
2. a model of that name in the user cache (STEMDECK_MODEL_DIR, else the platform's cache
   folder): what the user pulled or imported overrides what ships;
3. a bundled model of that name;
4. only then, a bare word that names no model is tried as a path relative to the working
   directory (`--model my.th`), so a stray `./default` never hides the bundled default.

This module needs neither torch nor TensorFlow: the API gateway lists models with it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: Names of installed models: what a cache file or folder may be called.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: What a caller that names no model gets; each kind says which model that is.
DEFAULT = "default"


class ArtefactNotFoundError(LookupError):
    """No model by that name or path; the message says what was looked for."""


@dataclass(frozen=True)
class ArtefactKind:
    """One kind of model and where its artefacts live.

    `suffix` is the file ending of file models (".pt"); folder models have none and are
    recognised by holding one of `markers`. `cache_subdir` is the kind's folder in the cache
    ("" for the separator, whose pulled files have always sat at the cache's top level).
    """

    name: str
    label: str  # for messages: "separation", "Auto-EQ", "genre"
    bundled_dir: Path
    cache_subdir: str
    default: str = DEFAULT  # the model `default` means when no model is named "default"
    suffix: str = ".pt"
    markers: tuple[str, ...] = ()

    @property
    def folders(self) -> bool:
        return not self.suffix

    def cache_dir(self) -> Path:
        return cache_root() / self.cache_subdir if self.cache_subdir else cache_root()

    def holds_model(self, path: Path) -> bool:
        """Whether `path` is an artefact of this kind by its shape (not by its contents)."""
        if self.folders:
            return path.is_dir() and any((path / m).is_file() for m in self.markers)
        return path.is_file() and path.name.endswith(self.suffix)


@dataclass(frozen=True)
class ArtefactEntry:
    """An installed model. `shadowed`: a cached model of the same name is used instead."""

    name: str
    origin: str  # "bundled" or "cache"
    path: Path
    shadowed: bool = False


def cache_root() -> Path:
    """The user's model cache; STEMDECK_MODEL_DIR overrides it (servers, tests). The name is
    spelled out here, where it is read, so tests/test_deploy.py finds every variable read."""
    override = os.environ.get("STEMDECK_MODEL_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("stemdeck")) / "models"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"model name {name!r} must be letters, digits, '_', '-' or '.'")
    return name


def _entries_in(kind: ArtefactKind, folder: Path, origin: str) -> list[ArtefactEntry]:
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        name = path.name[: -len(kind.suffix)] if kind.suffix else path.name
        if NAME.match(name) and kind.holds_model(path):
            found.append(ArtefactEntry(name, origin, path))
    return found


def list_artefacts(kind: ArtefactKind) -> list[ArtefactEntry]:
    """Bundled models first, then cached ones, each by name; a bundled model that a cached
    one of the same name overrides is kept in the list, marked `shadowed`."""
    cached = _entries_in(kind, kind.cache_dir(), "cache")
    names = {e.name for e in cached}
    bundled = [
        ArtefactEntry(e.name, e.origin, e.path, e.name in names)
        for e in _entries_in(kind, kind.bundled_dir, "bundled")
    ]
    return bundled + cached


def in_effect(entries: list[ArtefactEntry]) -> list[ArtefactEntry]:
    """The entries a name resolves to (the shadowed ones left out)."""
    return [e for e in entries if not e.shadowed]


def find(entries: list[ArtefactEntry], name: str) -> ArtefactEntry | None:
    """The entry a name means: a cached model before a bundled one."""
    named = [e for e in entries if e.name == name and not e.shadowed]
    named.sort(key=lambda e: e.origin != "cache")
    return named[0] if named else None


def default_of(kind: ArtefactKind, entries: list[ArtefactEntry]) -> ArtefactEntry | None:
    """The installed model that `default` (or no name) means, if any."""
    return find(entries, DEFAULT) or find(entries, kind.default)


def is_explicit_path(name_or_path: str | Path) -> bool:
    """A Path, or text that can only be a path: it holds a folder separator or starts with ~."""
    if isinstance(name_or_path, Path):
        return True
    separators = {os.sep, "/", *([os.altsep] if os.altsep else [])}
    return any(s in name_or_path for s in separators) or name_or_path.startswith("~")


def _checked_path(kind: ArtefactKind, path: Path, shown: str) -> Path:
    if kind.folders:
        if path.is_dir():
            return path
        if path.exists():
            raise ArtefactNotFoundError(f"model path '{shown}' is a file, not a model folder")
        raise ArtefactNotFoundError(f"model folder '{shown}' does not exist")
    if path.is_file():
        return path
    if path.is_dir():
        raise ArtefactNotFoundError(f"model path '{shown}' is a folder, not a model file")
    raise ArtefactNotFoundError(f"model file '{shown}' does not exist")


def resolve(kind: ArtefactKind, name_or_path: str | Path | None) -> Path:
    """The file or folder behind a model name or path, in the order the module describes.
    ArtefactNotFoundError says what is installed when nothing matches."""
    wanted = DEFAULT if name_or_path is None or name_or_path == "" else name_or_path
    if is_explicit_path(wanted):
        return _checked_path(kind, Path(wanted).expanduser(), str(wanted))
    entries = in_effect(list_artefacts(kind))
    found = default_of(kind, entries) if wanted == DEFAULT else find(entries, str(wanted))
    if found is not None:
        return found.path
    local = Path(wanted)
    if wanted != DEFAULT and local.exists():  # a bare name in the working directory, last
        return _checked_path(kind, local, str(wanted))
    if local.suffix and not kind.folders:
        raise ArtefactNotFoundError(f"model file '{wanted}' does not exist")
    names = ", ".join(sorted({e.name for e in entries})) or "none"
    raise ArtefactNotFoundError(f"unknown model '{wanted}' (installed: {names})")
