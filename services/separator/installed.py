"""Which separation models are installed here, what their cards say, and how fast they ran.

Bundled models live in services/separator/weights; pulled and imported ones in the model cache
(STEMDECK_MODEL_DIR, else the user's cache folder), each beside its card. This module needs
neither torch nor torchaudio: the API gateway lists and checks models with it
(`GET /v1/models`, `POST /v1/jobs`) without loading one.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stemdeck.common import artefacts
from stemdeck.common.artefacts import NAME, ArtefactKind, check_name
from stemdeck.common.atomic import atomic_write_text
from stemdeck.separator.cards import REMOTE, Card, read_card

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = artefacts.DEFAULT
SUFFIX = ".pt"
#: Real-time factors the worker measured here, one small JSON file per model.
MEASURED_DIR = "measured"

#: The download URL of every model `pull` knows (its card is `cards.REMOTE[name].card`).
REMOTE_MODELS: dict[str, str] = {name: entry.url for name, entry in REMOTE.items()}


#: Where an installed model came from: shipped with the package, `pull`ed, or imported.
Origin = Literal["bundled", "pulled", "imported"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    origin: Origin
    path: Path
    shadowed: bool = False  # a cached model of the same name is used instead


def kind() -> ArtefactKind:
    """The separator as a model kind of the shared artefact layer (`common/artefacts.py`).
    BUNDLED_DIR is read on each call, so a packager or a test can point it elsewhere. Pulled
    and imported files sit at the top of the cache, as they always have."""
    return ArtefactKind("separator", "separation", BUNDLED_DIR, "", DEFAULT_MODEL, SUFFIX)


def cache_dir() -> Path:
    """The user's model cache; STEMDECK_MODEL_DIR overrides it (tests, shared servers)."""
    return kind().cache_dir()


def list_models() -> list[ModelEntry]:
    """Bundled models first, then those in the cache, each with where it came from; a bundled
    model overridden by a cached one of the same name is marked `shadowed`."""
    entries = []
    for entry in artefacts.list_artefacts(kind()):
        origin: Origin = "bundled"
        if entry.origin == "cache":
            origin = "pulled" if entry.name in REMOTE_MODELS else "imported"
        entries.append(ModelEntry(entry.name, origin, entry.path, entry.shadowed))
    return entries


def default_entry(entries: list[ModelEntry] | None = None) -> ModelEntry | None:
    """What `default` runs: a model named `default` (cached before bundled), else the first
    model the user has."""
    entries = [e for e in (list_models() if entries is None else entries) if not e.shadowed]
    named = [e for e in entries if e.name == DEFAULT_MODEL]
    named.sort(key=lambda e: e.origin == "bundled")
    candidates = named or entries
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class InstalledModel:
    """One installed model with its card, as `GET /v1/models` reports it."""

    name: str
    origin: Origin
    path: Path
    card: Card | None
    size_bytes: int
    measured: dict[str, Any] | None
    default: bool


def installed_models() -> list[InstalledModel]:
    """Every installed model with its card and the speed measured here (torch-free); a
    bundled model hidden by a cached one of the same name is left out, since jobs naming it
    run the cached one."""
    entries = [e for e in list_models() if not e.shadowed]
    chosen = default_entry(entries)
    out = []
    for entry in entries:
        try:
            size = entry.path.stat().st_size
        except OSError:
            continue
        out.append(
            InstalledModel(
                entry.name,
                entry.origin,
                entry.path,
                read_card(entry.path),
                size,
                measured_speed(entry.name),
                chosen is not None and entry.name == chosen.name,
            )
        )
    return out


def _measured_path(name: str) -> Path:
    return cache_dir() / MEASURED_DIR / f"{check_name(name)}.json"


def record_speed(name: str, rtf: float, device: str, audio_s: float) -> None:
    """Remember the real-time factor a job just measured for an installed model (best effort:
    a read-only cache only loses the figure)."""
    if not NAME.match(name):
        return  # a path, not an installed model's name
    path = _measured_path(name)
    record = {"rtf": round(rtf, 4), "device": device, "audio_s": round(audio_s, 1)}
    record["measured_at"] = time.time()
    with contextlib.suppress(OSError):
        atomic_write_text(path, json.dumps(record))


def measured_speed(name: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_measured_path(name).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
